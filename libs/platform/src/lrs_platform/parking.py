"""Parked messages: what a service's consumers could not apply, kept in PostgreSQL for operators.

Each service keeps them in its own schema (`<service schema>_parked`, table `parked_messages`, made
by `ParkedMessages.migrate`). A row is either the poison itself (`reason = 'error'`, also copied to
`<topic>.dlq` with the `lrs_contracts.dead_letters` headers) or a later message of the same key held
behind it (`'blocked'`), so that one key's messages are never applied out of order.

`DeadLetterOffice` ties the table to the dead-letter topics and to the consumers that can apply a
parked message again (`lrs dlq retry|skip --service NAME`); `lrs_platform.consumer` parks into it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar, overload

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from prometheus_client import Gauge

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeRaisedV1, ChallengeResolved
from lrs_contracts.dead_letters import (
    KEPT_BY_A_CORRECTED_COPY,
    DeadLetter,
    Headers,
    dead_letter_topic,
    error_text,
    fields_changed,
    learners_named,
    peek_event,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.learner import (
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
)
from lrs_contracts.plr import (
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
)
from lrs_contracts.registry import EVENT_TYPES, UnknownEventType, decode, event_type_of
from lrs_contracts.sandpit import SandpitAchievementsErased, SandpitResetApplied
from lrs_platform.database import advisory_lock_key, apply_migrations, where_given
from lrs_platform.kafka import MAX_MESSAGE_BYTES
from lrs_platform.logging import get_logger

_log = get_logger("lrs.parking")

DeadLetterPublisher = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[None]]
"""Sends (topic, key, value, headers) and returns once the broker has it."""

Stream = tuple[str, bytes]  # (topic, key): the messages that must stay in order
# How long a consumer waits for a retry or skip of a stream it would park a message behind (another replica's)
LOCK_WAIT_MS = 30_000
# The store, and the connection, of the retry or skip this task is in (`ParkedMessages.stream_locked`): what that
# store reads and changes goes through its transaction.
_ACTING: ContextVar[tuple[ParkedMessages, asyncpg.Connection] | None] = ContextVar("lrs_parked_acting", default=None)
# What the retry or skip this task is in runs once it has committed (`DeadLetterOffice.after_action`).
_AFTER_ACTION: ContextVar[list[Callable[[], Awaitable[None]]] | None] = ContextVar(
    "lrs_dead_letters_after_action", default=None
)


def producer_publisher(producer: AIOKafkaProducer) -> DeadLetterPublisher:
    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await producer.send_and_wait(topic, key=key, value=value, headers=headers)

    return publish


# Room left under the producers' and the dead-letter topics' limit for what a copy gains on its way (the record
# batch around it, compression that cannot shrink it): a foreign producer's gzip batch can hold a value that
# fits the topic only compressed, and its copy, sent again with the headers, then fits nowhere.
DEAD_LETTER_MARGIN_BYTES = 64 * 1_024
_RECORD_REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


def dead_letter_copy(
    key: bytes | None, value: bytes | None, letter: DeadLetter, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[bytes | None, Headers]:
    """The value and headers of the message's copy on `<topic>.dlq`: the value as it is, unless the record would
    not fit `max_bytes` (the producer's limit, less `DEAD_LETTER_MARGIN_BYTES`); then an empty value and
    `lrs-value-omitted` with its size. Left out or not, the parked row keeps the value for a retry or skip."""
    headers = letter.headers()
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    if value is None or size <= max_bytes - DEAD_LETTER_MARGIN_BYTES:
        return value, headers
    return b"", letter.without_value(len(value)).headers()


def refused_as_too_large(error: BaseException) -> bool:
    """Whether a send failed because of the record itself (too large for the producer or the broker), however the
    client wrapped it (faust's `ProducerSendError`, ingest's `PublishUnavailable`): sending it again fails again."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, _RECORD_REFUSED):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def send_dead_letter(
    publish: DeadLetterPublisher,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    letter: DeadLetter,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> None:
    """Sends the message's copy to the dead-letter `topic` (`dead_letter_copy`); a copy refused for its size is
    sent again without its value, so one message can never keep its dead letter from being sent."""
    copied, headers = dead_letter_copy(key, value, letter, max_bytes=max_bytes)
    try:
        await publish(topic, key, copied, headers)
    except Exception as error:
        if not copied or not refused_as_too_large(error):
            raise
        _log.warning("dead_letter_value_left_out", topic=topic, value_bytes=len(copied), error=error_text(error))
        await publish(topic, key, b"", letter.without_value(len(copied)).headers())


# The free text a PLR event may carry that can name its learner, by event type, as paths in the event (`data`): a
# provider's words in its centre report (the projector's read model empties them at the learner's erasure) and the AO's
# MIS identifier on the achievement events of releases before it was left off the log. The grade stays, as it does in
# the read model. An erasure empties them in the copies of such events kept outside the log: an operator's corrected
# copies (plr_ops.operator_actions) and parked messages (the projector's `parked`, `ParkedMessages.erase_free_text`).
FREE_TEXT: dict[str, tuple[tuple[str, ...], ...]] = {
    event_type_of(CentreAchievementReported): (("provider_name",), ("subject",)),
    **{
        event_type_of(model): (("provenance", "mis_identifier"),)
        for model in (
            AchievementRecorded,
            AchievementUpdated,
            AchievementSuperseded,
            AchievementWithdrawn,
            AchievementReinstated,
        )
    },
}


def free_text_of(value: bytes) -> tuple[str, dict[str, Any], tuple[tuple[str, ...], ...]] | None:
    """The learner (ULN) a PLR event's bytes are about, the event as JSON and where its free text is (`FREE_TEXT`), or
    None: an event of another kind (the learner and challenge topics carry their learners' words sealed), or bytes
    that are not one."""
    try:
        document = json.loads(value)
        data = document["data"]
        paths = FREE_TEXT.get(data["event_type"])
        uln = data["uln"] if "uln" in data else data["key"]["uln"]
    except (ValueError, LookupError, TypeError, RecursionError):
        return None
    if paths is None or not isinstance(uln, str):
        return None
    return uln, document, paths


def without_erased_free_text(value: bytes, erased: Collection[str]) -> bytes | None:
    """`value`, a PLR event's bytes kept outside the log (a parked message, an operator's corrected copy), with its free
    text that may name its learner set to null (`FREE_TEXT`) when the learner is one of `erased`; None when it has none
    to empty. Applied, it projects what the event itself projects for an erased learner, so a rebuild builds the same
    model."""
    about = free_text_of(value)
    if about is None or about[0] not in erased:
        return None
    _, document, paths = about
    emptied = False
    for *parents, name in paths:
        holder: Any = document["data"]
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(name) is not None:
            holder[name] = None
            emptied = True
    return json.dumps(document, ensure_ascii=False).encode() if emptied else None


def naming_one_of(column: str, ulns: str = "$1", escape: str = "$2") -> str:
    """SQL: whether the bytes of `column` (a PLR event's) may be about one of the ULNs of parameter `ulns` (text[]):
    they name one, or escape a character (parameter `escape`, `JSON_ESCAPE`), as JSON may spell a digit."""
    return (
        f"(position({escape}::bytea IN {column}) > 0 OR EXISTS (SELECT 1 FROM unnest({ulns}::text[]) AS erased (uln)"
        f" WHERE position(convert_to(erased.uln, 'UTF8') IN {column}) > 0))"
    )


JSON_ESCAPE = b"\\u"


JSON_MEDIA_TYPE = "application/json"
BYTES_MEDIA_TYPE = "application/octet-stream"


def value_media_type(value: bytes) -> str:
    """How a parked message's value is served to an operator: as JSON when it reads as JSON (an event envelope, the
    start of a corrected copy), else as bytes (a message no consumer could read as JSON at all)."""
    try:
        json.loads(value)
    except (ValueError, RecursionError):  # not UTF-8 either, or nested deeper than any message of ours
        return BYTES_MEDIA_TYPE
    return JSON_MEDIA_TYPE


@dataclass(frozen=True)
class ParkedRow:
    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    reason: str  # 'error' | 'blocked'
    error: str | None
    attempts: int
    event_id: str | None
    event_type: str | None
    parked_at: datetime

    @property
    def stream(self) -> Stream | None:
        """Messages without a key hold nothing back: each is a stream of its own."""
        return (self.topic, self.key) if self.key is not None else None

    def dead_letter(self) -> DeadLetter:
        return DeadLetter(
            error=self.error or "",
            original_topic=self.topic,
            original_partition=self.partition,
            original_offset=self.offset,
            consumer=self.consumer,
            attempts=self.attempts,
            parked_at=self.parked_at,
            event_id=self.event_id,
            event_type=self.event_type,
        )

    def view(self) -> dict[str, Any]:
        """What operators see (the value stays in the table: it may hold personal data)."""
        return {
            "id": self.id,
            "consumer": self.consumer,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key.decode(errors="replace") if self.key is not None else None,
            "reason": self.reason,
            "error": self.error,
            "attempts": self.attempts,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "parked_at": self.parked_at.isoformat(),
        }


def _row(record: asyncpg.Record) -> ParkedRow:
    return ParkedRow(
        id=record["id"],
        consumer=record["consumer"],
        topic=record["topic"],
        partition=record["partition"],
        offset=record["offset"],
        key=record["message_key"],
        value=record["value"],
        timestamp_ms=record["kafka_timestamp_ms"],
        reason=record["reason"],
        error=record["error"],
        attempts=record["attempts"],
        event_id=record["event_id"],
        event_type=record["event_type"],
        parked_at=record["parked_at"],
    )


@dataclass(frozen=True)
class Parking:
    """One message to park: where it was read, what it held, and why it is parked."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    reason: str  # 'error' | 'blocked'
    dead_letter: DeadLetter | None  # None when blocked


class ParkedMessages:
    """The `parked_messages` table of one service's `<schema>_parked` schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._table = f'"{schema}".parked_messages'

    async def migrate(self) -> None:
        async with self.pool.acquire() as connection:
            await apply_migrations(connection, self.schema, "lrs_platform.parking_migrations")

    async def park(self, parkings: Sequence[Parking], *, dlq_pending: bool) -> None:
        """Idempotent by (consumer, topic, partition, offset): parking a redelivered message changes nothing."""
        await self._insert(self._executor(), parkings, dlq_pending=dlq_pending)

    async def _insert(
        self, executor: asyncpg.Pool | asyncpg.Connection, parkings: Sequence[Parking], *, dlq_pending: bool
    ) -> None:
        await executor.executemany(
            f'INSERT INTO {self._table} (consumer, topic, partition, "offset", message_key, value,'
            " kafka_timestamp_ms, reason, error, attempts, event_id, event_type, parked_at, dlq_pending)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, coalesce($13, now()), $14)"
            ' ON CONFLICT (consumer, topic, partition, "offset") DO NOTHING',
            [
                (
                    parking.consumer,
                    parking.topic,
                    parking.partition,
                    parking.offset,
                    parking.key,
                    parking.value,
                    parking.timestamp_ms,
                    parking.reason,
                    parking.dead_letter.error if parking.dead_letter else None,
                    parking.dead_letter.attempts if parking.dead_letter else 0,
                    # a message held back behind its stream's poison has no dead letter: named by its own envelope,
                    # so `lrs dlq list --json` gives its event before it becomes the poison
                    *(
                        (parking.dead_letter.event_id, parking.dead_letter.event_type)
                        if parking.dead_letter
                        else peek_event(parking.value)
                    ),
                    parking.dead_letter.parked_at if parking.dead_letter else None,
                    dlq_pending and parking.reason == "error",
                )
                for parking in parkings
            ],
        )

    async def park_behind_held(
        self,
        consumer: str,
        waiting: Sequence[Parking],
        behind: Callable[[Parking, Mapping[Stream, tuple[int, int]]], bool],
        *,
        retried_here: Collection[str],
        lock_wait_ms: int = LOCK_WAIT_MS,
    ) -> dict[Stream, tuple[int, int]]:
        """Parks the messages of `waiting` that are still `behind` a parked message of their stream, and returns the
        streams held now. Each stream's lock (`stream_locked`) is held meanwhile, so a retry or skip clearing the
        stream on another replica is waited for: read before it ended, a message was parked behind nothing once it
        had (DESIGN.md §5). A stream whose lock `retried_here` names is one this process's own retry holds: it waits
        for this consumer's lock and reads the stream after, so it is not waited for (that would wait for ever)."""
        streams = sorted({(parking.topic, parking.key) for parking in waiting if parking.key is not None})
        try:
            return await self._park_behind_held(consumer, waiting, behind, streams, retried_here, lock_wait_ms)
        except asyncpg.LockNotAvailableError:
            # A retry on another replica outlasted the wait, or two replicas' retries each wait for the other's
            # consumer: parked without waiting, as before the locks, rather than hold this consumer for ever.
            _log.warning("parked_behind_a_stream_being_retried", consumer=consumer, streams=len(streams))
            every_lock = frozenset(self.stream_lock_name(consumer, topic, key) for topic, key in streams)
            return await self._park_behind_held(consumer, waiting, behind, streams, every_lock, lock_wait_ms)

    async def _park_behind_held(
        self,
        consumer: str,
        waiting: Sequence[Parking],
        behind: Callable[[Parking, Mapping[Stream, tuple[int, int]]], bool],
        streams: Sequence[Stream],
        not_waited_for: Collection[str],
        lock_wait_ms: int,
    ) -> dict[Stream, tuple[int, int]]:
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
            for topic, key in streams:
                name = self.stream_lock_name(consumer, topic, key)
                if name not in not_waited_for:
                    await connection.execute("SELECT pg_advisory_xact_lock($1)", advisory_lock_key(name))
            held = await self._held_streams(connection, consumer, streams)
            await self._insert(connection, [parking for parking in waiting if behind(parking, held)], dlq_pending=False)
        return held

    async def held_streams(self, consumer: str, among: Iterable[Stream]) -> dict[Stream, tuple[int, int]]:
        """Which of `among` have a message parked, each with the (partition, offset) of its first: its later
        messages must wait behind it. `among` (a poll's streams, repeated or not) is read only when the consumer
        has some message parked."""
        return await self._held_streams(self._executor(), consumer, among)

    async def _held_streams(
        self, executor: asyncpg.Pool | asyncpg.Connection, consumer: str, among: Iterable[Stream]
    ) -> dict[Stream, tuple[int, int]]:
        # Nearly always nothing is parked: one cheap probe spares gathering and sending every key of the poll.
        if not await executor.fetchval(f"SELECT EXISTS (SELECT 1 FROM {self._table} WHERE consumer = $1)", consumer):
            return {}
        wanted = list(set(among))
        if not wanted:
            return {}
        rows = await executor.fetch(
            f'SELECT DISTINCT ON (topic, message_key) topic, message_key, partition, "offset" FROM {self._table}'
            " WHERE consumer = $1 AND (topic, message_key) IN (SELECT * FROM unnest($2::text[], $3::bytea[]))"
            ' ORDER BY topic, message_key, partition, "offset"',
            consumer,
            [topic for topic, _ in wanted],
            [key for _, key in wanted],
        )
        return {(row["topic"], row["message_key"]): (row["partition"], row["offset"]) for row in rows}

    async def get(self, parked_id: int) -> ParkedRow | None:
        row = await self._executor().fetchrow(f"SELECT * FROM {self._table} WHERE id = $1", parked_id)
        return _row(row) if row is not None else None

    async def listing(
        self, consumers: Iterable[str], *, topic: str | None = None, key: str | None = None, limit: int = 500
    ) -> list[ParkedRow]:
        where, values = _parked_where(topic, key)
        rows = await self._executor().fetch(
            f'SELECT * FROM {self._table}{where} ORDER BY consumer, topic, message_key, partition, "offset"'
            f" LIMIT ${len(values) + 2}",
            list(consumers),
            *values,
            limit,
        )
        return [_row(row) for row in rows]

    async def count(self, consumers: Iterable[str], *, topic: str | None = None, key: str | None = None) -> int:
        """How many messages `listing` has to show in all, whatever its limit."""
        where, values = _parked_where(topic, key)
        total: int = await self._executor().fetchval(
            f"SELECT count(*) FROM {self._table}{where}", list(consumers), *values
        )
        return total

    async def erase_free_text(self, connection: asyncpg.Connection, ulns: Collection[str]) -> int:
        """The parked PLR events of erased learners (`ulns`, every ULN of theirs), every consumer's, lose the free text
        that may name them (`without_erased_free_text`), on `connection`, in the caller's transaction (the one that
        records the erasure); returns how many changed. A retry then applies what the event applies for an erased
        learner, and `lrs dlq show` shows no name. A message parked after it is parked as it came."""
        if not ulns:
            return 0
        rows = await connection.fetch(
            f"SELECT id, value FROM {self._table} WHERE value IS NOT NULL AND {naming_one_of('value')}",
            sorted(ulns),
            JSON_ESCAPE,
        )
        erased = set(ulns)
        emptied = 0
        for row in rows:
            if (value := without_erased_free_text(row["value"], erased)) is not None:
                await connection.execute(f"UPDATE {self._table} SET value = $2 WHERE id = $1", row["id"], value)
                emptied += 1
        return emptied

    @asynccontextmanager
    async def stream_locked(self, row: ParkedRow) -> AsyncIterator[None]:
        """Holds the row's stream (its consumer, topic and key; the row alone when it has none) for one retry or skip
        at a time across every instance of the service: two replicas given the same retry at once both applied it
        (a batch's email sent twice). A lock of this process alone does not reach the other replica.

        What this store reads and changes meanwhile, in this task, is one transaction on the lock's connection,
        committed before the stream is let go and rolled back when the block raises: a retry or skip cut short (the
        database, or a server a handler needs, away) deletes no parked message and records no action, so "try again
        later" means nothing was done. Only the parked table's side is undone: the handler applies its effects in
        transactions of its own, and what it applied before the failure it applies again at the next retry, as a
        consumer's effects are idempotent (decision 0030)."""
        if row.key is None:
            name = f"dead-letters:{self.schema}:{row.consumer}:{row.topic}:id:{row.id}"
        else:
            name = self.stream_lock_name(row.consumer, row.topic, row.key)
        lock = advisory_lock_key(name)
        async with self.pool.acquire() as connection:
            await connection.execute("SELECT pg_advisory_lock($1)", lock)
            try:
                async with connection.transaction():
                    # idle in it while a handler works (an SMTP conversation): a server's idle-in-transaction timeout
                    # would end it after the handler's effect, and the retry would answer 503 at every try
                    await connection.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                    acting = _ACTING.set((self, connection))
                    try:
                        yield
                    finally:
                        _ACTING.reset(acting)
            finally:
                # a connection lost took its session's lock with it, and its unlock fails: what failed is told instead
                with suppress(asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
                    await connection.execute("SELECT pg_advisory_unlock($1)", lock)

    def _executor(self) -> asyncpg.Pool | asyncpg.Connection:
        """The pool, or the connection of the retry or skip this task is in (`stream_locked`)."""
        acting = _ACTING.get()
        return acting[1] if acting is not None and acting[0] is self else self.pool

    def executor(self) -> asyncpg.Pool | asyncpg.Connection:
        """For a replayer's own rows (the Sandpit catalogue follower's): the connection of the retry or skip this task
        is in, so they commit or roll back with it; the pool outside one."""
        return self._executor()

    def stream_lock_name(self, consumer: str, topic: str, key: bytes) -> str:
        return f"dead-letters:{self.schema}:{consumer}:{topic}:{key.hex()}"

    async def stream_of(self, row: ParkedRow) -> list[ParkedRow]:
        """Every parked message of the row's stream, in log order (the row alone when it has no key)."""
        if row.key is None:
            return [row]
        rows = await self._executor().fetch(
            f"SELECT * FROM {self._table} WHERE consumer = $1 AND topic = $2 AND message_key = $3"
            ' ORDER BY partition, "offset"',
            row.consumer,
            row.topic,
            row.key,
        )
        return [_row(found) for found in rows]

    async def record_action(self, action: DeadLetterAction) -> None:
        await record_dead_letter_action(self._executor(), self.schema, action)

    async def actions(self, limit: int) -> list[DeadLetterAction]:
        """The newest `limit` retries and skips, newest first."""
        return await dead_letter_actions(self._executor(), self.schema, limit)

    async def delete(self, parked_id: int) -> None:
        await self._executor().execute(f"DELETE FROM {self._table} WHERE id = $1", parked_id)

    async def failed_again(self, row: ParkedRow, error: str) -> None:
        """The stream's new head failed when re-applied: it becomes the poison (and goes to the DLQ if new), named by
        its event as a poison parked at once is: a message held back was parked without its event id and type."""
        event_id, event_type = peek_event(row.value)
        await self._executor().execute(
            f"UPDATE {self._table} SET error = $2, attempts = attempts + 1, reason = 'error',"
            " dlq_pending = dlq_pending OR reason = 'blocked',"
            " event_id = coalesce(event_id, $3), event_type = coalesce(event_type, $4) WHERE id = $1",
            row.id,
            error,
            event_id,
            event_type,
        )

    async def pending_dead_letters(self, consumer: str, limit: int = 500) -> list[ParkedRow]:
        rows = await self._executor().fetch(
            f"SELECT * FROM {self._table} WHERE consumer = $1 AND dlq_pending ORDER BY id LIMIT $2", consumer, limit
        )
        return [_row(row) for row in rows]

    async def mark_published(self, ids: Sequence[int]) -> None:
        await self._executor().execute(
            f"UPDATE {self._table} SET dlq_pending = false WHERE id = ANY($1::bigint[])", list(ids)
        )

    async def counts(self, consumer: str) -> ParkedCounts:
        rows = await self._executor().fetch(
            f"SELECT reason, count(*)::int AS n, min(parked_at) AS oldest FROM {self._table} WHERE consumer = $1"
            " GROUP BY reason",
            consumer,
        )
        counts = ParkedCounts({"error": 0, "blocked": 0} | {row["reason"]: row["n"] for row in rows})
        counts.oldest = min((row["oldest"] for row in rows), default=None)
        return counts


class ParkedCounts(dict[str, int]):
    """A consumer's parked messages by reason (`error`, `blocked`), and when the oldest of them was parked (None
    when none is)."""

    oldest: datetime | None = None


@dataclass(frozen=True)
class DeadLetterAction:
    """An operator's retry or skip of a parked message, as `dead_letter_actions` keeps it: the message named by its
    place on the log and its event, never its key (a learner's ULN, perhaps)."""

    action: str  # 'retry' | 'skip'
    operator: str
    reason: str | None
    replaced: bool
    consumer: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    event_type: str | None
    applied: int
    skipped: int
    still_parked: int
    # the events a retry found applied already, and left as they were (the PLR projector counts them: a corrected
    # copy of an event applied meanwhile is one); None where they are not counted (the other services, and the
    # projector's actions before it kept them)
    duplicates: int | None = None
    # the id of the API key the operator acted with (`Principal.key_id`): a principal is whatever a key's maker chose,
    # the key says whose act it was (a portal user's session key, or another key); None for actions before it was kept
    acted_with_key: str | None = None
    acted_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        return {**asdict(self), "acted_at": self.acted_at.isoformat() if self.acted_at else None}


_ACTION_COLUMNS = (
    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dead_letter_actions'"
)


async def record_dead_letter_action(
    executor: asyncpg.Pool | asyncpg.Connection, schema: str, action: DeadLetterAction
) -> None:
    """Adds `action` to `<schema>.dead_letter_actions`, in the caller's transaction when `executor` is its
    connection. The services' table (`parking_migrations`) and the PLR projector's (its `ops_migrations`) began as
    one; each field of `action` (of its own type: the projector's adds its `batch_id`) goes to its column where the
    table has one (the services' has no `duplicates`: they do not count them), `acted_at` to the table's clock."""
    columns = {row["column_name"] for row in await executor.fetch(_ACTION_COLUMNS, schema)}
    written = [each.name for each in fields(action) if each.name != "acted_at" and each.name in columns]
    names = ", ".join(f'"{name}"' for name in written)
    values = ", ".join(f"${n}" for n in range(1, len(written) + 1))
    await executor.execute(
        f'INSERT INTO "{schema}".dead_letter_actions ({names}) VALUES ({values})',
        *(getattr(action, name) for name in written),
    )


_Action = TypeVar("_Action", bound=DeadLetterAction)


@overload
async def dead_letter_actions(
    executor: asyncpg.Pool | asyncpg.Connection, schema: str, limit: int
) -> list[DeadLetterAction]: ...
@overload
async def dead_letter_actions(
    executor: asyncpg.Pool | asyncpg.Connection, schema: str, limit: int, action_type: type[_Action]
) -> list[_Action]: ...
async def dead_letter_actions(
    executor: asyncpg.Pool | asyncpg.Connection,
    schema: str,
    limit: int,
    action_type: type[DeadLetterAction] = DeadLetterAction,
) -> Sequence[DeadLetterAction]:
    """The newest `limit` retries and skips of `<schema>.dead_letter_actions`, newest first, each an `action_type`
    (the projector's names its batch); a field the table has no column for (the services' `duplicates`), or had
    none for when the action was recorded, reads None."""
    rows = await executor.fetch(
        f'SELECT * FROM "{schema}".dead_letter_actions ORDER BY acted_at DESC, id DESC LIMIT $1', limit
    )
    return [action_type(**{each.name: row.get(each.name) for each in fields(action_type)}) for row in rows]


@dataclass(frozen=True)
class ReplayResult:
    consumer: str
    topic: str
    key: str | None
    applied: int
    skipped: int
    still_parked: int
    error: str | None
    # the id of the stream's head once the retry or skip is done (its poison now) when messages stay parked: another
    # than the one named when a message behind it failed (`DeadLetterOffice` reads it)
    poison_id: int | None = None

    def view(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "topic": self.topic,
            "key": self.key,
            "applied": self.applied,
            "skipped": self.skipped,
            "still_parked": self.still_parked,
            "error": self.error,
            "poison_id": self.poison_id,
        }


class Replayer(Protocol):
    """A consumer that can apply its parked messages again, in order (`PoisonGuard` is one)."""

    name: str

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        """Applies `parked`'s whole stream again from its head (dropping the head with `skip_head`, or applying
        `replacement` in its place)."""
        ...


class NotParked(Exception):
    """No parked message has this id (any more)."""


class NotACorrectedCopy(ValueError):
    """A replacement that is not the parked head mended: no event the LRS knows, or another event than it."""


def corrected_copy_refusal(head: bytes | None, replacement: bytes, key: bytes | None = None) -> str | None:
    """Why `replacement` cannot stand in for a stream's parked head (its message key `key`), or None: when the
    head reads as an event's envelope, the copy must be an event of the contracts and, when the head names its
    event, that event (its `event_id` and `event_type`), mended. A copy keeps the message's subject: its payload
    yields the key the message was sent under (the batch id on the outcomes log, say), for a copy about another
    batch would rewrite that batch's outcome, or add one no AO sent. A copy is about the same learners as the
    head when the head reads whole; else, on a stream keyed by a learner's ULN (the PLR and learner logs), about
    that learner: a copy about another would put a fact on their record. Otherwise a head that is no envelope at
    all holds the copy to nothing: the consumer judges it."""
    head_event_id, head_event_type = peek_event(head)
    try:
        envelope, payload = decode(replacement)
    except (ValueError, UnknownEventType) as error:  # pydantic's ValidationError is a ValueError
        if head_event_type is None:
            return None
        return f"the replacement is no event the LRS knows ({error_text(error)})"
    if head_event_id is not None and str(envelope.event_id) != head_event_id:
        return (
            f"the replacement's event_id is {envelope.event_id}, the parked message's {head_event_id}: a corrected"
            " copy keeps the id of the message it mends"
        )
    if head_event_type in EVENT_TYPES and envelope.event_type != head_event_type:
        # a type the contracts know was not the message's fault (a misspelt or unknown one is what a copy mends)
        return (
            f"the replacement is a {envelope.event_type}, the parked message a {head_event_type}: a corrected copy"
            " is the same kind of event"
        )
    subject = message_key_of(payload)
    learner = _learner_keyed(key)
    if key is not None and subject is not None and subject.encode() != key:
        return _ANOTHER_LEARNER if learner is not None else _ANOTHER_SUBJECT
    named = learners_named(payload)
    try:
        _, parked_payload = decode(head or b"")
    except (ValueError, UnknownEventType):  # the parked bytes do not say whom they are about: the key may
        if learner is not None and learner not in named:
            return _ANOTHER_LEARNER
        return _what_changed(head, replacement)
    if named != learners_named(parked_payload):
        return "the replacement names other learners than the parked message: a corrected copy is about the same ones"
    if key is None and subject is not None and subject != message_key_of(parked_payload):
        return _ANOTHER_SUBJECT
    return _what_changed(head, replacement)


def _what_changed(head: bytes | None, replacement: bytes) -> str | None:
    if changed := fields_changed(head, replacement, _KEPT_BY_ANY_SERVICES_COPY):
        return (
            f"the replacement changes the parked message's {' and '.join(changed)}: a corrected copy is the message"
            " mended, nothing else, and keeps its time, key and provenance"
        )
    return None


_KEPT_BY_ANY_SERVICES_COPY = tuple(path for path in KEPT_BY_A_CORRECTED_COPY if path != ("correlation_id",))
"""All but the correlation id: validation's Sandpit catalogue parks a row whose correlation id names no reference
load, and its copy mends just that (the projector, which reads none, holds a copy to it too)."""


_ANOTHER_LEARNER = "the replacement is not about the learner whose messages are parked (the message key's ULN)"
_ANOTHER_SUBJECT = (
    "the replacement is about another subject than the parked message (what its message key is made from: a"
    " batch id, a ULN, an achievement id): a corrected copy is about the same one"
)
_KEYED_BY_BATCH = (BatchValidationStarted, BatchRecordsDecided, BatchCompleted, BatchFailed, BatchAbandoned)
_KEYED_BY_ACHIEVEMENTS_ULN = (
    AchievementRecorded,
    AchievementUpdated,
    AchievementSuperseded,
    AchievementWithdrawn,
    AchievementReinstated,
)
_KEYED_BY_ULN = (
    CentreAchievementReported,
    SandpitAchievementsErased,
    LearnerRegisteredV1,
    LearnerRegistered,
    LearnerSharingChanged,
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
)
_KEYED_BY_ACHIEVEMENT = (ChallengeRaisedV1, ChallengeRaised, ChallengeAcknowledged, ChallengeResolved)


def message_key_of(payload: Contract) -> str | None:
    """The Kafka key the LRS's producers send `payload` under (`lrs_contracts.topics`): the batch id on the
    outcomes log (a Sandpit reset's id for its `applied`), the learner's ULN on the PLR and learner logs (the
    master ULN for a merge), the achievement id on the challenges log; None for an event of a log no consumer
    re-applies with a corrected copy."""
    if isinstance(payload, _KEYED_BY_BATCH):
        return str(payload.batch_id)
    if isinstance(payload, SandpitResetApplied):
        return str(payload.reset_id)
    if isinstance(payload, _KEYED_BY_ACHIEVEMENTS_ULN):
        return payload.key.uln
    if isinstance(payload, _KEYED_BY_ULN):
        return payload.uln
    if isinstance(payload, LearnersMerged):
        return payload.master_uln
    if isinstance(payload, _KEYED_BY_ACHIEVEMENT):
        return str(payload.achievement_id)
    return None


def _learner_keyed(key: bytes | None) -> str | None:
    """The ULN a message key is, if it is one (the PLR and learner logs are keyed by the learner's ULN)."""
    if key is None:
        return None
    text = key.decode("ascii", errors="replace")
    return text if re.fullmatch(ULN_PATTERN, text) else None


class CannotReplay(Exception):
    """The message's consumer cannot apply a parked message again (it can only be skipped)."""


class DeadLetterNotSent(CannotReplay):
    """A message of the stream is parked but its copy is not on its `<topic>.dlq` yet (Kafka away): retried or
    skipped now, its row would go before the copy, and the copy with it."""


PARKED = Gauge(
    "lrs_consumer_parked_messages",
    "Messages parked now: poison ('error') and held behind one ('blocked')",
    ["consumer", "reason"],
)
OLDEST_PARKED = Gauge(
    "lrs_consumer_oldest_parked_timestamp_seconds",
    "Unix time the oldest message parked now (poison or held behind one) was parked, 0 when none is: alert on"
    " time() - it",
    ["consumer"],
)


class DeadLetterOffice:
    """A service's parked messages: the table, the dead-letter topics, and who can re-apply them. It keeps
    `lrs_consumer_parked_messages` true whenever it parks or acknowledges a message itself."""

    def __init__(
        self, store: ParkedMessages, publish: DeadLetterPublisher, *, max_message_bytes: int = MAX_MESSAGE_BYTES
    ) -> None:
        self.store = store
        self._publish = publish
        self._max_message_bytes = max_message_bytes
        self._replayers: dict[str, Replayer] = {}
        self._consumers: set[str] = set()
        self._publishing = asyncio.Lock()
        # One retry or skip at a time in this process: each holds a pooled connection for its stream's lock while
        # its replay asks the same pool for more, so as many at once as the pool has connections waited for ever.
        self._one_action_at_a_time = asyncio.Lock()
        self._streams_retried_here: set[str] = set()  # the names of the stream locks this process's retry holds

    @property
    def consumers(self) -> frozenset[str]:
        return frozenset(self._consumers)

    def register(self, consumer: str, replayer: Replayer | None = None) -> None:
        """Names a consumer of this service; with a `replayer`, operators can retry its parked messages
        (without one, `skip` only acknowledges a parked message)."""
        self._consumers.add(consumer)
        if replayer is not None:
            self._replayers[consumer] = replayer

    def reapplies(self, consumer: str) -> bool:
        """Whether `consumer` can take a parked message again (a retry); without, it can only be skipped (validation's
        decider: a batch it gave up on is abandoned, and never a tombstone nor a corrected copy is taken again)."""
        return consumer in self._replayers

    async def park(self, parkings: Sequence[Parking], *, publish: bool = True, publish_now: bool = True) -> None:
        """Stores the parked messages; with `publish`, the poison is to be copied to its `<topic>.dlq`: now, or
        with `publish_now=False` by the caller's `publish_pending` once it holds nothing others wait for.

        Without `publish` the caller sends the dead letters itself (in its own Kafka transaction, say).
        """
        if not parkings:
            return
        await self.store.park(parkings, dlq_pending=publish)
        for consumer in {parking.consumer for parking in parkings}:
            await self.counts(consumer)
            if publish and publish_now:
                await self.publish_pending(consumer)

    async def park_behind_held(
        self,
        consumer: str,
        waiting: Sequence[Parking],
        behind: Callable[[Parking, Mapping[Stream, tuple[int, int]]], bool],
    ) -> dict[Stream, tuple[int, int]]:
        """`ParkedMessages.park_behind_held`, waiting for other replicas' retries but not for this one's."""
        held = await self.store.park_behind_held(
            consumer, waiting, behind, retried_here=frozenset(self._streams_retried_here)
        )
        await self.counts(consumer)
        return held

    async def counts(self, consumer: str) -> dict[str, int]:
        """The consumer's parked messages by reason (`error`, `blocked`), set into `lrs_consumer_parked_messages`,
        and when the oldest was parked into `lrs_consumer_oldest_parked_timestamp_seconds`: a count says nothing of
        a poison left parked for a week beside one parked today, nor, after a restart, of how long it has been."""
        counts = await self.store.counts(consumer)
        for reason, count in counts.items():
            PARKED.labels(consumer, reason).set(count)
        oldest = counts.oldest if isinstance(counts, ParkedCounts) else None
        OLDEST_PARKED.labels(consumer).set(oldest.timestamp() if oldest is not None else 0)
        return counts

    async def publish_pending(self, consumer: str) -> int:
        """The outbox of the dead-letter topics: rows parked but not yet on `<topic>.dlq`."""
        sent = 0
        async with self._publishing:
            while pending := await self.store.pending_dead_letters(consumer):
                for row in pending:
                    await send_dead_letter(
                        self._publish,
                        dead_letter_topic(row.topic),
                        row.key,
                        row.value,
                        row.dead_letter(),
                        max_bytes=self._max_message_bytes,
                    )
                await self.store.mark_published([row.id for row in pending])
                sent += len(pending)
        return sent

    async def listing(
        self, consumer: str | None = None, topic: str | None = None, key: str | None = None, limit: int = 500
    ) -> tuple[list[ParkedRow], int]:
        """The first `limit` parked messages (of the consumer, topic and key given), and how many there are."""
        consumers = [consumer] if consumer is not None else sorted(self._consumers)
        rows = await self.store.listing(consumers, topic=topic, key=key, limit=limit)
        total = len(rows) if len(rows) < limit else await self.store.count(consumers, topic=topic, key=key)
        return rows, total

    async def message(self, parked_id: int) -> ParkedRow:
        """The parked message `parked_id`, its value too (what `lrs dlq show` saves to mend into a corrected copy)."""
        row = await self.store.get(parked_id)
        if row is None or row.consumer not in self._consumers:
            raise NotParked(f"no parked message {parked_id}")
        return row

    async def stream(self, parked_id: int) -> list[ParkedRow]:
        """The parked message's stream, in log order: what a retry or skip of it acts on (its poison first)."""
        row = await self.store.get(parked_id)
        if row is None or row.consumer not in self._consumers:
            raise NotParked(f"no parked message {parked_id}")
        return await self.store.stream_of(row)

    async def retry(
        self, parked_id: int, operator: str, replacement: bytes | None = None, *, with_key: str | None = None
    ) -> ReplayResult:
        """Applies the message's stream again from its head, in order, until one fails; with `replacement`,
        the message named as that value (a corrected copy of the poison: the log keeps the original).

        A retry or skip is one transaction of the parked table with its `dead_letter_actions` row: one cut short by a
        transient failure (raised, a 503) leaves every parked message as it was and records nothing. The copy of a
        message that failed again goes to its `<topic>.dlq` after the commit (waiting Kafka out if need be)."""
        return await self._replay(parked_id, operator, skip_head=False, replacement=replacement, with_key=with_key)

    async def skip(
        self, parked_id: int, operator: str, reason: str | None, *, with_key: str | None = None
    ) -> ReplayResult:
        """Drops the message named (its stream's poison, at its head) and applies the others of its stream, in
        order."""
        return await self._replay(parked_id, operator, skip_head=True, reason=reason, with_key=with_key)

    async def _replay(
        self,
        parked_id: int,
        operator: str,
        *,
        skip_head: bool,
        reason: str | None = None,
        replacement: bytes | None = None,
        with_key: str | None = None,
    ) -> ReplayResult:
        row = await self.store.get(parked_id)
        if row is None or row.consumer not in self._consumers:
            raise NotParked(f"no parked message {parked_id}")
        replayer = self._replayers.get(row.consumer)
        if (
            replacement is not None
            and replayer is not None
            and (refusal := corrected_copy_refusal(row.value, replacement, row.key))
        ):
            raise NotACorrectedCopy(refusal)
        lock_name = self.store.stream_lock_name(row.consumer, row.topic, row.key) if row.key is not None else ""
        committed: list[Callable[[], Awaitable[None]]] = []
        after = _AFTER_ACTION.set(committed)
        try:
            async with self._one_action_at_a_time:
                try:
                    # one transaction: deletions, a head failing again and the action's record commit together, or
                    # none of them (`ParkedMessages.stream_locked`)
                    async with self.store.stream_locked(row):
                        self._streams_retried_here.add(lock_name)
                        try:
                            if await self.store.get(parked_id) is None:  # retried or skipped meanwhile, here or not
                                raise NotParked(f"no parked message {parked_id}: it was retried or skipped meanwhile")
                            result = await self._replay_locked(
                                row, replayer, operator, skip_head, reason, replacement, lock_name, with_key
                            )
                        finally:
                            self._streams_retried_here.discard(lock_name)
                except Exception:
                    with suppress(Exception):  # the gauge as the rollback left the table (the database may be away)
                        await self.counts(row.consumer)
                    raise
        finally:
            _AFTER_ACTION.reset(after)
        for then in committed:
            try:
                await then()
            except Exception as error:  # the action is made and recorded: the operator is told so
                _log.warning("after_dead_letter_action_failed", consumer=row.consumer, error=error_text(error))
        return result

    def after_action(self, then: Callable[[], Awaitable[None]]) -> bool:
        """For a replayer: runs `then` once the retry or skip it is applying has committed and let its stream go (a
        copy to send of a message that failed again: in the table for the sender only from the commit on); not run
        when the retry or skip is undone. False outside a retry or skip, `then` not kept: the caller runs it itself."""
        waiting = _AFTER_ACTION.get()
        if waiting is None:
            return False
        waiting.append(then)
        return True

    async def _replay_locked(
        self,
        row: ParkedRow,
        replayer: Replayer | None,
        operator: str,
        skip_head: bool,
        reason: str | None,
        replacement: bytes | None,
        lock_name: str,
        with_key: str | None = None,
    ) -> ReplayResult:
        if replayer is not None:
            result = await replayer.replay(row, skip_head=skip_head, replacement=replacement)
            # Not awaiting anything since the replayer let its consumer's lock go: the consumer may apply its next poll
            # now, and must wait for this stream's lock (for the commit) to see what the replay did. Left named here,
            # it read the stream as before the replay and parked a message of it behind a removed poison.
            self._streams_retried_here.discard(lock_name)
            if result.still_parked and result.poison_id is None:
                # the message now at the head, in this transaction: what a skip of the stream must name next
                head = next(iter(await self.store.stream_of(row)), None)
                result = replace(result, poison_id=head.id if head is not None else None)
        elif skip_head:
            # Nothing to apply again: skipping only acknowledges it (the copy on `<topic>.dlq` stays).
            await self.store.delete(row.id)
            await self.counts(row.consumer)
            key = row.key.decode(errors="replace") if row.key is not None else None
            result = ReplayResult(row.consumer, row.topic, key, 0, 1, 0, None)
        else:
            raise CannotReplay(
                f"{row.consumer} cannot apply a parked message again: skip it to acknowledge it (its copy on"
                f" {row.topic}.dlq stays)"
            )
        await self.store.record_action(
            DeadLetterAction(
                action="skip" if skip_head else "retry",
                operator=operator,
                reason=reason,
                replaced=replacement is not None,
                consumer=row.consumer,
                topic=row.topic,
                partition=row.partition,
                offset=row.offset,
                event_id=row.event_id,
                event_type=row.event_type,
                applied=result.applied,
                skipped=result.skipped,
                still_parked=result.still_parked,
                acted_with_key=with_key,
            )
        )
        _log.info(  # the reason is in `dead_letter_actions`, not here: an operator may have typed anything in it
            "dead_letters_replayed",
            consumer=row.consumer,
            topic=row.topic,
            parked_id=row.id,
            operator=operator,
            skip=skip_head,
            replaced=replacement is not None,
            applied=result.applied,
            still_parked=result.still_parked,
        )
        return result

    async def actions(self, limit: int) -> list[DeadLetterAction]:
        return await self.store.actions(limit)


def _parked_where(topic: str | None, key: str | None) -> tuple[str, list[object]]:
    """The parked messages of the consumers in `$1` (a text array), of the topic and key if given."""
    return where_given(
        {"topic": topic, "message_key": key.encode() if key is not None else None},
        also=("consumer = ANY($1::text[])",),
        first=2,
    )
