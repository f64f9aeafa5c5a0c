"""`lrs learners correct ULN --family-name .. --reason ..` corrects a learner's details as the same person through
validation's correction route, and says which fields changed under which ULNs, never the values; it refuses, before
asking, a correction with no detail or no reason. `lrs learners corrections ULN` lists the corrections, newest first,
as the other audits are listed (a table, --json, pages)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN, MERGED = "1000000043", "7770000016"
DONE = {
    "rectification_id": "6a0c1f7e-8f49-4a52-9a39-3b1a7f0e8d11",
    "ulns": [ULN, MERGED],
    "fields": ["given_name", "family_name"],
    "reason": "SAR-2026-117",
    "corrected_by": "operator:dpo",
    "corrected_with_key": "k-1",
    "corrected_at": "2026-12-08T09:00:00Z",
}


class _Validation:
    sandpit = False

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "validation"
        return httpx.Client(base_url="http://validation", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json=self.answer)


def test_a_correction_says_the_fields_and_ulns_and_never_the_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = _Validation(DONE)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)

    code = main(
        ["learners", "correct", ULN, "--given-name", "Siobhán", "--family-name", "O'Connor", "--reason", "SAR-2026-117"]
    )

    assert code == ExitCode.OK
    said = capsys.readouterr().out
    assert (
        said.split()
        == (
            f"corrected the given name, family name of learner {ULN} under 2 ULNs ({ULN}, {MERGED}): every provider link"
            f" and API key of theirs kept; recorded as correction {DONE['rectification_id']} (`lrs learners corrections"
            f" {ULN}`)"
        ).split()
    )
    assert "Siobhán" not in said and "O'Connor" not in said
    [sent] = validation.sent
    assert (sent.method, sent.url.path) == ("POST", f"/v1/admin/learners/{ULN}/correction")
    assert json.loads(sent.content) == {"given_name": "Siobhán", "family_name": "O'Connor", "reason": "SAR-2026-117"}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--reason", "SAR-1"], "give at least one of --given-name"),
        (["--gender", "2", "--reason", "   "], "--reason says why"),
    ],
    ids=["no detail", "blank reason"],
)
def test_a_correction_with_no_detail_or_no_reason_is_refused_before_validation_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], arguments: list[str], said: str
) -> None:
    validation = _Validation(DONE)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)

    code = main(["learners", "correct", ULN, *arguments])

    assert code == ExitCode.USAGE
    assert said in " ".join(capsys.readouterr().err.split())
    assert validation.sent == []


def test_the_corrections_are_listed_with_when_which_fields_by_whom_and_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = _Validation({"uln": ULN, "ulns": [ULN, MERGED], "erased": False, "corrections": [DONE], "next": None})
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["learners", "corrections", ULN]) == ExitCode.OK

    shown = capsys.readouterr().out
    for part in ("8 Dec 2026, 09:00", f"{ULN}, {MERGED}", "given name, family name", "operator:dpo", "SAR-2026-117"):
        assert part in shown
    [sent] = validation.sent
    assert sent.url.path == f"/v1/admin/learners/{ULN}/corrections"

    assert main(["learners", "corrections", ULN, "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == [DONE]
