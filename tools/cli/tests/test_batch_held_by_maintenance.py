"""A batch held by maintenance says what holds it and when it goes on, and does not also advise `--wait`: asking
again changes nothing while the pause or window lasts (ops walk, finding 6)."""

from __future__ import annotations

from typing import Any

from lrs_cli.batch_commands import summary


def _queued(notice: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "batch_id": "b1",
        "status": "queued" if notice else "accepted",
        "counts": {"total": 100},
        "maintenance": notice,
    }


def test_a_batch_held_by_an_unplanned_pause_is_not_told_to_wait() -> None:
    pause = {
        "reason": "broker incident",
        "until": None,
        "paused": True,
        "message": "will be processed when the LRS resumes after an unplanned pause",
    }
    assert summary(_queued(pause)).plain.splitlines() == [
        "batch b1: queued - 100 records",
        "  held by maintenance (broker incident): it will be processed when the LRS resumes after an unplanned pause",
    ]


def test_a_batch_held_by_a_window_is_not_told_to_wait_either() -> None:
    window = {
        "reason": "database upgrade",
        "until": "2027-06-02T01:00:00Z",
        "paused": False,
        "message": "will be processed after 2027-06-02T01:00:00Z",
    }
    assert summary(_queued(window)).plain.splitlines()[1:] == [
        "  held by maintenance (database upgrade): it will be processed after 2 Jun 2027, 02:00 (UK time; 01:00 UTC)",
    ]


def test_a_batch_not_held_and_not_decided_yet_is_told_to_ask_again() -> None:
    assert summary(_queued(None)).plain.splitlines() == [
        "batch b1: accepted - 100 records",
        "  not decided yet: ask again with --wait SECONDS",
    ]
