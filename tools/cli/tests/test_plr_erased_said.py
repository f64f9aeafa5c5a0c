"""An operator's `lrs plr show` of an erased learner says so in place of the sharing line, with the day of the
erasure from validation's audit when the key may read it: it said "sharing with learning providers: yes" while
providers were refused (410) and every AO's new record for the ULN rejected RV004 (incident walk, finding 3)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import paths_answered

ULN = "1000000043"
PLR: dict[str, Any] = {
    "uln": ULN,
    "master_uln": ULN,
    "ulns": [ULN],
    "ability_to_share": 1,
    "learning_events": [],
    "withdrawn_not_shown": 0,
    "events_held_in_dead_letters": 0,
    "erased": True,
}
ERASURE = {
    "uln": ULN,
    "erased_with": [],
    "erased": True,
    "erasure": {
        "erasure_id": "0e0e0e0e-0000-4000-8000-000000000001",
        "uln": ULN,
        "erased_by": "operator:desk",
        "erased_at": "2026-12-06T23:30:00Z",  # GMT in December: 6 December in the UK too
        "reason": "walk",
    },
}


def _serve(monkeypatch: pytest.MonkeyPatch, plr: dict[str, Any], erasure: httpx.Response) -> list[str]:
    return paths_answered(
        monkeypatch,
        {f"/v1/admin/learners/{ULN}/erasure": erasure, f"/v1/learners/{ULN}/plr": httpx.Response(200, json=plr)},
    )


def test_an_erased_learner_is_said_erased_on_the_day_not_sharing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(monkeypatch, PLR, httpx.Response(200, json=ERASURE))

    assert main(["plr", "show", ULN]) == ExitCode.OK

    out = capsys.readouterr().out
    assert "Erased on 6 December 2026: no achievement can be recorded for this ULN, and providers are refused" in out
    assert "sharing with learning providers" not in out


def test_without_the_audit_the_erasure_is_said_without_its_day(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(monkeypatch, PLR, httpx.Response(403, json={"title": "Forbidden", "detail": "needs the erasure duty"}))

    assert main(["plr", "show", ULN]) == ExitCode.OK

    out = capsys.readouterr().out
    assert "Erased (when: lrs learners erasures --uln 1000000043): no achievement can be recorded" in out
    assert "sharing with learning providers" not in out


def test_a_learner_not_erased_shows_the_sharing_line_and_validation_is_not_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _serve(monkeypatch, {**PLR, "erased": False}, httpx.Response(500))

    assert main(["plr", "show", ULN]) == ExitCode.OK

    out = capsys.readouterr().out
    assert "sharing with learning providers: yes" in out
    assert "Erased" not in out
    assert asked == [f"/v1/learners/{ULN}/plr"]


def test_the_json_answer_is_the_projectors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _serve(monkeypatch, PLR, httpx.Response(200, json=ERASURE))

    assert main(["plr", "show", ULN, "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out)["erased"] is True
