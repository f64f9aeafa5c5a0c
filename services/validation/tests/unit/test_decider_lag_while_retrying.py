"""The decider's `lrs_consumer_lag_messages` while it decides, retries or hangs: it counted only after a poll, at
most once a second, so the poll that brought a batch was not counted (the idle 0 of the poll before stood), and
while a decision was retried (PostgreSQL away) it did not poll: the gauge read 0 for 24 s while the broker said
the group was 4 behind (the SRE report, finding 2). Counted every second now, from the first offset not handled."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import REGISTRY

import validation.decider
from lrs_contracts.topics import BATCH_SUBMITTED
from lrs_platform.consumer import Attempts, LagCount, RetryPolicy
from validation.decision_store import OutgoingMessage, StoredDecision

from .decider_fakes import PARTITION, Record, batch_records, decider
from .test_consumer_decider import AllPolled, EmptyReference, FakeParked, FakeProducer, FetchingConsumer

LABELS = {"consumer": validation.decider.CONSUMER, "topic": BATCH_SUBMITTED.name}
QUIET = TopicPartition(BATCH_SUBMITTED.name, 3)


def lag() -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_lag_messages", LABELS)


class Ticks:
    """The lag counter's wait between counts, ended when the test says: `counted()` returns once the counter has
    counted (at its start, then once a tick), with no time waited for."""

    def __init__(self) -> None:
        self._arrived: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self._waiting: asyncio.Future[None] | None = None

    async def wait(self, seconds: float) -> None:
        waiting = asyncio.get_running_loop().create_future()
        self._arrived.put_nowait(waiting)
        await waiting

    async def counted(self) -> None:
        if self._waiting is not None:
            self._waiting.set_result(None)
        self._waiting = await asyncio.wait_for(self._arrived.get(), timeout=5)


@dataclass
class ArrivingConsumer(FetchingConsumer):
    """As FetchingConsumer, knowing each partition's last stable offset and its position; its polls of every
    partition wait until `arrived` is set (the batch is produced), then hand out what there is."""

    ends: dict[TopicPartition, int] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def last_stable_offset(self, partition: TopicPartition) -> int:
        return self.ends[partition]

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        if not partitions:
            await self.arrived.wait()
        polled = await super().getmany(*partitions, timeout_ms=timeout_ms, max_records=max_records)
        for partition, records in polled.items():
            self.positions[partition] = records[-1].offset + 1
        return polled


@dataclass
class Decisions:
    """The decision store: `stored` fails (PostgreSQL away) while `away`, or waits for `release` (a lock held);
    then finds the batch decided and not yet published."""

    away: bool = False
    release: asyncio.Event | None = None
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    published: list[uuid.UUID] = field(default_factory=list)

    async def is_decided(self, batch_id: uuid.UUID) -> bool:
        return False

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        self.asked.set()
        if self.away:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        if self.release is not None:
            await self.release.wait()
        return StoredDecision(batch_id, False, (OutgoingMessage("lrs.batch.outcomes.v1", str(batch_id), b"{}"),), False)

    async def mark_published(self, batch_id: uuid.UUID) -> None:
        self.published.append(batch_id)


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def test_the_decider_counts_the_batch_it_decides_and_what_waits_elsewhere() -> None:
    """It polls in a loop of its own: `lrs_consumer_lag_messages` had no series for it at all."""
    release = asyncio.Event()
    consumer = ArrivingConsumer(
        {PARTITION: batch_records(uuid.uuid4(), first_offset=0), QUIET: []},
        per_fetch=10,
        ends={PARTITION: 3, QUIET: 6},
        positions={PARTITION: 0, QUIET: 4},
    )
    consumer.arrived.set()
    decisions = Decisions(release=release)
    target = decider(decisions, FakeProducer(), FakeParked(), consumer=consumer, reference=EmptyReference())
    ticks = Ticks()
    target._lag = LagCount(validation.decider.CONSUMER, wait=ticks.wait)
    task = asyncio.create_task(target.run())
    try:
        await asyncio.wait_for(decisions.asked.wait(), timeout=5)
        await ticks.counted()
        # the batch's three messages in hand (its marker read, its decision running), two on the other partition
        assert lag() == 3 + 2
        release.set()
        with pytest.raises(AllPolled):  # every message handed out
            await asyncio.wait_for(task, timeout=5)
    finally:
        release.set()
        await stopped(task)
    assert decisions.published


async def test_the_decider_s_lag_stays_true_while_it_waits_out_postgresql() -> None:
    consumer = ArrivingConsumer(
        {PARTITION: batch_records(uuid.uuid4(), first_offset=31)}, per_fetch=10, ends={PARTITION: 31}
    )
    consumer.positions[PARTITION] = 31
    decisions = Decisions(away=True)
    target = decider(decisions, FakeProducer(), FakeParked(), consumer=consumer, reference=EmptyReference())
    patient = RetryPolicy(base_seconds=3600, max_seconds=3600)  # in its back-off for the rest of the test
    target._attempts = Attempts(validation.decider.CONSUMER, patient, fatal=(KafkaError,))
    ticks = Ticks()
    target._lag = LagCount(validation.decider.CONSUMER, wait=ticks.wait)
    task = asyncio.create_task(target.run())
    try:
        await ticks.counted()
        assert lag() == 0  # idle, polling

        consumer.ends[PARTITION] = 34  # a batch comes; the decision waits PostgreSQL out
        consumer.arrived.set()
        await asyncio.wait_for(decisions.asked.wait(), timeout=5)
        await ticks.counted()
        assert REGISTRY.get_sample_value("lrs_consumer_retrying", {"consumer": validation.decider.CONSUMER}) == 1
        assert lag() == 3

        consumer.ends[PARTITION] = 35  # another message meanwhile
        await ticks.counted()
        assert lag() == 4
    finally:
        await stopped(task)
