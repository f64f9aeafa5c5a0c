"""The batch view's consumer of `lrs.batch.outcomes.v1`.

At-least-once delivery, effectively-once effect: each poll's events are stored in one PostgreSQL
transaction of idempotent upserts, and the offsets are committed only after that transaction
commits. A crash in between means the same events are applied again, which changes nothing.
The loop is `lrs_platform.consumer`'s: an event that cannot be read or stored (a NUL byte PostgreSQL
refuses, say) is parked on `lrs.batch.outcomes.v1.dlq` with its batch's later events held behind it,
and every other batch's view goes on.

A chunk of record outcomes is checked straight from its JSON with the models' checks and no object per
record, and stored as one row holding the message (`decided_chunk_of_json`, decision 0111); whatever
that path is not sure of is read by the validating models, which have the final word.

A consumer group that has never committed (a new deployment, a renamed group) does not replay the
whole topic, which is kept for ever: it starts at the first outcome that can concern a batch of this
database still waiting for its decision, found by timestamp (`offsets_for_times`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError

from ingest import metrics
from ingest.repository import BatchRepository, DecidedChunk, ViewEvent, decided_chunk, unstorable_texts
from ingest.service import DecisionSignal
from lrs_contracts.envelope import Envelope, utc_now
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_builder_for, plain_fields
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
    Finding,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.registry import decode, event_type_of, typed_envelopes
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger
from lrs_platform.parking import DeadLetterOffice

_log = get_logger("ingest.outcomes")

OutcomeEvent = BatchValidationStarted | BatchRecordsDecided | BatchCompleted | BatchFailed | BatchAbandoned
_OUTCOME_MODELS = (BatchValidationStarted, BatchRecordsDecided, BatchCompleted, BatchFailed, BatchAbandoned)


# Envelope and payload in one validation pass: half the CPU of `decode` for a chunk of 1,000 record outcomes
_TYPED_OUTCOMES = typed_envelopes(_OUTCOME_MODELS)


def outcome_of(raw: bytes | None) -> OutcomeEvent | None:
    """The event for the batch view, or None for a readable event of another kind.

    Raises ValueError (pydantic's ValidationError and UnknownEventType are ValueErrors) for anything
    unreadable: a poison, parked by the consumer loop (at its first attempt for an event failing its contract or
    of a type the contracts do not know, as `invalid: …` or `unknown event type '…'`).
    """
    if raw is None:
        raise ValueError("empty message")
    try:
        outcome: OutcomeEvent = _TYPED_OUTCOMES.validate_json(raw).data
        return outcome
    except ValidationError:
        pass  # another kind of event, or unreadable: the registry's decoder tells which, and why
    _, payload = decode(raw)
    if isinstance(payload, _OUTCOME_MODELS):
        return payload
    return None


_ENVELOPE_OF = plain_builder_for(Envelope)
_CHUNK_OF = plain_builder_for(BatchRecordsDecided)
_EVENT_TYPE = plain_fields(Envelope).index("event_type")
_CHUNK_BATCH_ID = plain_fields(BatchRecordsDecided).index("batch_id")
_CHUNK_INDEX = plain_fields(BatchRecordsDecided).index("chunk_index")
_VIEW_EVENT_TYPES = frozenset(event_type_of(model) for model in _OUTCOME_MODELS)


def view_event_of(raw: bytes | None) -> ViewEvent | None:
    """What the batch view stores of an event (`outcome_of`'s event, a chunk as its row), or None for a
    readable event of another kind. Raises ValueError for anything unreadable, as `outcome_of`."""
    if raw is None:
        raise ValueError("empty message")
    try:
        document = orjson.loads(raw)
        if document.get("event_type") == DecidedChunk.event_type:
            return decided_chunk_of_json(document, raw)
        envelope, _ = decode_plain(raw)
        if envelope[_EVENT_TYPE] not in _VIEW_EVENT_TYPES:
            return None
    except (NotFast, ValueError, TypeError, KeyError, AttributeError):
        pass  # the validating models have the final word
    # The validating models read the rest: a batch's other events, or what the plain path refused.
    event = outcome_of(raw)
    return DecidedChunk.of(event) if isinstance(event, BatchRecordsDecided) else event


def decided_chunk_of_json(document: dict[str, Any], raw: bytes) -> DecidedChunk:
    """The row of a chunk whose message `raw` parsed as `document`, checked as the models check it: the
    envelope and the chunk's own fields by `fast_decode`'s plain builders, each record outcome here,
    with no object per record; the message itself is what is stored. Raises NotFast (or a TypeError,
    KeyError...) for anything else."""
    data = document["data"]
    outcomes = data["outcomes"]
    if outcomes.__class__ is not list:
        raise NotFast("outcomes")
    _ENVELOPE_OF({**document, "data": {}})
    chunk = _CHUNK_OF({**data, "outcomes": []})
    lines: list[int] = []
    add_line = lines.append
    achievement_ids: list[str] = []
    add_achievement_id = achievement_ids.append
    statuses = dict.fromkeys(_STATUSES, 0)
    for outcome in outcomes:
        if outcome.__class__ is not dict or not _OUTCOME_FIELDS.issuperset(outcome):
            raise NotFast("record outcome")
        line = outcome["line"]
        status = outcome["status"]
        get = outcome.get
        if (
            line.__class__ is not int
            or line < 1
            or status.__class__ is not str
            or status not in statuses
            or get("mis_identifier").__class__ not in _TEXT
            or get("action").__class__ not in _TEXT
            or get("uln_masked").__class__ not in _TEXT
        ):
            raise NotFast("record outcome")
        # most outcomes have no finding: an empty list is checked without a call
        errors = get("errors", _NO_FINDINGS)
        if errors.__class__ is not list or errors:
            _check_findings(errors)
        warnings = get("warnings", _NO_FINDINGS)
        if warnings.__class__ is not list or warnings:
            _check_findings(warnings)
        achievement_id = get("achievement_id")
        if achievement_id is not None:
            add_achievement_id(achievement_id)
        add_line(line)
        statuses[status] += 1
    # every achievement id a UUID's text, checked by one match over them all joined by commas: at 37
    # characters an id, the match's commas (one after every UUID, which holds none) are all the commas
    # there are, those the ids were joined by, so each id is one UUID
    joined = ",".join(achievement_ids) + ","
    if achievement_ids and (len(joined) != 37 * len(achievement_ids) or not _UUIDS(joined)):
        raise NotFast("achievement id")
    # a NUL character is written `\u0000` in JSON: only a message that holds that looks further
    unstorable = unstorable_texts(outcomes) if b"\\u0000" in raw else ((), ())
    return decided_chunk(uuid.UUID(chunk[_CHUNK_BATCH_ID]), chunk[_CHUNK_INDEX], lines, statuses, raw, unstorable)


_OUTCOME_FIELDS = frozenset(RecordOutcome.model_fields)
_FINDING_FIELDS = frozenset(Finding.model_fields)
_STATUSES = tuple(status.value for status in RecordStatus)
_UUIDS = re.compile(r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12},)*").fullmatch
_TEXT = frozenset((str, type(None)))
_CODE = re.compile(Finding.model_json_schema()["properties"]["code"]["pattern"]).search
_NO_FINDINGS: list[Any] = []


def _check_findings(findings: Any) -> None:
    """Raises NotFast unless `findings` is a finding list as the models read it from JSON."""
    if findings.__class__ is not list:
        raise NotFast("findings")
    for finding in findings:
        if finding.__class__ is not dict or not _FINDING_FIELDS.issuperset(finding):
            raise NotFast("finding")
        code, field, message = finding["code"], finding.get("field"), finding["message"]
        if (
            code.__class__ is not str
            or "\n" in code  # pydantic's `$` is the very end; Python's also before a final newline
            or not _CODE(code)
            or (field is not None and field.__class__ is not str)
            or message.__class__ is not str
        ):
            raise NotFast("finding")


OUTCOME_MESSAGES_PER_POLL = 10

# Outcomes are stamped by the broker after their batch was received; the margin absorbs clock skew.
START_MARGIN = timedelta(minutes=5)


def start_timestamp_ms(oldest_undecided: datetime | None, now: datetime, margin: timedelta = START_MARGIN) -> int:
    """Where a group with no committed offsets starts: before the oldest batch still waiting for its
    outcome, or shortly before now when none is waiting."""
    since = min(oldest_undecided, now) if oldest_undecided is not None else now
    return int((since - margin).timestamp() * 1000)


Positions = dict[tuple[str, int], int]


class StartWhereTheViewLeftOff(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks a partition whose stored position (kept with the view, ingest migration 0114) is behind the group's
    committed offset there: the view's database was restored to an earlier point, and the outcomes since then are
    read again, so the batches decided after it come back. A partition the group never committed on, and the view
    holds no position for, starts before the oldest batch still waiting for its outcome. A failure here leaves the
    group's committed offsets (or `auto_offset_reset`).

    Every seek of a fresh partition is to an offset read before the search by time, never `seek_to_end`: an outcome
    appended while the listener runs (the first batch of a cold start, decided while ingest was still joining its
    group) is then either found by the search or lies at or past that offset. `seek_to_end` resolves the end later,
    after such an outcome, and the group would commit past it.
    """

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        since_ms: Callable[[], Awaitable[int]],
        stored: Callable[[], Awaitable[Positions]],
        record: Callable[[Positions], Awaitable[None]],
    ) -> None:
        self._consumer = consumer
        self._since_ms = since_ms
        self._stored = stored
        self._record = record

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        stored = await self._stored()
        fresh, rewound = [], {}
        # every partition's starting place is stored (once): a backup taken before any outcome came to a partition
        # must still say where the view was on it
        unstored: Positions = {}
        for partition in assigned:
            place = (partition.topic, partition.partition)
            committed = await self._consumer.committed(partition)
            kept = stored.get(place)
            if kept is not None and (committed is None or kept < committed):
                self._consumer.seek(partition, kept)
                if committed is not None:  # else the group has read nothing of it yet: the view's start, not a rewind
                    rewound[partition.partition] = {"from": committed, "to": kept}
            elif committed is None:
                fresh.append(partition)
            elif kept is None:
                unstored[place] = committed
        if rewound:
            _log.warning("batch_view_behind_its_group", partitions=rewound)  # a restored database: read again
        if fresh:
            ends = await self._consumer.end_offsets(fresh)
            since = await self._since_ms()
            found = await self._consumer.offsets_for_times(dict.fromkeys(fresh, since))
            for partition in fresh:
                entry = found.get(partition)
                start = ends[partition] if entry is None else min(entry.offset, ends[partition])
                self._consumer.seek(partition, start)
                if (partition.topic, partition.partition) not in stored:
                    unstored[(partition.topic, partition.partition)] = start
            _log.info("outcome_consumer_started_fresh", partitions=len(fresh), since_ms=since)
        if unstored:
            await self._record(unstored)


class StoredWithTheView:
    """`Progress`: a poll's positions are stored beside the view, then committed to the group."""

    def __init__(self, repository: BatchRepository, group_id: str) -> None:
        self._repository = repository
        self._group_id = group_id

    async def passed(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        positions = {(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
        await self._repository.record_view_positions(self._group_id, positions)
        await consumer.commit(dict(offsets))


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
        self._group_id = group_id
        self.guard = PoisonGuard(CONSUMER, self.handle, office, policy)
        self._loop = ConsumerLoop(
            self.guard,
            [topic],
            lambda: consumer_factory(bootstrap_servers, group_id=group_id),
            listener=lambda consumer: StartWhereTheViewLeftOff(
                consumer, self._since_ms, self._stored_positions, self._record_positions
            ),
            progress=StoredWithTheView(repository, group_id),
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

    async def _stored_positions(self) -> Positions:
        return await self._repository.view_positions(self._group_id)

    async def _record_positions(self, positions: Positions) -> None:
        await self._repository.record_view_positions(self._group_id, positions)

    async def _since_ms(self) -> int:
        return start_timestamp_ms(await self._repository.oldest_undecided_received_at(), utc_now())

    async def handle(self, messages: Sequence[Message]) -> None:
        """Stores a poll's events in one transaction; idempotent, so a poll may be stored again."""
        events = [event for message in messages if (event := view_event_of(message.value)) is not None]
        if events:
            await self._repository.apply_outcomes(events)
            for event in events:
                metrics.OUTCOME_EVENTS.labels(event.event_type).inc()
