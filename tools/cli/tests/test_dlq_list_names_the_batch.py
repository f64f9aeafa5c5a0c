"""`lrs dlq list` names the batch of each of the PLR projector's parked events, as the projector stores it: from the
dead letters the desk sees which AO's batches wait on the fix (incident walk, finding 2). `--json` keeps it."""

from __future__ import annotations

import json

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.projector_commands import parked_events_table

from .answering import answered_by

HELD_BATCH = "a4f9a2e1-6b1e-4f0e-9a51-3d2c1b0a9f88"
POISON = {
    "topic": "lrs.plr.events.v1",
    "partition": 2,
    "offset": 34,
    "learner": "1573663718",
    "reason": "error",
    "error": "invalid: data.grade: Field required",
    "event_id": "b1b1b1b1-0000-4000-8000-000000000001",
    "event_type": "lrs.achievement.recorded.v1",
    "batch_id": None,
    "attempts": 1,
    "parked_at": "2026-12-07T12:20:00Z",
    "last_tried_at": None,
}
HELD = {**POISON, "offset": 35, "reason": "blocked", "error": None, "batch_id": HELD_BATCH, "attempts": 0}


def test_the_table_names_each_events_batch_and_a_dash_for_none() -> None:
    header, poison, held = parked_events_table([POISON, HELD]).splitlines()

    assert "batch" in header.split()
    assert held.split()[6] == HELD_BATCH
    assert poison.split()[6] == "-"
    assert header.index("batch") == held.index(HELD_BATCH)
    assert poison.endswith("invalid: data.grade: Field required")


def test_a_projector_from_before_the_batch_was_listed_still_lists() -> None:
    old = {key: value for key, value in HELD.items() if key != "batch_id"}

    (_, line) = parked_events_table([old]).splitlines()

    assert line.split()[6] == "-"


def _projector(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/admin/dlq"
        return httpx.Response(200, json={"parked": [POISON, HELD], "total": 2})

    answered_by(monkeypatch, answer)


def test_the_listing_of_the_projector_prints_the_batch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _projector(monkeypatch)

    assert main(["dlq", "list", "--service", "plr-projector"]) == ExitCode.OK

    assert HELD_BATCH in capsys.readouterr().out


def test_the_json_listing_keeps_the_batch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _projector(monkeypatch)

    assert main(["dlq", "list", "--service", "plr-projector", "--json"]) == ExitCode.OK

    listed = json.loads(capsys.readouterr().out)["services"]["plr-projector"]["parked"]
    assert [row["batch_id"] for row in listed] == [None, HELD_BATCH]
