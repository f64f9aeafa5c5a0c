"""The consumer loop: log records in, one PostgreSQL transaction per batch, offsets stored with the rows.

No consumer group: every partition of the three topics is assigned by hand and the positions live in
the read model's `offsets` table, written in the same transaction as the rows they produced. After a
crash the loop seeks to them, so a batch is applied entirely or not at all (effectively once).

Failures go through `lrs_platform.consumer.Attempts` (classification, bounded backoff, metrics,
readiness). An event the projection refuses is parked by `project_batch` with its stream held behind
it, and so is one whose values the read model's columns cannot hold (a NUL in a text, credits beyond
`integer`: `storable`), before anything is written, as a rebuild parks it. One PostgreSQL refuses
all the same (what no check foresaw) fails its whole batch, which is then written one event at a
time so that only that event is parked (with its stream) and the rest goes on.
Parked poison is copied to `<topic>.dlq` with the `lrs_contracts.dead_letters` headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from lrs_contracts.dead_letters import DeadLetter, error_text, peek_event
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.identifiers import is_uuid
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_domain.identifiers import mask_uln
from lrs_platform.consumer import FAILURES, MESSAGES, Attempts, Failure, Poisoned, classify_failure, deliver_messages
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger
from lrs_platform.parking import producer_publisher, send_dead_letter
from plr_projector import metrics
from plr_projector.config import ProjectorSettings
from plr_projector.projection import (
    PLR_TOPIC,
    PROJECTED_TOPICS,
    BatchChanges,
    Message,
    OperatorAction,
    Parked,
    ParkedHeads,
    PlainEvent,
    Position,
    batch_of,
    decode_message,
    decode_plain_achievements,
    needs_of,
    note_head,
    peek_batch_id,
    plain_needs,
    project_batch,
    project_plain,
)
from plr_projector.store import ReadModel, operator_actions

TopicPositions = dict[tuple[str, int], int]

_log = get_logger("plr_projector.consumer")


def _stream_named(message: Message) -> dict[str, str]:
    """How a log line names a parked message's stream, as `lrs dlq list` does: a challenge event's by its
    achievement id (no personal data), a learner's by their masked ULN, as `uln`, the field every other service's
    lines name a masked ULN by (a query on `uln` missed the projector's held events: tracer walk, finding 11)."""
    topic, key = message.stream
    if topic.endswith(CHALLENGE_EVENTS.name):
        return {"achievement": key}
    return {"uln": mask_uln(key)}


def _parked_named(parked: Parked) -> dict[str, str]:
    """The batch, event id and event type of a parked event, those known, for its log line: a grep of the batch id
    (as `lrs dlq list` prints it) or of the event id found no `message_parked` (tracer walk, finding 1)."""
    named = {"batch_id": parked.batch_id, "event_id": parked.event_id, "event_type": parked.event_type}
    return {name: str(value) for name, value in named.items() if value is not None}


@dataclass(frozen=True)
class Topics:
    """Logical topic names (as in `contracts`) and their physical names on this cluster: the
    environment's (`lrs_contracts.environments`), under an extra prefix for private copies."""

    prefix: str = ""
    environment: Environment = Environment.LIVE

    @staticmethod
    def of(settings: ProjectorSettings) -> Topics:
        """The topics a projector (or a rebuild worker) with these settings reads and writes."""
        return Topics(settings.topic_prefix, settings.environment)

    @functools.cached_property
    def _names(self) -> TopicNames:
        return TopicNames(self.environment, self.prefix)

    def physical(self, logical: str) -> str:
        return self._names.physical(logical)

    def logical(self, physical: str) -> str:
        return self._names.logical(physical)

    def dead_letters(self, logical: str) -> str:
        return self._names.dead_letters(logical)


@dataclass(frozen=True)
class ReadAhead:
    """The next poll, read and decoded while the previous one's transaction was being written."""

    messages: list[Message]
    positions: TopicPositions  # every partition's position right after the poll
    plain: list[PlainEvent] | None  # its PLR events for the plain path (None: the full path decides)
    generation: int  # the runner's seeks (`reload`) when it was read: another seek makes it stale


@dataclass
class RunnerStats:
    events: int = 0
    batches: int = 0
    newest_timestamp_ms: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None


class Runner:
    """Projects the log into one read-model schema. `lock` pauses it between batches."""

    def __init__(
        self,
        name: str,
        model: ReadModel,
        pool: asyncpg.Pool,
        bootstrap_servers: str,
        topics: Topics,
        *,
        max_batch_records: int,
        poll_timeout_ms: int,
        dead_letter_producer: AIOKafkaProducer | None,
        operator_actions: dict[Position, OperatorAction] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.pool = pool
        self.topics = topics
        self.lock = asyncio.Lock()
        self.stats = RunnerStats()
        self.positions: TopicPositions = {}
        self._caught_up_at_ms: dict[str, float] = {}  # by topic: when `lag` last found nothing waiting
        self._past_the_end_said: set[tuple[str, int]] = set()
        self.parked_streams: ParkedHeads = {}
        # Shared by every runner of the process, so a skip or replacement reaches a running rebuild.
        self.actions: dict[Position, OperatorAction] = operator_actions if operator_actions is not None else {}
        self._bootstrap = bootstrap_servers
        self._max_records = max_batch_records
        self._poll_timeout_ms = poll_timeout_ms
        self._producer = dead_letter_producer
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._task: asyncio.Task[None] | None = None
        self._dead_letters_pending = False
        self._stale = False  # a failed step moved the consumer: seek back to the stored offsets first
        self._generation = 0  # counts `reload`s, which seek the consumer
        self._ahead: ReadAhead | None = None
        self._reading_ahead: asyncio.Task[ReadAhead | None] | None = None
        self._stepped = asyncio.Event()  # set, and replaced, after each committed step
        # Whether the last look at a poll's achievement keys found no row there: the next poll's plain
        # events are then folded as if none had one, and written if PostgreSQL agrees (`_apply`).
        self._keys_were_new = False
        # one name for this runner wherever a consumer is named: metrics, /readyz and its dead letters' header
        self.attempts = Attempts(f"plr-projector.{model.schema}")
        # the (topic, outcome) series of EVENTS this runner exports, each at 0 from its start
        self._counted: set[tuple[str, str]] = metrics.count_from_zero(name, PROJECTED_TOPICS)

    @property
    def consumer(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "runner not started"
        return self._consumer

    @property
    def publishes_dead_letters(self) -> bool:
        return self._producer is not None

    @property
    def partitions(self) -> list[TopicPartition]:
        return list(self._partitions)

    async def start(self) -> None:
        consumer = make_consumer(self._bootstrap, group_id=None, max_partition_fetch_bytes=4 * 1_048_576)
        deliver_messages(consumer)  # the platform's tuples, not aiokafka's record objects: ~1 µs less a record
        await consumer.start()
        self._consumer = consumer
        partitions: list[TopicPartition] = []
        for logical in PROJECTED_TOPICS:
            physical = self.topics.physical(logical)
            deadline = time.monotonic() + 30
            while True:
                # No subscription, so the consumer tracks no topic metadata: ask for the cluster's.
                cluster = await consumer._client.fetch_all_metadata()
                found = cluster.partitions_for_topic(physical)
                if found:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {physical} has no partitions")
                await asyncio.sleep(0.2)
            partitions.extend(TopicPartition(physical, partition) for partition in sorted(found))
        consumer.assign(partitions)
        self._partitions = partitions
        await self.reload()

    async def reload(self) -> None:
        """Seeks to the stored offsets and reloads parked streams and operator actions."""
        self._generation += 1
        self._ahead = None
        async with self.pool.acquire() as connection:
            stored = await self.model.offsets(connection)
            self.parked_streams = await self.model.parked_streams(connection)
            actions = await operator_actions(connection)
            self.actions.clear()
            self.actions.update(actions)
            self._dead_letters_pending = bool(await self.model.pending_dead_letters(connection, limit=1))
        self.positions = {}
        beginning: list[TopicPartition] = []
        for tp in self._partitions:
            key = (self.topics.logical(tp.topic), tp.partition)
            if key in stored:
                self.consumer.seek(tp, stored[key])
                self.positions[key] = stored[key]
            else:
                beginning.append(tp)
        if beginning:
            await self.consumer.seek_to_beginning(*beginning)
            for tp in beginning:
                self.positions[(self.topics.logical(tp.topic), tp.partition)] = await self.consumer.position(tp)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def retire_metrics(self) -> None:
        """A runner gone for good (a rebuild's, switched or abandoned): its series leave /metrics."""
        for topic, outcome in self._counted:
            metrics.EVENTS.remove(self.name, topic, outcome)
        self._counted.clear()
        with contextlib.suppress(KeyError):
            metrics.BATCH_SECONDS.remove(self.name)
        self.attempts.retire()

    def run_in_background(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"projector-{self.name}")

    async def run(self) -> None:
        structlog.contextvars.unbind_contextvars("request_id")  # inherited from a request that started it
        while True:
            await self.attempts.until_done(self._next_batch)

    async def _next_batch(self) -> None:
        try:
            async with self.lock:
                if self._stale:
                    await self.reload()
                    self._stale = False
                await self.step()
            if self._dead_letters_pending:
                await self.publish_dead_letters()
        except Exception as error:
            # The transaction rolled back: go back to the stored offsets before trying again.
            self._stale = True
            self.stats.last_error = f"{type(error).__name__}: {str(error)[:300]}"
            raise

    async def step(self, limits: Mapping[tuple[str, int], int] | None = None) -> int:
        """Reads one batch and projects it in one transaction. Call with `lock` held.

        Following the log (no `limits`), the next poll is read and decoded while this one's rows are
        written (PostgreSQL works on them meanwhile), and projected by the next step."""
        ahead = self._ahead
        self._ahead = None
        if ahead is not None and (limits is not None or ahead.generation != self._generation):
            if ahead.generation == self._generation:  # unused: the consumer goes back to where it was read
                self._seek_to_positions()
            ahead = None
        rewind: dict[TopicPartition, int] = {}
        if ahead is None:
            fetched = await self.consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=self._max_records)
            messages, rewind = self._messages_of(fetched, limits)
            positions = {
                key: rewind[tp] if tp in rewind else await self.consumer.position(tp)
                for key, tp in self._keyed_partitions()
            }
            plain = self._decode_plain(messages)
        else:
            messages, positions = ahead.messages, ahead.positions
            plain = ahead.plain if self._still_plain(messages) else None
        next_offsets = {key: position for key, position in positions.items() if position != self.positions.get(key)}
        if not messages and not next_offsets:
            return 0
        started = time.perf_counter()
        read_ahead = limits is None and len(messages) >= self._max_records
        try:
            changes = await self._apply(messages, next_offsets, plain, read_ahead=read_ahead)
        except BaseException as error:
            if self._reading_ahead is not None:
                self._drop_reading_ahead()
                self._stale = True  # the consumer may have read past this batch: back to the stored offsets
            if not isinstance(error, Exception) or classify_failure(error) is Failure.TRANSIENT:
                raise
            changes = await self._apply_one_by_one(messages, next_offsets)
        for tp, offset in rewind.items():
            self.consumer.seek(tp, offset)
        self.positions.update(next_offsets)
        if self._reading_ahead is not None:
            try:
                self._ahead = await self._reading_ahead
            except Exception as error:  # the Kafka client failed: the next step starts again from the stored offsets
                _log.warning("projector_read_ahead_failed", error=error_text(error))
                self._stale = True
            finally:
                self._reading_ahead = None
        self.account(changes, time.perf_counter() - started)
        self._stepped.set()
        self._stepped = asyncio.Event()
        return len(messages)

    def _drop_reading_ahead(self) -> None:
        task, self._reading_ahead = self._reading_ahead, None
        if task is not None:
            task.cancel()
            if task.done() and not task.cancelled():
                task.exception()  # dropped with the batch it was read behind, whatever it found

    def _messages_of(
        self, fetched: Mapping[TopicPartition, Sequence[Any]], limits: Mapping[tuple[str, int], int] | None
    ) -> tuple[list[Message], dict[TopicPartition, int]]:
        """A poll's records (the platform's `Message`s, `deliver_messages`) up to `limits`, with logical topic
        names, and where the consumer must go back to after them."""
        messages: list[Message] = []
        rewind: dict[TopicPartition, int] = {}
        for tp, records in fetched.items():
            logical = (self.topics.logical(tp.topic),)
            limit = limits.get((logical[0], tp.partition)) if limits is not None else None
            for record in records:
                if limit is not None and record.offset >= limit:
                    rewind[tp] = limit
                    break
                # (topic, partition, offset, key, value, timestamp_ms) with the logical topic; tuple.__new__:
                # without the NamedTuple's Python-level __new__, per record
                messages.append(tuple.__new__(Message, logical + record[1:]))
        return messages, rewind

    def _keyed_partitions(self) -> list[tuple[tuple[str, int], TopicPartition]]:
        return [((self.topics.logical(tp.topic), tp.partition), tp) for tp in self._partitions]

    def _seek_to_positions(self) -> None:
        for key, tp in self._keyed_partitions():
            if key in self.positions:
                self.consumer.seek(tp, self.positions[key])

    async def _read_next(self) -> ReadAhead | None:
        """The next poll if the consumer holds one already (None if not), decoded for the plain path."""
        generation = self._generation
        fetched = await self.consumer.getmany(timeout_ms=0, max_records=self._max_records)
        if not fetched:
            return None
        messages, _ = self._messages_of(fetched, None)
        positions = {key: await self.consumer.position(tp) for key, tp in self._keyed_partitions()}
        return ReadAhead(messages, positions, self._decode_plain(messages), generation)

    def _decode_plain(self, messages: list[Message]) -> list[PlainEvent] | None:
        plr = [message for message in messages if message.topic == PLR_TOPIC]
        return decode_plain_achievements(plr, self.actions, self.parked_streams) if plr else None

    def _still_plain(self, messages: list[Message]) -> bool:
        """Whether a poll decoded ahead is still for the plain path: no operator action or parked
        stream came since for any of its events (the plain path refuses those)."""
        actions, parked = self.actions, self.parked_streams
        if not actions and not parked:
            return True
        return not any(message.position in actions or message.stream in parked for message in messages)

    async def stepped(self, timeout: float) -> None:
        """Returns after the next step this runner commits, or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stepped.wait(), timeout)

    async def _apply(
        self,
        messages: list[Message],
        next_offsets: TopicPositions,
        plain: list[PlainEvent] | None,
        *,
        read_ahead: bool = False,
    ) -> BatchChanges:
        """`plain`: `_decode_plain(messages)`. `read_ahead`: the next poll is read into `_reading_ahead`
        while the rows are written.

        While polls bring new achievements only (the last look at a poll's keys found no row), the
        plain events are folded without looking: as if no achievement were stored at their keys.
        Every row that fold writes is then a new one, copied straight into `achievements`, whose
        primary key fails the copy if a row was there after all; the poll is then folded again with
        the rows at its keys, in a new transaction. A fold with no row at the keys that refuses an
        event looks at them before it decides."""
        guess = plain is not None and self._keys_were_new
        try:
            changes = await self._apply_once(messages, next_offsets, plain, read_ahead=read_ahead, guess=guess)
        except asyncpg.UniqueViolationError:
            if not guess:
                raise
            self._keys_were_new = False
            changes = await self._apply_once(
                messages, next_offsets, plain, read_ahead=read_ahead and self._reading_ahead is None, guess=False
            )
        for parked in changes.parked:
            note_head(self.parked_streams, parked.message)
            if parked.reason == "blocked":
                # held behind its stream's poison, not applied: said once, naming its batch, so a batch followed
                # through the logs shows which of its events wait on the operator's fix (incident walk, finding 2)
                _log.warning(
                    "message_held",
                    consumer=f"plr-projector.{self.model.schema}",
                    batch_id=str(parked.batch_id) if parked.batch_id else None,
                    topic=parked.message.topic,
                    partition=parked.message.partition,
                    offset=parked.message.offset,
                    event_id=str(parked.event_id) if parked.event_id else None,
                    **_stream_named(parked.message),
                )
            elif parked.reason == "error":
                # parked at first sight (trying again changes nothing): a poison all the same, counted as one
                FAILURES.labels(self.attempts.consumer, Failure.POISON.value).inc()
                _log.error(
                    "message_parked",
                    consumer=f"plr-projector.{self.model.schema}",
                    topic=parked.message.topic,
                    partition=parked.message.partition,
                    offset=parked.message.offset,
                    **_parked_named(parked),
                    **_stream_named(parked.message),
                    error=parked.error,
                )
                self._dead_letters_pending = self._producer is not None
        self._say_duplicates(messages, changes)
        return changes

    def _say_duplicates(self, messages: Sequence[Message], changes: BatchChanges) -> None:
        """One `duplicate_ignored` (info) a batch this step applied nothing of, only copies of its events already on
        learners' records (at or below its mark), with how many (`events`) and the first one's place and ids: a copy
        with a new event id (or other values) was dropped with a counter only, while challenges, reading the same
        message, parked it (tracer walk, finding 8). A step that applies some of a batch's events counts its copies in
        `batch_events_projected` instead."""
        copied = {batch_id for batch_id, outcome in changes.batch_outcomes if outcome == "duplicate"}
        if not copied:
            return
        copied -= {batch_id for batch_id, outcome in changes.batch_outcomes if outcome != "duplicate"}
        copied -= {batch_id for batch_id, _ in changes.marks}
        parked = {item.message.position for item in changes.parked}
        first_copies: dict[uuid.UUID, Message] = {}
        counted: Counter[uuid.UUID] = Counter()
        for message in messages:
            if message.topic != PLR_TOPIC or message.position in parked or message.position in self.actions:
                continue
            batch_id = peek_batch_id(message.value)
            if batch_id is not None and batch_id in copied:
                first_copies.setdefault(batch_id, message)
                counted[batch_id] += 1
        for batch_id, message in first_copies.items():  # one line a batch, however many of its events came again
            event_id, event_type = peek_event(message.value)
            _log.info(
                "duplicate_ignored",
                consumer=self.attempts.consumer,
                batch_id=str(batch_id),
                events=counted[batch_id],
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                **({"event_id": event_id} if event_id is not None else {}),
                **({"event_type": event_type} if event_type is not None else {}),
                **_stream_named(message),
            )

    async def _apply_once(
        self,
        messages: list[Message],
        next_offsets: TopicPositions,
        plain: list[PlainEvent] | None,
        *,
        read_ahead: bool,
        guess: bool,
    ) -> BatchChanges:
        """The poll's changes, written (`guess`: see `_apply`)."""
        rest = messages if plain is None else [message for message in messages if message.topic != PLR_TOPIC]
        decoded = [decode_message(message, self.actions) for message in rest]
        async with self.pool.acquire() as connection, connection.transaction():
            changes = BatchChanges()
            if plain:
                folded = await self._fold_plain(connection, plain, guess=guess)
                if folded is None:  # an event the fold refuses: the full path parks it, with its reason
                    decoded = [decode_message(message, self.actions) for message in messages]
                else:
                    changes = folded
            if decoded:
                snapshot = await self.model.load_snapshot(connection, needs_of(decoded), self.parked_streams)
                changes.add(project_batch(snapshot, decoded))
            if read_ahead:
                self._reading_ahead = asyncio.create_task(self._read_next())
            await self.model.write(connection, changes, next_offsets, publish_dead_letters=self._producer is not None)
        return changes

    async def _fold_plain(
        self, connection: asyncpg.Connection, plain: list[PlainEvent], *, guess: bool
    ) -> BatchChanges | None:
        if guess:
            folded = project_plain(
                await self.model.load_snapshot(connection, plain_needs(plain, keys=False), {}), plain
            )
            if folded is not None:
                return folded
        snapshot = await self.model.load_snapshot(connection, plain_needs(plain), {})
        self._keys_were_new = not snapshot.achievements  # the plain path's snapshot holds the rows at its keys only
        return project_plain(snapshot, plain)

    async def _apply_one_by_one(self, messages: list[Message], next_offsets: TopicPositions) -> BatchChanges:
        """Each event in its own transaction with its own offset; one that cannot be stored is parked."""
        total = BatchChanges()
        for message in messages:
            offset = {(message.topic, message.partition): message.offset + 1}
            outcome = await self.attempts.run(
                functools.partial(self._apply, [message], offset, self._decode_plain([message]))
            )
            if isinstance(outcome, Poisoned):
                outcome = await self.attempts.until_done(functools.partial(self._park, message, outcome, offset))
            total.add_summary(outcome)  # its outcomes (of each batch too), marks and newest broker times
        # partitions that moved without a message of ours (transaction markers, a rewind)
        await self.attempts.until_done(functools.partial(self._apply, [], next_offsets, None))
        return total

    async def _park(self, message: Message, poisoned: Poisoned, offset: TopicPositions) -> BatchChanges:
        letter = DeadLetter.of(
            error=poisoned.error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            consumer=self.attempts.consumer,
            attempts=poisoned.attempts,
            value=message.value,
        )
        parked = Parked(
            message=message,
            reason="error",
            error=letter.error,
            event_id=uuid.UUID(letter.event_id) if letter.event_id and is_uuid(letter.event_id) else None,
            event_type=letter.event_type,
            value=message.value,
            attempts=poisoned.attempts,
            batch_id=batch_of(message, None),  # parked undecoded: what its bytes name
        )
        changes = BatchChanges(parked=[parked])
        changes.outcomes[(message.topic, "parked")] += 1
        if parked.batch_id is not None:
            changes.batch_outcomes[(parked.batch_id, "parked")] += 1
        async with self.pool.acquire() as connection, connection.transaction():
            await self.model.write(connection, changes, offset, publish_dead_letters=self._producer is not None)
        note_head(self.parked_streams, message)
        self._dead_letters_pending = self._producer is not None
        _log.error(
            "message_parked",
            consumer=f"plr-projector.{self.model.schema}",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            **_parked_named(parked),
            **_stream_named(message),
            error=letter.error,
        )
        return changes

    def account(self, changes: BatchChanges, seconds: float) -> None:
        self.stats.batches += 1
        for (topic, outcome), count in changes.outcomes.items():
            metrics.EVENTS.labels(self.name, topic, outcome).inc(count)
            self._counted.add((topic, outcome))
            self.stats.events += count
        # the platform's consumer series too, as every other consumer counts them: a copy is finished with as
        # applied, a poison parked, an event behind one held
        consumer, held = self.attempts.consumer, sum(parked.reason == "blocked" for parked in changes.parked)
        applied = sum(count for (_, outcome), count in changes.outcomes.items() if outcome in ("applied", "duplicate"))
        MESSAGES.labels(consumer, "applied").inc(applied)
        MESSAGES.labels(consumer, "parked").inc(len(changes.parked) - held)
        MESSAGES.labels(consumer, "held").inc(held)
        for topic, timestamp in changes.newest_timestamp_ms.items():
            self.stats.newest_timestamp_ms[topic] = max(self.stats.newest_timestamp_ms.get(topic, 0), timestamp)
        metrics.BATCH_SECONDS.labels(self.name).observe(seconds)
        # the batches the step applied events of (an event applied below its batch's mark raises none: one held
        # behind a poison, released by an operator's skip after the rest of its batch was applied), and those it
        # parked poisons of: a batch whose only events were parked got no line, its `parked` never said (tracer
        # walk, finding 1)
        named = {batch_id for batch_id, _ in changes.marks}
        named.update(batch_id for batch_id, outcome in changes.batch_outcomes if outcome in ("applied", "parked"))
        if named:  # a decision's events: the batch can be followed from validation's `batch_decided`
            batches = sorted(str(batch_id) for batch_id in named)
            # a step of one batch also names it as `batch_id`, the field the other services' lines name a batch by: a
            # log query on that field missed the projector's line (sre walk, finding 4); several stay in `batches`
            one = {"batch_id": batches[0]} if len(batches) == 1 else {}
            # the counts are of these batches' own events (each event's batch, `batch_of`): `events` those now on
            # learners' records (applied, or copies of ones that were), the others apart: `held` behind another
            # event's poison, `parked` poisons, `skipped` by an operator. Another batch's poison an operator skipped
            # in the same step is not counted here (incident walk, finding 2)
            counts: Counter[str] = Counter()
            for (batch_id, outcome), count in changes.batch_outcomes.items():
                if batch_id in named:
                    counts[outcome] += count
            _log.info(
                "batch_events_projected",
                consumer=consumer,
                **one,
                batches=batches,
                events=counts["applied"] + counts["duplicate"],
                held=counts["held"],
                parked=counts["parked"],
                skipped=counts["skipped"],
                ms=round(seconds * 1000, 1),
            )

    async def catch_up(self, targets: Mapping[tuple[str, int], int], timeout: float = 300.0) -> None:
        """Projects up to (not beyond) `targets`. Call with `lock` held.

        A runner whose last step failed (`_stale`: its consumer read past what it committed, and the background
        loop waits out its back-off, the lock free) goes back to its stored offsets first, as `_next_batch` does:
        else a partition the next poll brought nothing of would be stored at the consumer's position, past events
        never applied (a switch lined up meanwhile made that gap the live model's, silently)."""
        if self._stale:
            await self.reload()
            self._stale = False
        deadline = time.monotonic() + timeout
        while any(self.positions.get(key, 0) < target for key, target in targets.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not reach {dict(targets)} in {timeout}s")
            await self.step(limits=targets)

    async def publish_dead_letters(self) -> None:
        """The outbox of the dead-letter topics: parked poison events are produced after their commit (an event too
        large to send again without its value, `send_dead_letter`: the parked row keeps it)."""
        if self._producer is None:
            return
        publish = producer_publisher(self._producer)
        while True:
            async with self.pool.acquire() as connection:
                pending = await self.model.pending_dead_letters(connection)
                if not pending:
                    self._dead_letters_pending = False
                    return
                for row in pending:
                    letter = DeadLetter(
                        error=row.error or "",
                        original_topic=row.topic,
                        original_partition=row.partition,
                        original_offset=row.offset,
                        consumer=f"plr-projector.{self.model.schema}",
                        attempts=max(1, row.attempts),
                        parked_at=row.parked_at or datetime.now(UTC),
                        event_id=str(row.event_id) if row.event_id else None,
                        event_type=row.event_type,
                    )
                    await send_dead_letter(
                        publish, self.topics.dead_letters(row.topic), row.message_key, row.value, letter
                    )
                await self.model.mark_dead_letters_published(connection, [row.position for row in pending])

    def _say_past_the_end(self, tp: TopicPartition, stored: int, end: int) -> None:
        """A stored offset past a partition's end means the log was recreated or truncated under the model (or the
        database restored from another cluster's): the consumer starts the partition again from its beginning
        (`auto_offset_reset`), each event a duplicate or new. Said once a partition, rather than silently."""
        if (tp.topic, tp.partition) in self._past_the_end_said:
            return
        self._past_the_end_said.add((tp.topic, tp.partition))
        _log.warning("stored_offset_past_the_log_end", topic=tp.topic, partition=tp.partition, stored=stored, end=end)

    def lag(self) -> dict[str, dict[str, Any]]:
        """Per topic: records behind the last stable offset seen by the consumer, and how old."""
        consumer = self._consumer
        result: dict[str, dict[str, Any]] = {}
        if consumer is None:
            return result
        for tp in self._partitions:
            logical = self.topics.logical(tp.topic)
            end = consumer.last_stable_offset(tp)
            position = self.positions.get((logical, tp.partition), 0)
            if end is not None and 0 <= end < position:
                self._say_past_the_end(tp, position, end)
            behind = max(0, (end if end is not None and end >= 0 else position) - position)
            entry = result.setdefault(logical, {"events": 0, "seconds": 0.0})
            entry["events"] += behind
        now_ms = time.time() * 1000
        for logical, entry in result.items():
            if not entry["events"]:
                self._caught_up_at_ms[logical] = now_ms
                continue
            # The records waiting came after the newest one projected and after the projector was last seen caught
            # up: the later of the two bounds the oldest's age (the newest projected alone counted a quiet spell
            # before the first batch of a morning as lag).
            since = max(self.stats.newest_timestamp_ms.get(logical, 0), self._caught_up_at_ms.get(logical, 0))
            if since:
                entry["seconds"] = max(0.0, (now_ms - since) / 1000)
        return result
