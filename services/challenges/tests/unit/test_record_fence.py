"""The record's fence by offset: what a poll holds below its partition's stored position was applied already,
by whoever held the partition then, and is dropped; a parked message an operator applies again is not."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from challenges.log_follower import OperatorReplays, record_applier
from challenges.plr_log import positions_after, unapplied
from lrs_platform.consumer import Handler, Message
from lrs_platform.parking import ReplayResult

PLR, LEARNER = "lrs.plr.events.v1", "lrs.learner.events.v1"


def at(topic: str, partition: int, *offsets: int) -> list[Message]:
    return [Message(topic, partition, offset, b"1000000043", b"{}") for offset in offsets]


def test_a_poll_wholly_past_its_positions_is_applied_as_it_is() -> None:
    poll = at(PLR, 0, 4, 5, 6) + at(LEARNER, 1, 0)
    assert unapplied(poll, {(PLR, 0): 4}) is poll


def test_what_lies_below_a_partitions_position_is_dropped_and_the_rest_kept_in_order() -> None:
    poll = at(PLR, 0, 2, 3, 4) + at(PLR, 1, 7, 8) + at(LEARNER, 0, 1)
    assert unapplied(poll, {(PLR, 0): 4, (PLR, 1): 7, (LEARNER, 0): 2}) == at(PLR, 0, 4) + at(PLR, 1, 7, 8)


def test_a_poll_its_partitions_holder_applied_whole_leaves_nothing() -> None:
    assert unapplied(at(PLR, 0, 0, 1), {(PLR, 0): 3}) == []


def test_the_positions_after_a_poll_are_each_partitions_last_offset_and_one() -> None:
    assert positions_after(at(PLR, 0, 2, 3) + at(PLR, 3, 9) + at(LEARNER, 0, 0)) == {
        (PLR, 0): 4,
        (PLR, 3): 10,
        (LEARNER, 0): 1,
    }


class _Record:
    def __init__(self) -> None:
        self.applied: list[tuple[list[Message], bool]] = []

    async def apply_messages(self, messages: Sequence[Message], forget: Any, *, parked: bool = False) -> None:
        self.applied.append((list(messages), parked))


class _Guard:
    """A `PoisonGuard`'s replay, shortened: the parked message handed to the handler."""

    name = "challenges.plr-record"

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def replay(self, parked: Any, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        await self.handler([parked])
        return ReplayResult(self.name, parked.topic, None, 1, 0, 0, None)


async def _forget(ulns: Collection[str]) -> None:
    return None


async def test_an_operators_replay_applies_its_messages_as_parked_and_the_loops_polls_stay_fenced() -> None:
    record = _Record()
    handler = record_applier(record, _forget)  # type: ignore[arg-type]
    parked, polled = at(PLR, 0, 5), at(PLR, 0, 12, 13)

    replayed = await OperatorReplays(_Guard(handler)).replay(parked[0], skip_head=False)  # type: ignore[arg-type]
    await handler(polled)

    assert replayed.applied == 1
    assert record.applied == [(parked, True), (polled, False)]
