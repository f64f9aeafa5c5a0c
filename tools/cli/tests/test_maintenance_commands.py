"""`lrs maintenance`: the times it takes, and how it shows a schedule and its history (offline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lrs_cli.batch_commands import summary
from lrs_cli.client import ExitCode, UsageError, parse_moment
from lrs_cli.main import main
from lrs_cli.maintenance_commands import cancelled_text, history_text, schedule_text, when_said

WINDOW = {
    "window_id": "5b0f6a43-51f6-4a34-a9d5-3f4f0b1f2e11",
    "starts_at": "2026-06-01T22:00:00Z",
    "ends_at": "2026-06-02T02:00:00Z",
    "reason": "database upgrade",
}


def test_a_moment_needs_its_time_zone() -> None:
    assert parse_moment("2026-06-01T22:00Z", "--from") == datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
    assert parse_moment("2026-06-01T23:00+01:00", "--from").utcoffset() == timedelta(hours=1)
    assert parse_moment("2026-06-01T23:00+01:00", "--from") == datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
    with pytest.raises(UsageError, match="no time zone"):
        parse_moment("2026-06-01T22:00", "--to")
    with pytest.raises(UsageError, match="not an ISO-8601 time"):
        parse_moment("tomorrow at ten", "--to")


def test_a_time_without_a_zone_is_a_usage_error_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_INGEST_URL", "http://127.0.0.1:9")  # nothing listens: it must not be reached
    argv = ["maintenance", "schedule", "--from", "2026-06-01T22:00", "--to", "2026-06-02T02:00Z", "--reason", "x"]

    assert main(argv) == ExitCode.USAGE
    assert "--from '2026-06-01T22:00' has no time zone" in capsys.readouterr().err


def test_an_open_schedule_lists_the_windows_to_come() -> None:
    text = schedule_text({"active": None, "windows": [WINDOW], "pause": None})
    assert text.splitlines() == [
        "batches are being decided: no maintenance now",
        "windows:",
        f"  {WINDOW['window_id']}  1 Jun 2026, 23:00 to 2 Jun 2026, 03:00 (UK time; 22:00 to 2 Jun 2026, 02:00 UTC)"
        "  database upgrade",
    ]


def test_a_held_schedule_says_why_and_until_when() -> None:
    active = {
        "reason": "database upgrade",
        "until": WINDOW["ends_at"],
        "paused": False,
        "message": "will be processed after 2026-06-02T02:00:00Z",
    }
    first = schedule_text({"active": active, "windows": [WINDOW], "pause": None}).splitlines()[0]
    assert first == (
        "PAUSED (maintenance window: database upgrade): batches are accepted and will be processed after"
        " 2 Jun 2026, 03:00 (UK time; 02:00 UTC)"
    )
    paused = {**active, "paused": True, "reason": "broker incident", "until": None, "message": "will wait"}
    assert schedule_text({"active": paused, "windows": [], "pause": None}).splitlines() == [
        "PAUSED (unplanned pause: broker incident): batches are accepted and will wait",
        "windows: none scheduled",
    ]


def test_the_history_says_who_scheduled_cancelled_paused_and_resumed() -> None:
    text = history_text(
        {
            "windows": [
                {
                    "window": WINDOW,
                    "scheduled_by": "operator:ann",
                    "scheduled_at": "2026-05-30T09:00:00Z",
                    "cancelled_by": "operator:bob",
                    "cancelled_at": "2026-05-31T10:00:00Z",
                }
            ],
            "pauses": [
                {
                    "pause_id": 1,
                    "reason": "broker incident",
                    "paused_by": "operator:ann",
                    "paused_at": "2026-05-29T08:00:00Z",
                    "resumed_by": None,
                    "resumed_at": None,
                }
            ],
        }
    )
    assert "(scheduled by operator:ann at 30 May 2026, 10:00 (UK time; 09:00 UTC); cancelled by operator:bob at" in text
    assert text.endswith("29 May 2026, 09:00 (UK time; 08:00 UTC)  broker incident  (paused by operator:ann; ON)")


def test_a_queued_batch_says_what_holds_it_and_when_it_will_be_processed() -> None:
    batch = {
        "batch_id": "b1",
        "status": "queued",
        "counts": {},
        "maintenance": {
            "reason": "database upgrade",
            "until": WINDOW["ends_at"],
            "paused": False,
            "message": "will be processed after 2026-06-02T02:00:00Z",
        },
    }
    assert summary(batch).plain.splitlines() == [
        "batch b1: queued",
        "  held by maintenance (database upgrade): it will be processed after 2 Jun 2026, 03:00 (UK time; 02:00 UTC)",
    ]


def test_a_cancel_says_whether_the_window_ended_now_or_will_not_happen() -> None:
    under_way = {"window": WINDOW, "cancelled_at": "2026-06-01T23:15:00Z"}
    to_come = {"window": WINDOW, "cancelled_at": "2026-05-31T10:00:00Z"}

    assert cancelled_text(under_way) == (
        "cancelled 5b0f6a43-51f6-4a34-a9d5-3f4f0b1f2e11  database upgrade: it was under way and ended at"
        " 2 Jun 2026, 00:15 (UK time; 1 Jun 2026, 23:15 UTC) (planned to end 2 Jun 2026, 03:00 (UK time; 02:00 UTC));"
        " held batches go on"
    )
    assert cancelled_text(to_come).endswith(
        "(UK time; 22:00 to 2 Jun 2026, 02:00 UTC)  database upgrade: it will not happen"
    )


def test_a_replay_from_a_time_without_its_zone_is_a_usage_error_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["projector", "replay", "--from", "2025-03-04T09:00:00"]) == ExitCode.USAGE
    assert "has no time zone" in capsys.readouterr().err


def test_a_window_is_said_back_in_utc_and_in_uk_time() -> None:
    """`+01:00` typed in December, meaning "UK time", made a window an hour early that nothing showed."""
    winter = when_said(parse_moment("2026-12-20T22:00+01:00", "--from"), parse_moment("2026-12-21T01:00Z", "--to"))
    assert winter == "2026-12-20 21:00 to 2026-12-21 01:00 UTC (2026-12-20 21:00 to 2026-12-21 01:00 UK time, GMT)"
    summer = when_said(datetime(2027, 6, 1, 21, 0, tzinfo=UTC), datetime(2027, 6, 1, 23, 0, tzinfo=UTC))
    assert summer == "2027-06-01 21:00 to 23:00 UTC (2027-06-01 22:00 to 2027-06-02 00:00 UK time, BST)"
    changing = when_said(datetime(2027, 10, 30, 23, 0, tzinfo=UTC), datetime(2027, 10, 31, 3, 0, tzinfo=UTC))
    assert changing.endswith("UK time, BST then GMT)")
