"""Maintenance times reach people in UK time with UTC beside them, as the portal shows them: `lrs batch submit`,
`batch status`, `maintenance show|list`, a Sandpit reset and `plr show --after-batch` said "processed after
2026-06-02T01:00:00Z" (UTC only), an hour out for an AO all summer (beyond walk, finding 5). --json keeps the
services' ISO instants for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.batch_commands import summary
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main
from lrs_cli.maintenance_commands import span_uk_and_utc, uk_and_utc, when_processed
from lrs_cli.sandpit_commands import reset_text
from lrs_contracts.environments import Environment

SUMMER_WINDOW = {
    "window_id": "5b0f6a43-51f6-4a34-a9d5-3f4f0b1f2e11",
    "starts_at": "2027-06-06T20:00:00Z",
    "ends_at": "2027-06-06T22:00:00Z",
    "reason": "database upgrade",
}
HELD = {
    "reason": "database upgrade",
    "until": "2027-06-06T22:00:00Z",
    "paused": False,
    "message": "will be processed after 2027-06-06T22:00:00Z",
}
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "sample-100.csv"


def test_a_time_is_said_in_uk_time_with_utc_beside_it() -> None:
    assert uk_and_utc("2027-06-06T22:00:00Z") == "6 Jun 2027, 23:00 (UK time; 22:00 UTC)"
    assert uk_and_utc("2026-12-06T08:30:41Z") == "6 Dec 2026, 08:30 (UK time; 08:30 UTC)"
    # after midnight in the UK, still the day before in UTC: both days said
    assert uk_and_utc(datetime(2027, 6, 6, 23, 30, tzinfo=UTC)) == "7 Jun 2027, 00:30 (UK time; 6 Jun 2027, 23:30 UTC)"


def test_a_window_is_said_in_uk_time_with_utc_beside_it() -> None:
    assert span_uk_and_utc("2027-06-06T20:00:00Z", "2027-06-06T22:00:00Z") == (
        "6 Jun 2027, 21:00 to 23:00 (UK time; 20:00 to 22:00 UTC)"
    )
    assert span_uk_and_utc("2027-06-06T23:30:00Z", "2027-06-07T01:00:00Z") == (
        "7 Jun 2027, 00:30 to 02:00 (UK time; 6 Jun 2027, 23:30 to 7 Jun 2027, 01:00 UTC)"
    )
    assert span_uk_and_utc("2026-12-20T22:00:00Z", "2026-12-21T01:00:00Z") == (
        "20 Dec 2026, 22:00 to 21 Dec 2026, 01:00 (UK time; 22:00 to 21 Dec 2026, 01:00 UTC)"
    )


def test_a_pause_has_no_time_and_is_said_as_the_service_says_it() -> None:
    pause = {"reason": "broker incident", "until": None, "paused": True, "message": "will be processed when the LRS"}
    assert when_processed(pause) == "will be processed when the LRS"


def test_batch_status_says_when_a_held_batch_goes_on_in_uk_time() -> None:
    batch = {"batch_id": "b1", "status": "queued", "counts": {"total": 100}, "maintenance": HELD}
    assert summary(batch).plain.splitlines()[1] == (
        "  held by maintenance (database upgrade): it will be processed after 6 Jun 2027, 23:00 (UK time; 22:00 UTC)"
    )


def test_a_batch_submitted_during_a_window_says_when_it_goes_on_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def queued(connection: object, file: str, idempotency_key: str | None) -> dict[str, object]:
        return {
            "batch_id": "6f1c3a52-9b7e-4a0e-8f57-0c3c1b9a2d41",
            "status": "queued",
            "maintenance": HELD,
            "replay": False,
        }

    monkeypatch.setattr(batch_commands, "submit", queued)

    assert main(["batch", "submit", str(SAMPLE)]) == ExitCode.OK
    err = capsys.readouterr().err
    assert "it will be processed after 6 Jun 2027, 23:00 (UK time; 22:00 UTC)" in err
    assert "2027-06-06T22:00:00Z" not in err


def _ingest(monkeypatch: pytest.MonkeyPatch, schedule: dict[str, Any]) -> None:
    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=schedule))
        return real_client(*args, **{**kwargs, "transport": transport})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")


def test_maintenance_show_says_the_hold_and_the_windows_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest(monkeypatch, {"active": HELD, "windows": [SUMMER_WINDOW]})

    assert main(["maintenance", "show"]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        "PAUSED (maintenance window: database upgrade): batches are accepted and will be processed after"
        " 6 Jun 2027, 23:00 (UK time; 22:00 UTC)",
        "windows:",
        f"  {SUMMER_WINDOW['window_id']}  6 Jun 2027, 21:00 to 23:00 (UK time; 20:00 to 22:00 UTC)  database upgrade",
    ]


def test_maintenance_show_in_json_keeps_the_services_iso_times(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = {"active": HELD, "windows": [SUMMER_WINDOW]}
    _ingest(monkeypatch, schedule)

    assert main(["maintenance", "show", "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out) == schedule


def test_maintenance_list_says_who_set_each_window_and_when_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    history = {
        "windows": [
            {
                "window": SUMMER_WINDOW,
                "scheduled_by": "operator:ann",
                "scheduled_at": "2027-06-01T08:00:00Z",
                "cancelled_by": None,
                "cancelled_at": None,
            }
        ],
        "pauses": [],
    }
    _ingest(monkeypatch, history)

    assert main(["maintenance", "list"]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines()[1] == (
        f"  {SUMMER_WINDOW['window_id']}  6 Jun 2027, 21:00 to 23:00 (UK time; 20:00 to 22:00 UTC)  database upgrade"
        "  (scheduled by operator:ann at 1 Jun 2027, 09:00 (UK time; 08:00 UTC))"
    )


def test_a_sandpit_reset_held_behind_a_batch_says_when_it_goes_on_in_uk_time() -> None:
    reset = {"reset_id": "r1", "ao_id": "RN9001", "status": "pending", "maintenance": HELD}
    said = reset_text(reset, Connection("lrs_sbx_test", Environment.SANDPIT))
    assert "behind a batch of RN9001's sent before it: it will be processed after 6 Jun 2027, 23:00 (UK time;" in said


def test_a_window_in_the_hour_read_twice_says_each_ends_zone() -> None:
    """A 20-minute window from 01:50 BST to 01:10 GMT must not read as one ending before it starts."""
    said = span_uk_and_utc("2027-10-31T00:50:00Z", "2027-10-31T01:10:00Z")
    assert said == "31 Oct 2027, 01:50 BST to 01:10 GMT (UK time; 00:50 to 01:10 UTC)"
