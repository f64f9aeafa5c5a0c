"""`lrs dlq history`: the retries and skips operators made, read back as a table."""

from __future__ import annotations

from lrs_cli.dlq_commands import actions_table

SKIP = {
    "action": "skip",
    "operator": "operator:ops",
    "reason": "a duplicate batch",
    "replaced": False,
    "consumer": "notifier",
    "topic": "lrs.batch.outcomes.v1",
    "partition": 3,
    "offset": 41,
    "event_id": None,
    "event_type": None,
    "applied": 1,
    "skipped": 1,
    "still_parked": 0,
    "acted_at": "2026-12-04T18:20:05.123456+00:00",
}


def test_each_action_says_who_when_which_message_what_followed_and_why() -> None:
    retried = {**SKIP, "action": "retry", "reason": None, "replaced": True, "skipped": 0}

    lines = actions_table([SKIP, retried]).splitlines()

    assert lines[1].startswith("2026-12-04 18:20:05  operator:ops")
    assert lines[1].endswith("41  1 applied, 1 skipped, 0 still parked; a duplicate batch")
    assert " retry* " in lines[2] and lines[-1] == "* a corrected copy was applied in the message's place"


def test_none_yet_is_said() -> None:
    assert actions_table([]) == "no retries or skips yet"
