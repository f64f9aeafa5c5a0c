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

    assert lines[1].startswith("4 Dec 2026, 18:20    operator:ops")  # UK time: GMT in December
    assert lines[1].endswith(" 3:41  1 applied, 1 skipped, 0 still parked; a duplicate batch")
    assert " retry* " in lines[2] and lines[-1] == (
        "* a corrected copy was tried in the message's place (the outcome says whether it applied)"
    )


def test_a_corrected_copy_that_failed_is_not_said_to_have_been_applied() -> None:
    """Runbook walk, finding 6: a copy of an unreadable poison that failed as the poison did ("0 applied, 0 skipped,
    2 still parked") was footnoted "a corrected copy was applied in the message's place"."""
    failed = {**SKIP, "action": "retry", "reason": None, "replaced": True, "applied": 0, "skipped": 0}
    failed["still_parked"] = 2

    lines = actions_table([failed]).splitlines()

    assert lines[1].endswith("0 applied, 0 skipped, 2 still parked")
    assert "applied in the message's place" not in lines[-1] and "tried in the message's place" in lines[-1]


def test_a_message_is_named_by_its_partition_and_offset_not_an_offset_alone() -> None:
    """Six partitions each have an offset 41: an offset alone names no one message."""
    header, row = actions_table([SKIP]).splitlines()

    assert "partition:offset" in header
    assert header.index("partition:offset") + len("partition:offset") == row.index(" 3:41") + len(" 3:41")


def test_a_projector_retry_whose_corrected_copy_was_a_duplicate_says_so() -> None:
    """The projector counts the events it found applied already: such a retry did not do nothing."""
    replaced = {
        **SKIP,
        "action": "retry",
        "consumer": "plr-projector",
        "topic": "lrs.plr.events.v1",
        "partition": 5,
        "offset": 28,
        "reason": None,
        "replaced": True,
        "applied": 0,
        "skipped": 0,
        "duplicates": 1,
    }
    older = {**replaced, "duplicates": None}  # recorded before the projector kept them
    several = {**replaced, "duplicates": 3, "applied": 2}

    lines = actions_table([replaced, older, several]).splitlines()

    assert lines[1].endswith(" 5:28  0 applied, 1 duplicate, 0 skipped, 0 still parked")
    assert lines[2].endswith(" 5:28  0 applied, 0 skipped, 0 still parked")
    assert lines[3].endswith(" 5:28  2 applied, 3 duplicates, 0 skipped, 0 still parked")


def test_none_yet_is_said() -> None:
    assert actions_table([]) == "no retries or skips yet"
