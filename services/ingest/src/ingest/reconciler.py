"""The batch view cannot lose a batch: no batch stays waiting while its decision is on the topic.

The outcome consumer is the fast path. This is the safety net behind it, whatever made the consumer
miss a batch (a start that skipped, offsets committed past an event, a restored database): a batch
still waiting for its decision `stale_after` seconds after it was received is looked up on
`lrs.batch.outcomes.v1` itself. A consumer of no group reads every partition from shortly before the
oldest such batch arrived (`offsets_for_times`, with the outcome consumer's margin) up to the offsets
the outcome consumer's group has committed when the pass begins, keeps the events of the waiting batches (outcomes are keyed by
batch id, so nothing else is decoded) and applies them with the repository's idempotent upserts, the
consumer's own statements: an event applied twice, or in another order, changes nothing.

Only what the outcome consumer has already passed is read: an event beyond its committed offset is
one it has still to store (it is behind, say, while batches queue), not one it missed, and reading and
storing it here too would only double the work while the consumer catches up. A partition the group
never committed on is left to the consumer, which starts before the oldest waiting batch.

A batch of which the batch view parked a message is left alone: its later events wait behind the parked
one until an operator retries or skips it, and applying them here would finish the batch without it.

What a pass has read for a batch is remembered once what it found is stored, so a batch that validation
has simply not decided yet (a long queue) costs the next pass only the messages that arrived since, and a
pass that PostgreSQL ended reads the same messages again next time. Batches older than the submitted
topic's retention (7 days) are left alone: no decision can come for them any more.

A pass stores what it found as it reads, whenever it holds `MOST_BYTES_HELD` of messages: it may find
the outcomes of a thousand batches of 10,000 records (gigabytes), which held until the pass ended could
exhaust the service's memory. A batch's messages are on one partition, in order, so storing them a part
at a time stores them as the outcome consumer does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest import metrics
from ingest.outcomes import CONSUMER as BATCH_VIEW
from ingest.outcomes import start_timestamp_ms, view_event_of
from ingest.repository import BatchRepository, WaitingBatch
from ingest.service import DecisionSignal
from lrs_contracts.envelope import utc_now
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchFailed
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger

_log = get_logger("ingest.reconciler")

SUBMITTED_RETENTION = timedelta(days=7)
MOST_BATCHES_PER_PASS = 1_000
# One pass reads for at most this long; the next pass goes on from where it stopped.
PASS_SECONDS = 60.0
# Messages of waiting batches a pass holds before it stores them.
MOST_BYTES_HELD = 32 * 1024 * 1024

ConsumerFactory = Callable[..., AIOKafkaConsumer]


@dataclass
class _Pass:
    """What one pass has done so far."""

    found: bool = False
    decided: int = 0
    left: set[uuid.UUID] = field(default_factory=set)  # batches whose later messages this pass leaves alone
    forgotten: set[uuid.UUID] = field(default_factory=set)  # batches searched from the start again next time


class BatchViewReconciler:
    def __init__(
        self,
        bootstrap_servers: str,
        repository: BatchRepository,
        signal: DecisionSignal,
        *,
        stale_after: float,
        interval: float,
        consumer_passed: Callable[[], Awaitable[dict[TopicPartition, int]]],
        consumer_factory: ConsumerFactory = make_consumer,
        partitions_of: Callable[[str], Awaitable[list[TopicPartition]]],
        most_bytes_held: int = MOST_BYTES_HELD,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._repository = repository
        self._signal = signal
        self._stale_after = timedelta(seconds=stale_after)
        self._interval = interval
        self._consumer_factory = consumer_factory
        self._partitions_of = partitions_of
        self._consumer_passed = consumer_passed
        self._most_bytes_held = most_bytes_held
        # batch id -> partition -> offset up to which that partition has been searched for the batch
        self._searched: dict[uuid.UUID, dict[int, int]] = {}

    async def run(self) -> None:
        """A pass every `interval` seconds until cancelled; a failed pass (Kafka or PostgreSQL away) is
        logged and tried again at the next."""
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _log.warning("batch_view_reconcile_failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(self._interval)

    async def reconcile(self) -> int:
        """One pass; returns how many waiting batches it found decided."""
        waiting = await self._waiting()
        self._searched = {
            batch.batch_id: self._searched[batch.batch_id] for batch in waiting if batch.batch_id in self._searched
        }
        if not waiting:
            return 0
        done = _Pass()
        consumer = self._consumer_factory(self._bootstrap, group_id=None)
        await consumer.start()
        try:
            await self._search(consumer, waiting, done)
        finally:
            await consumer.stop()
        if done.found:
            self._signal.notify()
        return done.decided

    async def _waiting(self) -> list[WaitingBatch]:
        return await self._repository.waiting_batches(
            older_than=self._stale_after,
            newer_than=SUBMITTED_RETENTION,
            limit=MOST_BATCHES_PER_PASS,
            parked_by=BATCH_VIEW,
        )

    async def _search(self, consumer: AIOKafkaConsumer, waiting: Sequence[WaitingBatch], done: _Pass) -> None:
        """Reads the messages of the waiting batches and stores them, `MOST_BYTES_HELD` at a time; then remembers
        how far each batch was searched."""
        partitions = await self._partitions_of(self._bootstrap)
        if not partitions:
            return
        consumer.assign(partitions)
        passed = await self._consumer_passed()
        ends: dict[TopicPartition, int] = {
            partition: min(end, passed.get(partition, 0))
            for partition, end in (await consumer.end_offsets(partitions)).items()
        }
        starts = await self._starts(consumer, partitions, ends, waiting)
        for partition in partitions:
            consumer.seek(partition, starts[partition])
        keys = {str(batch.batch_id).encode(): batch.batch_id for batch in waiting}
        held: dict[uuid.UUID, list[bytes | None]] = defaultdict(list)
        held_bytes = 0
        reading = {partition for partition in partitions if starts[partition] < ends[partition]}
        deadline = time.monotonic() + PASS_SECONDS
        while reading and time.monotonic() < deadline:
            polled = await consumer.getmany(*reading, timeout_ms=500)
            for partition, messages in polled.items():
                for message in messages:
                    if message.offset < ends[partition] and message.key in keys:
                        held[keys[message.key]].append(message.value)
                        held_bytes += len(message.value or b"")
            if held_bytes >= self._most_bytes_held:
                await self._store(held, done)
                held, held_bytes = defaultdict(list), 0
            for partition in list(reading):
                if await consumer.position(partition) >= ends[partition]:
                    reading.discard(partition)
        if held:
            await self._store(held, done)
        reached = {
            partition.partition: min(ends[partition], await consumer.position(partition)) for partition in partitions
        }
        for batch in waiting:
            if batch.batch_id in done.forgotten:
                self._searched.pop(batch.batch_id, None)
            else:
                self._searched[batch.batch_id] = reached

    async def _store(self, found: dict[uuid.UUID, list[bytes | None]], done: _Pass) -> None:
        """Stores the messages found of each batch still waiting, undecoded until then."""
        done.found = True
        # The outcome consumer usually stores a batch's events moments after they appear: those are not decoded
        # and stored a second time.
        still_waiting = {batch.batch_id for batch in await self._waiting()}
        for batch_id, values in found.items():
            if batch_id in done.left:
                continue
            if batch_id not in still_waiting:
                done.left.add(batch_id)
                done.forgotten.add(batch_id)
                continue
            try:
                events = [event for value in values if (event := view_event_of(value)) is not None]
            except Exception as error:  # a message the batch view cannot read: it parks it, and holds the rest
                _log.warning("batch_view_reconcile_skipped", batch_id=str(batch_id), error=type(error).__name__)
                done.left.add(batch_id)
                continue
            if not events:
                continue
            try:
                await self._repository.apply_outcomes(events)
            except Exception as error:  # an unstorable event (the consumer parks it) stops only its batch
                if classify_failure(error) is Failure.TRANSIENT:
                    raise  # PostgreSQL away: the pass ends, the next reads the same messages again
                _log.warning("batch_view_reconcile_failed", batch_id=str(batch_id), error=type(error).__name__)
                done.left.add(batch_id)
                done.forgotten.add(batch_id)  # searched again next pass
                continue
            if any(isinstance(event, BatchCompleted | BatchFailed | BatchAbandoned) for event in events):
                done.decided += 1
                metrics.BATCHES_RECONCILED.inc()
                _log.warning("batch_view_reconciled", batch_id=str(batch_id), events=len(events))

    async def _starts(
        self,
        consumer: AIOKafkaConsumer,
        partitions: list[TopicPartition],
        ends: dict[TopicPartition, int],
        waiting: Sequence[WaitingBatch],
    ) -> dict[TopicPartition, int]:
        """Per partition, the earliest offset some waiting batch still needs searched from."""
        starts = dict(ends)
        unsearched = [batch for batch in waiting if batch.batch_id not in self._searched]
        if unsearched:
            since = start_timestamp_ms(min(batch.received_at for batch in unsearched), utc_now())
            by_time = await consumer.offsets_for_times(dict.fromkeys(partitions, since))
            for partition in partitions:
                entry = by_time.get(partition)
                if entry is not None:
                    starts[partition] = min(starts[partition], entry.offset)
        for batch in waiting:
            for partition in partitions:
                searched = self._searched.get(batch.batch_id, {}).get(partition.partition)
                if searched is not None:
                    starts[partition] = min(starts[partition], searched)
        return starts
