"""Literal walk, finding 7: `lrs learners sharing ULN unable` sent twice said "is now 2 … once the PLR service has
applied the change" the second time too, though the repeat changed and recorded nothing. Validation answers a repeat
200 with `changed: false` (a change 204), and the command then says the choice is already so: nothing changed,
exit 0, as `lrs learners merge` says of a merge made before."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli import admin_commands
from lrs_cli.main import main

ULN = "1000000043"


class _Validation:
    sandpit = False

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "validation"
        return httpx.Client(base_url="http://validation", transport=httpx.MockTransport(lambda request: self.answer))


def _sharing(answer: httpx.Response, choice: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: _Validation(answer))
    return main(["learners", "sharing", ULN, choice])


@pytest.mark.parametrize(
    ("choice", "code", "said"),
    [
        ("unable", 2, "already does not share their PLR"),
        ("shares", 1, "already shares their PLR"),
        ("not-seen", 0, "is already marked as not having seen the privacy notice"),
    ],
)
def test_the_choice_sent_again_is_said_already_so_nothing_changed(
    choice: str, code: int, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repeat = httpx.Response(200, json={"uln": ULN, "ability_to_share": code, "changed": False})

    assert _sharing(repeat, choice, monkeypatch) == 0

    out, err = capsys.readouterr()
    assert " ".join(out.split()) == f"learner {ULN} {said}: nothing changed"
    assert err == ""


def test_a_change_is_still_said_to_take_effect_once_applied(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _sharing(httpx.Response(204), "unable", monkeypatch) == 0

    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"learner {ULN} has stopped sharing their PLR: within a few seconds, no learning provider")
    assert "ability to share" not in out and "(unable" not in out
