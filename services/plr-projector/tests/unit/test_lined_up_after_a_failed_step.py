"""A compare or switch lines the two projections up (`Runner.catch_up`) while a runner may be waiting out the back-off
of a failed step, its lock free and its consumer past what it committed. Lined up from there, a partition the next poll
brought nothing of was stored at the consumer's position: the failed batch's events on it never applied, the offsets
past them, and after a switch that gap was the live model's (report-rebuild finding 1: 19,131 achievements of one
partition, nothing parked, no lag). The runner goes back to its stored offsets first, as its own loop does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aiokafka import TopicPartition

from plr_projector.consumer import Runner, Topics
from plr_projector.projection import PLR_TOPIC, BatchChanges, Message
from plr_projector.store import ReadModel

P0, P1 = TopicPartition(PLR_TOPIC, 0), TopicPartition(PLR_TOPIC, 1)


class _Consumer:
    """A log of two partitions, read from `at` (where the consumer is) up to `end`."""

    def __init__(self, at: dict[TopicPartition, int], end: dict[TopicPartition, int]) -> None:
        self.at, self.end = at, end

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        fetched: dict[TopicPartition, list[Any]] = {}
        for tp in (P0, P1):
            offsets = range(self.at[tp], self.end[tp])
            if offsets:
                fetched[tp] = [Message(tp.topic, tp.partition, offset, b"k", b"v", 0) for offset in offsets]
                self.at[tp] = self.end[tp]
        return fetched

    async def position(self, tp: TopicPartition) -> int:
        return self.at[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at[tp] = offset

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.at[tp] = 0


class _Connection:
    """The model's stored offsets; nothing parked, no operator action."""

    def __init__(self, stored: dict[tuple[str, int], int]) -> None:
        self.stored = stored

    async def fetch(self, statement: str, *arguments: Any) -> list[dict[str, Any]]:
        if "next_offset FROM" in statement:
            return [{"topic": t, "partition": p, "next_offset": o} for (t, p), o in self.stored.items()]
        return []

    async def __aenter__(self) -> _Connection:
        return self

    async def __aexit__(self, *exception: object) -> None:
        return None


class _Pool:
    def __init__(self, connection: _Connection) -> None:
        self.connection = connection

    def acquire(self) -> _Connection:
        return self.connection


async def test_a_runner_whose_last_step_failed_lines_up_from_its_stored_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # committed: partition 0 up to 100, partition 1 up to 50 (in memory and stored alike)
    stored = {(PLR_TOPIC, 0): 100, (PLR_TOPIC, 1): 50}
    connection = _Connection(stored)
    runner = Runner(
        "rebuild-2",
        ReadModel("plr_rebuild_2"),
        _Pool(connection),
        "kafka:9092",
        Topics(),
        max_batch_records=10_000,
        poll_timeout_ms=10,
        dead_letter_producer=None,
    )
    # its last step polled partition 0's 100..149 and failed (a transaction rolled back): the consumer is past them
    consumer = _Consumer(at={P0: 150, P1: 50}, end={P0: 150, P1: 60})
    runner._consumer = consumer
    runner._partitions = [P0, P1]
    runner.positions = dict(stored)
    runner._stale = True
    written: list[tuple[list[Message], dict[tuple[str, int], int]]] = []

    async def apply(
        self: Runner, messages: list[Message], next_offsets: Mapping[tuple[str, int], int], *args: Any, **kwargs: Any
    ) -> BatchChanges:
        written.append((messages, dict(next_offsets)))
        stored.update(next_offsets)  # as the transaction stores them with the rows
        return BatchChanges()

    monkeypatch.setattr(Runner, "_apply", apply)
    monkeypatch.setattr(Runner, "_decode_plain", lambda self, messages: None)

    # lined up with another projection at partition 0: 100, partition 1: 60
    await runner.catch_up({(PLR_TOPIC, 0): 100, (PLR_TOPIC, 1): 60}, timeout=5)

    assert stored == {(PLR_TOPIC, 0): 100, (PLR_TOPIC, 1): 60}  # not partition 0 at 150, 100..149 never applied
    assert runner.positions == stored
    applied = [(message.partition, message.offset) for messages, _ in written for message in messages]
    assert applied == [(1, offset) for offset in range(50, 60)]
    assert runner._stale is False
