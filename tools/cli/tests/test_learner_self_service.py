"""What a learner (or a provider acting for them) does without curl: `lrs learners sharing` records whether
providers may read the PLR, `lrs plr show` says what was chosen, `lrs plr credential` exports the signed PLR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from lrs_cli import admin_commands, plr_commands
from lrs_cli.admin_commands import Sharing, change_sharing
from lrs_cli.client import ExitCode
from lrs_cli.credential_commands import read_token
from lrs_cli.main import main
from lrs_cli.plr_commands import plr_table

ULN = "1000000043"


class _Service:
    """One service answering as the real one does, noting what was sent."""

    sandpit = False

    def __init__(self, name: str, status: int, answer: dict[str, Any] | None = None) -> None:
        self.name, self.status, self.answer = name, status, answer
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == self.name
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(self.status, json=self.answer) if self.answer else httpx.Response(self.status)


@pytest.mark.parametrize(("choice", "code"), [(Sharing.UNABLE, 2), (Sharing.SHARES, 1), (Sharing.NOT_SEEN, 0)])
def test_sharing_sends_the_choices_number_and_says_what_it_means(choice: Sharing, code: int) -> None:
    validation = _Service("validation", 204)

    said = change_sharing(validation, ULN, choice)  # type: ignore[arg-type]

    (sent,) = validation.sent
    assert (sent.method, sent.url.path, json.loads(sent.content)) == (
        "POST",
        f"/v1/learners/{ULN}/sharing",
        {"ability_to_share": code},
    )
    assert said.startswith(f"learner {ULN} ") and f"{code} (" not in said


def test_a_choice_that_is_not_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["learners", "sharing", ULN, "2"]) == ExitCode.USAGE
    assert "the choice must be one of not-seen, shares, unable, not '2'" in capsys.readouterr().err


def _shown(document: dict[str, Any]) -> str:
    console = Console(width=200, record=True)
    for part in plr_table(document):
        console.print(part)
    return console.export_text()


def test_the_plr_says_whether_providers_may_read_it_where_the_caller_is_told() -> None:
    opted_out = _shown({"uln": ULN, "ability_to_share": 2, "learning_events": []})
    assert "sharing with learning providers: no, the learner is unable to share" in opted_out
    assert "sharing with learning providers" not in _shown(
        {"uln": ULN, "ability_to_share": None, "learning_events": []}
    )


def test_the_credential_is_written_where_asked_as_verify_reads_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {
        "format": "vc+jwt",
        "credential": "aGVhZGVy.cGF5bG9hZA.c2ln",
        "credential_id": "urn:uuid:0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80",
        "kid": "https://lrs.example/.well-known/jwks.json#k1",
        "jwks_uri": "https://lrs.example/.well-known/jwks.json",
        "achievements": 1,
    }
    projector = _Service("plr_projector", 200, answer)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(plr_commands, "connection", lambda ctx: projector)
    target = tmp_path / "plr.json"

    assert main(["plr", "credential", ULN, "--output", str(target)]) == ExitCode.OK

    assert json.loads(target.read_text(encoding="utf-8")) == answer
    assert projector.sent[0].url.path == f"/v1/learners/{ULN}/plr/credential"
    said = capsys.readouterr().err
    assert f"(1 achievement) to {target}" in said and "https://lrs.example/.well-known/jwks.json" in said
    assert read_token(target) == answer["credential"]


def test_sharing_without_a_choice_shows_it_and_who_changed_it_when(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    view = {
        "uln": ULN,
        "ability_to_share": 1,
        "changes": [
            {"ability_to_share": 1, "changed_by": "a learning provider linked to the learner",
             "changed_at": "2026-12-04T15:01:02.123456Z"},
            {"ability_to_share": 2, "changed_by": "you", "changed_at": "2026-12-01T09:00:00Z"},
        ],
    }  # fmt: skip
    validation = _Service("validation", 200, view)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)

    assert main(["learners", "sharing", ULN]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        f"learner {ULN} shares their PLR: learning providers linked to them can see it",
        '  4 Dec 2026, 15:01 (UK time)  set to "sharing" by a learning provider linked to the learner',
        '  1 Dec 2026, 09:00 (UK time)  set to "not sharing" by you',
    ]
    assert (validation.sent[0].method, validation.sent[0].url.path) == ("GET", f"/v1/learners/{ULN}/sharing")


def test_sharing_says_when_older_changes_are_kept_than_those_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    change = {"ability_to_share": 2, "changed_by": "you", "changed_at": "2026-12-01T09:00:00Z"}
    validation = _Service(
        "validation", 200, {"uln": ULN, "ability_to_share": 2, "changes": [change] * 50, "more": True}
    )
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)

    assert main(["learners", "sharing", ULN]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines()[-1] == "  and older changes: only the latest 50 are shown"
