"""The batch view's consumer of `lrs.batch.outcomes.v1`.

At-least-once delivery, effectively-once effect: each poll's events are stored in one PostgreSQL
transaction of idempotent upserts, and the offsets are committed only after that transaction
commits. A crash in between means the same events are applied again, which changes nothing.
The loop is `lrs_platform.consumer`'s: an event that cannot be read or stored (a NUL byte PostgreSQL
refuses, say) is parked on `lrs.batch.outcomes.v1.dlq` with its batch's later events held behind it,
and every other batch's view goes on.

A chunk of record outcomes is read straight from its JSON into the columns it is stored as
(`lrs_contracts.fast_decode.decode_plain`: the contracts' own checks, no model per record); whatever
that path is not sure of is read by the validating models, which have the final word.

A consumer group that has never committed (a new deployment, a renamed group) does not replay the
whole topic, which is kept for ever: it starts at the first outcome that can concern a batch of this
database still waiting for its decision, found by timestamp (`offsets_for_times`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Union

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import Field, TypeAdapter, ValidationError, create_model

from ingest import metrics
from ingest.repository import NO_FINDINGS, BatchRepository, DecidedRecords, ViewEvent
from ingest.service import DecisionSignal
from lrs_contracts.envelope import Envelope, utc_now
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_fields
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided, BatchValidationStarted
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger
from lrs_platform.parking import DeadLetterOffice

_log = get_logger("ingest.outcomes")

OutcomeEvent = BatchValidationStarted | BatchRecordsDecided | BatchCompleted | BatchFailed


def _typed_outcomes() -> TypeAdapter[Any]:
    """One validation pass for envelope and payload (the registry's `decode` takes two, the second over
    the dicts of the first): an Envelope subclass per outcome event type, discriminated by `event_type`.
    The same rules, half the CPU for a chunk of 1,000 record outcomes."""
    typed: list[Any] = []
    for model in (BatchValidationStarted, BatchRecordsDecided, BatchCompleted, BatchFailed):
        event_type = model.model_fields["event_type"].default
        typed.append(
            create_model(
                f"Typed{model.__name__}",
                __base__=Envelope,
                event_type=(Literal[event_type], ...),  # type: ignore[arg-type]
                data=(model, ...),
            )
        )
    return TypeAdapter(Annotated[Union[tuple(typed)], Field(discriminator="event_type")])  # type: ignore[arg-type]  # noqa: UP007


_TYPED_OUTCOMES = _typed_outcomes()


def outcome_of(raw: bytes | None) -> OutcomeEvent | None:
    """The event for the batch view, or None for a readable event of another kind.

    Raises ValueError (pydantic's ValidationError and UnknownEventType are ValueErrors) for anything
    unreadable: a poison, parked by the consumer loop.
    """
    if raw is None:
        raise ValueError("empty message")
    try:
        outcome: OutcomeEvent = _TYPED_OUTCOMES.validate_json(raw).data
        return outcome
    except ValidationError:
        pass  # another kind of event, or unreadable: the registry's decoder tells which, and why
    _, payload = decode(raw)
    if isinstance(payload, BatchValidationStarted | BatchRecordsDecided | BatchCompleted | BatchFailed):
        return payload
    return None


_EVENT_TYPE = plain_fields(Envelope).index("event_type")
_CHUNK_BATCH_ID = plain_fields(BatchRecordsDecided).index("batch_id")
_CHUNK_OUTCOMES = plain_fields(BatchRecordsDecided).index("outcomes")
_VIEW_EVENT_TYPES = frozenset(
    model.model_fields["event_type"].default
    for model in (BatchValidationStarted, BatchRecordsDecided, BatchCompleted, BatchFailed)
)


def view_event_of(raw: bytes | None) -> ViewEvent | None:
    """What the batch view stores of an event (`outcome_of`'s event, a chunk as its columns), or None
    for a readable event of another kind. Raises ValueError for anything unreadable, as `outcome_of`."""
    if raw is None:
        raise ValueError("empty message")
    try:
        envelope, payload = decode_plain(raw)
    except NotFast:
        pass
    else:
        event_type = envelope[_EVENT_TYPE]
        if event_type == DecidedRecords.event_type:
            return decided_records_of_plain(payload)
        if event_type not in _VIEW_EVENT_TYPES:
            return None
    # The validating models read the rest: a batch's three other events, or what the plain path refused.
    event = outcome_of(raw)
    return DecidedRecords.of(event) if isinstance(event, BatchRecordsDecided) else event


def decided_records_of_plain(chunk: tuple[Any, ...]) -> DecidedRecords:
    """The columns of a chunk read by `decode_plain` (a record outcome's plain fields are line,
    MIS identifier, action, masked ULN, status, errors, warnings, achievement id)."""
    batch_id = uuid.UUID(chunk[_CHUNK_BATCH_ID])
    outcomes = chunk[_CHUNK_OUTCOMES]
    if not outcomes:
        return DecidedRecords(batch_id, [], [], [], [], [], [], [], [])
    lines, mis_identifiers, actions, ulns_masked, statuses, errors, warnings, achievement_ids = zip(
        *outcomes, strict=True
    )
    return DecidedRecords(
        batch_id,
        list(lines),
        list(mis_identifiers),
        list(actions),
        list(ulns_masked),
        [status.value for status in statuses],
        [_findings_text(findings) if findings else NO_FINDINGS for findings in errors],
        [_findings_text(findings) if findings else NO_FINDINGS for findings in warnings],
        list(achievement_ids),
    )


def _findings_text(findings: tuple[tuple[str, str | None, str], ...]) -> str:
    """`repository.findings_json` of plain findings (code, field, message)."""
    return orjson.dumps(
        [{"code": code, "field": field, "message": message} for code, field, message in findings]
    ).decode()


OUTCOME_MESSAGES_PER_POLL = 10

# Outcomes are stamped by the broker after their batch was received; the margin absorbs clock skew.
START_MARGIN = timedelta(minutes=5)


def start_timestamp_ms(oldest_undecided: datetime | None, now: datetime, margin: timedelta = START_MARGIN) -> int:
    """Where a group with no committed offsets starts: before the oldest batch still waiting for its
    outcome, or shortly before now when none is waiting."""
    since = min(oldest_undecided, now) if oldest_undecided is not None else now
    return int((since - margin).timestamp() * 1000)


class StartAtFirstUndecidedBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks partitions the group never committed on; a failure here leaves `auto_offset_reset`.

    Every seek is to an offset read before the search by time, never `seek_to_end`: an outcome
    appended while the listener runs (the first batch of a cold start, decided while ingest was still
    joining its group) is then either found by the search or lies at or past that offset. `seek_to_end`
    resolves the end later, after such an outcome, and the group would commit past it.
    """

    def __init__(self, consumer: AIOKafkaConsumer, since_ms: Callable[[], Awaitable[int]]) -> None:
        self._consumer = consumer
        self._since_ms = since_ms

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        fresh = [partition for partition in assigned if await self._consumer.committed(partition) is None]
        if not fresh:
            return
        ends = await self._consumer.end_offsets(fresh)
        since = await self._since_ms()
        found = await self._consumer.offsets_for_times(dict.fromkeys(fresh, since))
        for partition in fresh:
            entry = found.get(partition)
            self._consumer.seek(partition, ends[partition] if entry is None else min(entry.offset, ends[partition]))
        _log.info("outcome_consumer_started_fresh", partitions=len(fresh), since_ms=since)


ConsumerFactory = Callable[..., AIOKafkaConsumer]

CONSUMER = "ingest.batch-view"


class OutcomeConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        repository: BatchRepository,
        office: DeadLetterOffice,
        signal: DecisionSignal,
        *,
        consumer_factory: ConsumerFactory = make_consumer,
        policy: RetryPolicy = RetryPolicy(),
        topic: str = BATCH_OUTCOMES.name,
    ) -> None:
        self._repository = repository
        self.guard = PoisonGuard(CONSUMER, self.handle, office, policy)
        self._loop = ConsumerLoop(
            self.guard,
            [topic],
            lambda: consumer_factory(bootstrap_servers, group_id=group_id),
            listener=lambda consumer: StartAtFirstUndecidedBatch(consumer, self._since_ms),
            # One message carries up to 1,000 record outcomes: a few messages are a full transaction.
            max_records=OUTCOME_MESSAGES_PER_POLL,
            after_progress=signal.notify,
        )

    @property
    def caught_up(self) -> bool:
        """The last poll found nothing new: for readiness checks and tests."""
        return self._loop.caught_up

    async def run(self) -> None:
        """Consumes until cancelled; a failing client is rebuilt from the committed offsets."""
        await self._loop.run()

    async def _since_ms(self) -> int:
        return start_timestamp_ms(await self._repository.oldest_undecided_received_at(), utc_now())

    async def handle(self, messages: Sequence[Message]) -> None:
        """Stores a poll's events in one transaction; idempotent, so a poll may be stored again."""
        events = [event for message in messages if (event := view_event_of(message.value)) is not None]
        if events:
            await self._repository.apply_outcomes(events)
            for event in events:
                metrics.OUTCOME_EVENTS.labels(event.event_type).inc()
