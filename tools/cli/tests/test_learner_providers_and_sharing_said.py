"""`lrs learners sharing ULN CHOICE` says no more than a change does (it reaches the PLR service moments later), and
`lrs learners providers ULN` shows who is linked to the learner, so who reads their PLR while they share."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_cli import admin_commands
from lrs_cli.admin_commands import Sharing, change_sharing, sharing_text
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN = "1000000043"


class _Validation:
    sandpit = False

    def __init__(self, status: int, answer: dict[str, Any] | None = None) -> None:
        self.status, self.answer = status, answer
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "validation"
        return httpx.Client(base_url="http://validation", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(self.status, json=self.answer) if self.answer else httpx.Response(self.status)


def test_an_opt_out_is_said_to_stop_providers_once_the_plr_service_has_applied_it() -> None:
    said = change_sharing(_Validation(204), ULN, Sharing.UNABLE)  # type: ignore[arg-type]

    assert said == (
        f"learner {ULN} has stopped sharing their PLR: within a few seconds, no learning provider can see it. The"
        " learner still sees all of it, and each awarding organisation sees the results it recorded"
    )


def test_an_opt_out_shown_says_the_learner_not_the_providers_still_sees_the_plr() -> None:
    said = sharing_text({"uln": ULN, "ability_to_share": 2, "changes": []})

    assert said.splitlines()[0] == (
        f"learner {ULN} does not share their PLR: no learning provider can see it. The learner still sees all of it,"
        " and each awarding organisation sees the results it recorded"
    )


@pytest.mark.parametrize("choice", [Sharing.SHARES, Sharing.NOT_SEEN])
def test_sharing_again_is_said_to_take_effect_once_applied_too(choice: Sharing) -> None:
    said = change_sharing(_Validation(204), ULN, choice)  # type: ignore[arg-type]

    assert said.endswith("learning providers linked to them can see their PLR within a few seconds") or said.endswith(
        "learning providers linked to them can see it within a few seconds"
    )


def test_providers_shows_each_linked_provider_since_when(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    view = {
        "uln": ULN,
        "providers": [
            {"ukprn": "10004567", "linked_since": "2026-11-02T08:30:00.5Z"},
            {"ukprn": "10001234", "linked_since": "2026-12-04T15:01:02Z"},
        ],
    }
    validation = _Validation(200, view)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)

    assert main(["learners", "providers", ULN]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        f"providers linked to learner {ULN} (they read their PLR while they share):",
        "  10004567  since 2 Nov 2026, 08:30 (UK time)",
        "  10001234  since 4 Dec 2026, 15:01 (UK time)",
    ]
    assert (validation.sent[0].method, validation.sent[0].url.path) == ("GET", f"/v1/learners/{ULN}/providers")


def test_providers_says_when_none_is_linked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: _Validation(200, {"uln": ULN, "providers": []}))

    assert main(["learners", "providers", ULN]) == ExitCode.OK

    assert capsys.readouterr().out.strip() == f"no provider is linked to learner {ULN}: none reads their PLR"
