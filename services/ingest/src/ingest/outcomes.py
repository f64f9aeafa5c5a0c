"""The batch view's consumer of `lrs.batch.outcomes.v1`.

At-least-once delivery, effectively-once effect: each poll's events are stored in one PostgreSQL
transaction of idempotent upserts, and the offsets are committed only after that transaction
commits. A crash in between means the same events are applied again, which changes nothing.
An unreadable event goes to the topic's DLQ with the error, and the consumer carries on.

A consumer group that has never committed (a new deployment, a renamed group) does not replay the
whole topic, which is kept for ever: it starts at the first outcome that can concern a batch of this
database still waiting for its decision, found by timestamp (`offsets_for_times`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from ingest import metrics
from ingest.publisher import TransactionalPublisher
from ingest.repository import BatchRepository
from ingest.service import DecisionSignal
from lrs_contracts.envelope import utc_now
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided, BatchValidationStarted
from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger

_log = get_logger("ingest.outcomes")

OutcomeEvent = BatchValidationStarted | BatchRecordsDecided | BatchCompleted | BatchFailed


@dataclass(frozen=True)
class Poison:
    """A message the batch view cannot read: it goes to the DLQ."""

    error: str


@dataclass(frozen=True)
class Ignored:
    """A readable event that is not for the batch view."""

    event_type: str


Classified = OutcomeEvent | Poison | Ignored


def classify(raw: bytes | None) -> Classified:
    if raw is None:
        return Poison("empty message")
    try:
        envelope, payload = decode(raw)
    except UnknownEventType as error:
        return Poison(f"unknown event type {error}")
    except (ValidationError, ValueError) as error:
        return Poison(f"{type(error).__name__}: {str(error)[:500]}")
    if isinstance(payload, BatchValidationStarted | BatchRecordsDecided | BatchCompleted | BatchFailed):
        return payload
    return Ignored(envelope.event_type)


def next_offsets(batches: Mapping[TopicPartition, Sequence[ConsumerRecord[Any, Any]]]) -> dict[TopicPartition, int]:
    return {partition: messages[-1].offset + 1 for partition, messages in batches.items() if messages}


def dead_letter_headers(message: ConsumerRecord[Any, Any], error: str) -> list[tuple[str, bytes]]:
    return [
        ("lrs_error", error.encode()),
        ("lrs_original_topic", message.topic.encode()),
        ("lrs_original_partition", str(message.partition).encode()),
        ("lrs_original_offset", str(message.offset).encode()),
    ]


OUTCOME_MESSAGES_PER_POLL = 10

# Outcomes are stamped by the broker after their batch was received; the margin absorbs clock skew.
START_MARGIN = timedelta(minutes=5)


def start_timestamp_ms(oldest_undecided: datetime | None, now: datetime, margin: timedelta = START_MARGIN) -> int:
    """Where a group with no committed offsets starts: before the oldest batch still waiting for its
    outcome, or shortly before now when none is waiting."""
    since = min(oldest_undecided, now) if oldest_undecided is not None else now
    return int((since - margin).timestamp() * 1000)


class StartAtFirstUndecidedBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks partitions the group never committed on; a failure here leaves `auto_offset_reset`."""

    def __init__(self, consumer: AIOKafkaConsumer, since_ms: Callable[[], Awaitable[int]]) -> None:
        self._consumer = consumer
        self._since_ms = since_ms

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        fresh = [partition for partition in assigned if await self._consumer.committed(partition) is None]
        if not fresh:
            return
        since = await self._since_ms()
        found = await self._consumer.offsets_for_times(dict.fromkeys(fresh, since))
        for partition in fresh:
            entry = found.get(partition)
            if entry is None:
                await self._consumer.seek_to_end(partition)
            else:
                self._consumer.seek(partition, entry.offset)
        _log.info("outcome_consumer_started_fresh", partitions=len(fresh), since_ms=since)


ConsumerFactory = Callable[..., AIOKafkaConsumer]


class OutcomeConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        repository: BatchRepository,
        publisher: TransactionalPublisher,
        signal: DecisionSignal,
        *,
        consumer_factory: ConsumerFactory = make_consumer,
        max_backoff: float = 10.0,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._repository = repository
        self._publisher = publisher
        self._signal = signal
        self._consumer_factory = consumer_factory
        self._max_backoff = max_backoff
        self.assigned = False
        self.caught_up = False  # the last poll found nothing new: for readiness checks and tests

    async def run(self) -> None:
        """Consumes until cancelled; any failure restarts the consumer from the committed offsets."""
        backoff = 0.5
        while True:
            consumer = self._consumer_factory(self._bootstrap, group_id=self._group_id)
            consumer.subscribe([BATCH_OUTCOMES.name], listener=StartAtFirstUndecidedBatch(consumer, self._since_ms))
            try:
                await consumer.start()
                backoff = 0.5
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _log.warning("outcome_consumer_restarting", error=f"{type(error).__name__}: {error}", in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                self.assigned = self.caught_up = False
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _since_ms(self) -> int:
        return start_timestamp_ms(await self._repository.oldest_undecided_received_at(), utc_now())

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            # One message carries up to 1,000 record outcomes: a few messages are a full transaction.
            batches = await consumer.getmany(timeout_ms=1_000, max_records=OUTCOME_MESSAGES_PER_POLL)
            self.assigned = bool(consumer.assignment())
            self.caught_up = self.assigned and not batches
            if not batches:
                continue
            await self.handle([message for messages in batches.values() for message in messages])
            await consumer.commit(next_offsets(batches))
            self._signal.notify()

    async def handle(self, messages: Sequence[ConsumerRecord[Any, Any]]) -> None:
        events: list[OutcomeEvent] = []
        for message in messages:
            classified = classify(message.value)
            match classified:
                case Poison(error=error):
                    await self._dead_letter(message, error)
                case Ignored():
                    continue
                case _:
                    events.append(classified)
        if events:
            await self._repository.apply_outcomes(events)
            for event in events:
                metrics.OUTCOME_EVENTS.labels(event.event_type).inc()

    async def _dead_letter(self, message: ConsumerRecord[Any, Any], error: str) -> None:
        _log.error(
            "outcome_event_dead_lettered",
            partition=message.partition,
            offset=message.offset,
            error=error,
        )
        await self._publisher.publish(
            BATCH_OUTCOMES.dead_letters,
            message.key or b"",
            [message.value or b""],
            headers=dead_letter_headers(message, error),
        )
        metrics.OUTCOME_DEAD_LETTERS.inc()
