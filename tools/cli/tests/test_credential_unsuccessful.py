"""`lrs plr credential --include-unsuccessful` asks the projector for the results not achieved too (U, Fail, as
Failed); without it the credential holds only what was achieved, as the projector answers by default."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli import plr_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main


class Projector:
    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://plr-projector", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(dict(request.url.params))
        return httpx.Response(200, json={"achievements": 1, "jwks_uri": "http://plr-projector/.well-known/jwks.json"})


@pytest.mark.parametrize(
    ("flags", "asked"), [((), {}), (("--include-unsuccessful",), {"include_unsuccessful": "true"})]
)
def test_results_not_achieved_are_asked_for_only_with_the_flag(
    flags: tuple[str, ...], asked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    projector = Projector()
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(plr_commands, "connection", lambda ctx: projector)

    assert main(["plr", "credential", "1000000043", *flags]) == ExitCode.OK
    assert projector.asked == [asked]
