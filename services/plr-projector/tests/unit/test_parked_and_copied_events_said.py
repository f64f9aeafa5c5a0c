"""Following a batch through the projector's log lines (tracer walk): a poison's `message_parked` names its batch,
event id and event type, as `lrs dlq list` does (finding 1), and a batch whose only events were parked still gets its
`batch_events_projected` line; a copy of a batch's event already applied, with a new event id, is said
`duplicate_ignored` instead of dropped silently (finding 8); the masked ULN is `uln`, as in every other service's
lines (finding 11)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from structlog.testing import capture_logs

from lrs_platform.consumer import Poisoned
from plr_projector.consumer import Runner
from plr_projector.projection import PLR_TOPIC, BatchChanges, Message, Snapshot

from .log_messages import ULN, event_value, log_message, project, recorded
from .runners import live_runner

MORNING = uuid.UUID(int=7)
RECORDED = "lrs.achievement.recorded.v1"


def _applied(runner: Runner, messages: list[Message], changes: BatchChanges) -> list[MutableMapping[str, Any]]:
    """The lines `_apply` logs of `messages` once their step's `changes` are written (no database here)."""

    async def written(*_: Any, **__: Any) -> BatchChanges:
        return changes

    runner._apply_once = written  # type: ignore[method-assign]
    with capture_logs() as logs:
        asyncio.run(runner._apply(messages, {}, None))
    return logs


def _lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [log for log in logs if log["event"] == event]


def test_a_poison_s_line_names_its_batch_event_and_masked_learner() -> None:
    # the walk's poison: an achievement whose grade holds a NUL, parked at first sight
    poison = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=6, grade="Mer\x00it"), 3), 25, partition=2)

    (line,) = _lines(_applied(live_runner(), [poison], project([poison])), "message_parked")

    assert (line["batch_id"], line["event_id"], line["event_type"]) == (str(MORNING), str(uuid.UUID(int=4)), RECORDED)
    assert (line["partition"], line["offset"], line["uln"]) == (2, 25, "******0043")
    assert "learner" not in line and ULN not in str(line)


def test_a_poison_parked_after_its_write_failed_names_its_batch_and_event_too() -> None:
    runner: Runner = live_runner()
    poison = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=6), 3), 25)

    class Connection:
        @asynccontextmanager
        async def transaction(self) -> AsyncIterator[None]:
            yield

    class Pool:
        @asynccontextmanager
        async def acquire(self) -> AsyncIterator[Connection]:
            yield Connection()

    async def written(*_: Any, **__: Any) -> None:
        return None

    runner.pool = Pool()
    runner.model.write = written  # type: ignore[method-assign]
    with capture_logs() as logs:
        changes = asyncio.run(runner._park(poison, Poisoned("DataError: refused", 3), {(PLR_TOPIC, 0): 26}))

    (line,) = _lines(logs, "message_parked")
    assert (line["batch_id"], line["event_id"], line["event_type"]) == (str(MORNING), str(uuid.UUID(int=4)), RECORDED)
    assert line["uln"] == "******0043"
    with capture_logs() as logs:
        runner.account(changes, 0.01)
    (projected,) = _lines(logs, "batch_events_projected")
    assert (projected["batch_id"], projected["events"], projected["parked"]) == (str(MORNING), 0, 1)


def test_a_batch_whose_only_event_was_parked_still_gets_its_projected_line() -> None:
    poison = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=6, grade="Mer\x00it"), 3), 25)

    with capture_logs() as logs:
        live_runner().account(project([poison]), 0.01)

    (said,) = _lines(logs, "batch_events_projected")
    assert said["batch_id"] == str(MORNING)
    assert (said["events"], said["held"], said["parked"]) == (0, 0, 1)


def test_a_copy_with_a_new_event_id_of_an_applied_line_is_said_ignored() -> None:
    # the walk's copy of a learner's last event, line 8 of a batch applied up to line 8: a new event id, a new grade
    copy = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=8, grade="Merit"), 40), 41)
    changes = project([copy], Snapshot(marks={(MORNING, 0): (8, 12)}))
    assert dict(changes.batch_outcomes) == {(MORNING, "duplicate"): 1}

    logs = _applied(live_runner(), [copy], changes)

    (said,) = _lines(logs, "duplicate_ignored")
    assert (said["batch_id"], said["event_id"], said["event_type"]) == (str(MORNING), str(uuid.UUID(int=41)), RECORDED)
    assert (said["offset"], said["uln"], said["log_level"]) == (41, "******0043", "info")
    assert ULN not in str(said)


def test_a_batch_published_again_is_said_ignored_once_with_how_many_of_its_events() -> None:
    """A whole batch's events sent again write one line, not one a record (a review of session 64)."""
    copies = [
        log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=line, grade="Merit"), 40 + line), 40 + line)
        for line in (2, 3, 4)
    ]
    changes = project(copies, Snapshot(marks={(MORNING, 0): (8, 12)}))

    (said,) = _lines(_applied(live_runner(), copies, changes), "duplicate_ignored")
    assert (said["batch_id"], said["events"], said["offset"]) == (str(MORNING), 3, 42)


def test_copies_in_a_step_that_applies_their_batch_are_counted_not_said_one_by_one() -> None:
    first = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=1), 0), 0)
    again = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=1), 0), 1)

    assert not _lines(_applied(live_runner(), [first, again], project([first, again])), "duplicate_ignored")


def test_a_held_event_names_the_learner_as_uln() -> None:
    poison = log_message(PLR_TOPIC, ULN, b"garbage", 0)
    held = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=5), 1), 1)

    logs = _applied(live_runner(), [poison, held], project([poison, held]))

    (said,) = _lines(logs, "message_held")
    assert (said["batch_id"], said["uln"]) == (str(MORNING), "******0043")
    (parked,) = _lines(logs, "message_parked")
    assert "batch_id" not in parked and "event_id" not in parked  # garbage names neither
