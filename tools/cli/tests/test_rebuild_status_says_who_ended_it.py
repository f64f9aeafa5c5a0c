"""`lrs projector rebuild status` with no rebuild running says which rebuild was ended last, how and by whom, as the
projector's answer gives it (plr_ops.rebuilds' `finished_by`)."""

from __future__ import annotations

from lrs_cli.projector_commands import rebuild_line


def test_the_last_rebuild_switched_to_is_said_with_who_switched_and_when() -> None:
    status = {
        "state": "idle",
        "last": {
            "rebuild_id": 8,
            "state": "switched",
            "finished_by": "operator:alex",
            "finished_at": "2026-12-06T06:29:00+00:00",
        },
    }

    assert rebuild_line(status) == (
        "no rebuild running; rebuild 8 was switched to by operator:alex on 6 Dec 2026, 06:29 (UK time)"
    )


def test_one_ended_before_who_ended_it_was_kept_is_said_without_a_name() -> None:
    status = {
        "state": "idle",
        "last": {"rebuild_id": 3, "state": "abandoned", "finished_by": None, "finished_at": None},
    }

    assert rebuild_line(status) == "no rebuild running; rebuild 3 was abandoned"
    assert rebuild_line({"state": "idle"}) == "no rebuild running"
