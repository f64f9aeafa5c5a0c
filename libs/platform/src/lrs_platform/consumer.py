"""One way to consume: retry with bounded backoff, poison parked on `<topic>.dlq`, the rest goes on.

Every failure of a handler is classified (`classify_failure`):

- **transient** — the infrastructure, not the message: connection and timeout errors (`OSError`,
  `TimeoutError`, any `KafkaError`), PostgreSQL unreachable, shutting down, out of resources, a
  serialization failure or deadlock, a lock timeout, the service's login refused, a standby reached
  after a switchover, an idle-in-transaction timeout, a grant missing (`asyncpg` classes 08, 28, 40,
  53, 57, 58, 25006, 25P03, 42501, 55P03, `InterfaceError`), and anything a handler raises as
  `Transient` (an SMTP server away, say).
  Retried with exponential backoff (`RetryPolicy`, capped at `max_seconds`) for as long as it takes,
  and **never parked**: a database outage must not empty a topic into its DLQ.
- **poison** — everything else: the message itself fails the same way every time. Decode errors
  (`ValueError`, `UnicodeError`), data PostgreSQL refuses (`DataError`, e.g.
  `CharacterNotInRepertoireError` for a NUL byte; integrity violations), a header that cannot be built
  (`ValueError` for a CR/LF), and bugs (`KeyError`, `TypeError`, ...). Tried `poison_attempts` times,
  then parked; a message failing its contract (pydantic's `ValidationError`) is parked at its first
  attempt, as `invalid: <where>: <what>`, and so is an event of a type the contracts do not know
  (`UnknownEventType`: a newer release's event met by an older pod), as `unknown event type '<type>'`
  (`refusal_text`): the same bytes fail the same way again. A consumer decodes with
  `lrs_contracts.registry.decode` and lets `UnknownEventType` go up; it passes over only the types the
  contracts know and it has no use for.

Parking stores the message in the service's `parked_messages` table (`lrs_platform.parking`), copies
it to `<topic>.dlq` with the `lrs_contracts.dead_letters` headers (once the guard's lock is let go, and
without its value when it is too large to send again: `dead_letter_copy`), and *holds its key*: later
messages with the same key are parked behind it (`blocked`), so a key's messages never apply out of
order. Operators list, retry and skip them (`lrs dlq ... --service NAME`). `/readyz` stays ready
and says how many are parked; `lrs_consumer_*` metrics count them.

The pieces, and which consumer uses what (each keeps its own offset strategy):

| offset strategy | who | uses |
|---|---|---|
| group commit after the effect | ingest batch view, ingest's Sandpit reset follower, notifier, reporting's PLR-log reader (and any new consumer) | `ConsumerLoop` (+ `PoisonGuard`) |
| offsets stored with the effect in PostgreSQL, in its transaction and fenced by them (a replica that lost the partition applies nothing), the loop resuming from them | challenges' follower of the PLR and learner logs | `ConsumerLoop` with `progress=` and `listener=` (`challenges.log_follower.StoredPositions`, `PlrRecord.apply_messages`) |
| offsets stored with the effect in PostgreSQL, no consumer group (every partition assigned), the loop resuming from them | validation's Sandpit copy of the live learner log | `ConsumerLoop` with `place=` and `progress=` (`validation.sandpit.RegistryFollower.consumer_loop`) |
| none: every reader reads the compacted topic from its start, no group | the maintenance schedule (`MaintenanceGate.follow`) | nothing parked: an unreadable schedule is passed over, counted (`lrs_consumer_skipped_messages_total`) and logged |
| the framework commits after the handler | reporting's outcome and challenge agents (faust) | `PoisonGuard.apply` per event |
| offsets in the effect's Kafka transaction | validation's decider | `Attempts` + `DeadLetterOffice.park(publish=False)` |
| offsets in the effect's PostgreSQL transaction | plr-projector | `Attempts` + its own parked streams |

The consumer that decides batches (validation's decider) also holds at a batch boundary during a
maintenance window or pause (`lrs_platform.maintenance`, decision 0070); `readiness_report` says so.

A group-commit consumer, wired in `bootstrap.py` (the notifier's, shortened)::

    office = DeadLetterOffice(ParkedMessages(pool, "notifier_parked"), producer_publisher(producer))
    await office.store.migrate()

    async def handle(messages: Sequence[Message]) -> None:  # idempotent: a batch may be applied again
        ...

    guard = PoisonGuard("notifier", handle, office)
    loop = ConsumerLoop(
        guard,
        [settings.topics.physical(topic) for topic in TOPICS],
        lambda: make_consumer(settings.kafka_bootstrap_servers, group_id=settings.topics.group("notifier")),
    )
    tasks.start(loop.run(), "notifier")
    serve_dead_letters(app, office, guard)  # lrs_platform.parking_api: /v1/admin/dlq and /readyz

and `app.include_router(lrs_platform.parking_api.router)` where the app is built.

`handle` receives a poll's messages (up to `max_records`) and must be idempotent: after a poison
failure the loop applies them again one at a time to find the poison. Raise `Transient` for a
failure that must be waited out (with the delay it wants); anything else counts as poison.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.errors import CommitFailedError, CorruptRecordException, IllegalStateError, KafkaError
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from lrs_contracts.dead_letters import DeadLetter, dead_letter_topic, error_text, peek_event, unknown_event_type
from lrs_contracts.identifiers import AO_ID_PATTERN, ULN_PATTERN, is_uuid
from lrs_contracts.registry import UnknownEventType
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_domain.identifiers import mask_uln
from lrs_platform.kafka import name_consumer, stop_within
from lrs_platform.keyring import KeyringUnavailable
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import MaintenanceGate
from lrs_platform.parking import (
    DeadLetterNotSent,
    DeadLetterOffice,
    NotParked,
    ParkedRow,
    Parking,
    ReplayResult,
    Stream,
)

T = TypeVar("T")

_log = get_logger("lrs.consumer")

MESSAGES = Counter(
    "lrs_consumer_messages_total",
    "Messages a consumer finished with, by outcome: applied, parked (poison) or held (behind a poison)",
    ["consumer", "outcome"],
)
FAILURES = Counter(
    "lrs_consumer_failures_total",
    "Failed attempts to apply messages, by kind: transient or poison",
    ["consumer", "kind"],
)
RETRYING = Gauge("lrs_consumer_retrying", "1 while a consumer is retrying a failure, else 0", ["consumer"])
LAG = Gauge(
    "lrs_consumer_lag_messages",
    "Messages on the topic not yet handled by the consumer, those it holds (retrying, say) included: last stable"
    " offset - first offset not handled, summed over its partitions; counted every second, kept as it was while the"
    " client has no partitions (not yet in its group), 0 once they went to another replica",
    ["consumer", "topic"],
)
LAG_EVERY_SECONDS = 1.0  # how often a consumer counts its lag (an offset and a position a partition, or a request)
LAG_ASK_EVERY_SECONDS = 15.0  # how often the broker is asked the ends while the same messages stay in hand
BUSY_SINCE = Gauge(
    "lrs_consumer_busy_since_seconds",
    "Unix time the attempt to apply messages now running began, 0 while none runs: alert on time() - it",
    ["consumer"],
)


class Message(NamedTuple):
    """A record as read from Kafka (or from the parked table), free of any client library's types.

    A named tuple: a poll makes thousands, and a tuple is built in a third of a frozen dataclass's time.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int = 0

    @staticmethod
    def of(record: Any) -> Message:
        """From an aiokafka `ConsumerRecord` (or anything with the same attributes)."""
        return Message(record.topic, record.partition, record.offset, record.key, record.value, record.timestamp or 0)

    @staticmethod
    def parked(row: ParkedRow) -> Message:
        return Message(row.topic, row.partition, row.offset, row.key, row.value, row.timestamp_ms)

    @property
    def stream(self) -> Stream | None:
        return (self.topic, self.key) if self.key is not None else None


def _as_messages(value: bytes | None) -> bytes | None:
    """The value deserializer that marks a consumer given `deliver_messages` (it leaves values as they are)."""
    return value


class _PartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]  # aiokafka's fetcher is untyped
    """aiokafka's records of one fetched partition. For a consumer given `deliver_messages` each record is
    built as a `Message` straight from the record batch, one tuple, instead of aiokafka's `ConsumerRecord`
    (a dataclass of eleven fields) copied into a `Message` afterwards: ~1 µs less a record. Any other
    consumer of the process (the decider's, faust's) gets aiokafka's records as before.

    The messages come from `_messages`, aiokafka's `_unpack_records` (0.14) with the tuple built in its loop
    (no call a record), and a fetch result's loop takes them from that generator itself, not through
    `__next__`: ~0.35 µs less a record (1.8 → 1.45 µs, a fetched batch of PLR events read whole).
    `test_consumer_records.py` pins the aiokafka code `_messages` follows."""

    def __init__(
        self,
        partition: TopicPartition,
        records: Any,
        aborted_transactions: Any,
        fetch_offset: int,
        key_deserializer: Any,
        value_deserializer: Any,
        check_crcs: bool,
        isolation_level: Any,
    ) -> None:
        as_messages = value_deserializer is _as_messages
        super().__init__(
            partition,
            records,
            aborted_transactions,
            fetch_offset,
            key_deserializer,
            None if as_messages else value_deserializer,
            check_crcs,
            isolation_level,
        )
        self._as_messages = as_messages
        if as_messages:  # aiokafka's generator, made but never started, is let go
            self._records_iterator = self._messages()

    def __iter__(self) -> Iterator[Any]:
        records = self._records_iterator
        return records if self._as_messages and records is not None else self

    def _messages(self, _new: Callable[[type[Message], tuple[Any, ...]], Message] = tuple.__new__) -> Iterator[Message]:
        tp = self._tp
        topic, partition = tp.topic, tp.partition
        records = self._records
        while records.has_next():
            next_batch = records.next_batch()
            if self._check_crcs and not next_batch.validate_crc():
                raise CorruptRecordException(f"Invalid CRC - {tp}")
            if self._isolation_level == fetcher.READ_COMMITTED and next_batch.producer_id is not None:
                self._consume_aborted_up_to(next_batch.base_offset)
                if next_batch.is_control_batch and self._contains_abort_marker(next_batch):
                    self._aborted_producers.discard(next_batch.producer_id)
                if next_batch.is_transactional and next_batch.producer_id in self._aborted_producers:
                    self.next_fetch_offset = next_batch.next_offset
                    continue
            if next_batch.is_control_batch:  # skipped whatever the isolation level
                self.next_fetch_offset = next_batch.next_offset
                continue
            for record in next_batch:
                offset = record.offset
                if offset < self.next_fetch_offset:  # a compressed batch read from its start
                    continue
                self.next_fetch_offset = offset + 1
                yield _new(Message, (topic, partition, offset, record.key, record.value, record.timestamp or 0))
            # the batch's last offset, kept even when compaction removed its last record
            self.next_fetch_offset = next_batch.next_offset


fetcher.PartitionRecords = _PartitionRecords  # the class aiokafka's fetcher builds each fetched partition with


def deliver_messages(consumer: AIOKafkaConsumer) -> None:
    """Makes a consumer not started yet return `Message`s from `getmany`. One with a value deserializer of
    its own is left as it is (`messages_of` converts its records)."""
    if consumer._value_deserializer is None:
        consumer._value_deserializer = _as_messages


def messages_of(polled: Mapping[TopicPartition, Sequence[Any]]) -> list[Message]:
    """A poll's records as `Message`s, in partition order: as they came from a consumer given
    `deliver_messages`, converted from aiokafka's records otherwise."""
    messages: list[Message] = []
    for records in polled.values():
        if records and type(records[0]) is Message:
            messages.extend(records)
        else:
            messages.extend(map(Message.of, records))
    return messages


Handler = Callable[[Sequence[Message]], Awaitable[None]]


class Transient(Exception):
    """Raised by a handler for a failure that must be retried and never parked (a server away)."""

    def __init__(self, detail: str, delay: float | None = None) -> None:
        super().__init__(detail)
        self.delay = delay


class Failure(StrEnum):
    TRANSIENT = "transient"
    POISON = "poison"


_TRANSIENT: tuple[type[BaseException], ...] = (
    Transient,
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # a connection lost in the middle of an operation ("cannot switch to state 15; another operation is in
    # progress"), seen when PostgreSQL restarted under a decision: counted as poison, three abandoned the batch
    asyncpg.InternalClientError,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.PostgresSystemError,
    # The database refusing the service rather than the message: its login (class 28: a credential rotated, a role
    # disabled), writes (25006: a switchover left the service's connections on a standby), a session ended by the
    # idle-in-transaction timeout (25P03), or a table the service was not granted (42501: a grant or a migration
    # missing; the LRS has no row-level security policies, the one way a row itself can be refused with it). Each
    # fails every message alike until the database is put right: waited out and alerted on (`lrs_consumer_retrying`),
    # where they parked whole topics and the decider abandoned every batch within a second.
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
    asyncpg.exceptions.InsufficientPrivilegeError,
    # the learner key store out of reach (or not made yet): every consumer that opens sealed data waits it out
    KeyringUnavailable,
)


def classify_failure(error: BaseException) -> Failure:
    """Transient: the infrastructure failed and will come back. Poison: anything else."""
    return Failure.TRANSIENT if isinstance(error, _TRANSIENT) else Failure.POISON


def refusal_text(error: BaseException) -> str | None:
    """The `lrs-error` of a message refused for what it is, parked at its first attempt since the same bytes fail
    the same way again: one failing its contract (`invalid: <where>: <what>`) or of an event type the contracts do
    not know (`unknown event type '<type>'`, as the PLR projector parks it). None for any other failure."""
    if isinstance(error, UnknownEventType):
        return unknown_event_type(str(error))
    if isinstance(error, ValidationError):
        return error_text(error)
    return None


def failure_text(error: BaseException) -> str:
    """A failure as `lrs-error` says it: `refusal_text`, else `<ExceptionClass>: <message>` (`error_text`)."""
    refused = refusal_text(error)
    return refused if refused is not None else error_text(error)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 0.2
    max_seconds: float = 10.0
    poison_attempts: int = 3
    """Attempts before a message that keeps failing (not transiently) is parked."""

    def delay(self, attempt: int) -> float:
        """Exponential, bounded: base, 2·base, 4·base, … never more than `max_seconds`, however many attempts
        (the doubling stops at 2**60: beyond 1,024 it had no float, and an outage of hours ended the loop)."""
        return float(min(self.max_seconds, self.base_seconds * 2 ** min(max(0, attempt - 1), 60)))


@dataclass(frozen=True)
class Poisoned:
    """What a message (or batch) that kept failing failed with."""

    error: str
    attempts: int


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector stays off while a poll's effect runs. A poll builds thousands of
    objects a record that live until it is applied, and every collection would scan them again, for
    garbage that reference counts free anyway. Collections resume after it, also when it failed; a
    collector already off (another thread pausing it, a process that turned it off) is left as it is.

    What the pause built and still holds (the next poll read ahead, a batch judged meanwhile) is frozen
    out of the collector's scans as it resumes (`FULL_COLLECTIONS`)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        FULL_COLLECTIONS.freeze_or_collect()
        gc.enable()


class FullCollections:
    """Freezes what a pause leaves alive, and collects everything now and then.

    Without it the first collection after a pause scanned every object the pause had built and still held
    (2-2.5 µs a record in the projector and validation, decision 0100): work for nothing, since those are
    freed by their reference counts as before, frozen or not. Only garbage in reference cycles among them
    waits, until a full collection over every object, frozen ones included, at most `every_s` apart."""

    def __init__(self, every_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._clock = clock
        self._last = clock()

    def freeze_or_collect(self) -> None:
        now = self._clock()
        if now - self._last >= self.every_s:
            self._last = now
            gc.unfreeze()
            gc.collect()
        gc.freeze()


FULL_COLLECTIONS = FullCollections()


class _GivenUp(Exception):
    def __init__(self, poisoned: Poisoned) -> None:
        super().__init__(poisoned.error)
        self.poisoned = poisoned


class Attempts:
    """Runs an effect until it succeeds (transient failures) or has failed `poison_attempts` times.

    Each attempt runs with the garbage collector paused (`collector_paused`), never the waits between.
    Also what readiness reports: whether it is retrying now, and the last failure.
    """

    def __init__(
        self,
        consumer: str,
        policy: RetryPolicy = RetryPolicy(),
        *,
        fatal: tuple[type[BaseException], ...] = (),
        pause_collector: bool = True,
    ) -> None:
        """`fatal` failures are raised at once: the process must stop (a fenced transactional producer).
        `pause_collector=False` for a consumer whose few messages each leave garbage in reference cycles (the
        notifier's emails: the SMTP client's transport, futures and tracebacks), which a pause would freeze until
        the next full collection, minutes later."""
        self.consumer = consumer
        self.policy = policy
        self._fatal = fatal
        self._pause_collector = pause_collector
        self.retrying_since: float | None = None
        self.last_error: str | None = None
        self._client_failing = False  # the retry shown is the Kafka client's (`client_failed`)
        self._running_since: list[float] = []  # the Unix time each effect running now began (nested, concurrent)
        self._busy_since = BUSY_SINCE.labels(consumer)  # looked up once: reporting's agents attempt each event
        # every consumer's series exist from its start, at 0: a dashboard or an alert finds them before a failure
        RETRYING.labels(consumer).set(0)
        self._busy_since.set(0)
        for kind in Failure:
            FAILURES.labels(consumer, kind.value)
        for outcome in ("applied", "parked", "held"):
            MESSAGES.labels(consumer, outcome)

    async def run(self, effect: Callable[[], Awaitable[T]], *, poison_attempts: int | None = None) -> T | Poisoned:
        allowed = poison_attempts if poison_attempts is not None else self.policy.poison_attempts
        poisoned = 0

        def gives_up(error: Exception, kind: Failure) -> bool:
            nonlocal poisoned
            if kind is not Failure.POISON:
                return False
            poisoned += 1
            # the same bytes fail their contract (or name a type no contract has) the same way every time: no
            # second attempt
            return poisoned >= allowed or refusal_text(error) is not None

        try:
            return await self._attempted(effect, gives_up)
        except _GivenUp as given_up:
            return given_up.poisoned

    async def until_done(self, effect: Callable[[], Awaitable[T]]) -> T:
        """For what must not be given up (parking itself, a whole projection step): retries every
        failure with the bounded backoff (or the delay a `Transient` asks for), counting and reporting it like
        any other."""
        return await self._attempted(effect, lambda error, kind: False)

    async def _attempted(self, effect: Callable[[], Awaitable[T]], gives_up: Callable[[Exception, Failure], bool]) -> T:
        """The one retry skeleton: attempts `effect` until it succeeds, backing off between failures, or until
        `gives_up` on one (raised as `_GivenUp`, counted and remembered as the last error)."""
        attempt = 0
        while True:
            try:
                with self._busy(), self._collector_paused():
                    result = await effect()
            except asyncio.CancelledError:
                raise
            except self._fatal:
                raise
            except Exception as error:
                attempt += 1
                kind = classify_failure(error)
                if gives_up(error, kind):
                    FAILURES.labels(self.consumer, kind.value).inc()
                    self.last_error = failure_text(error)
                    self._settled()
                    raise _GivenUp(Poisoned(self.last_error, attempt)) from error
                delay = error.delay if isinstance(error, Transient) and error.delay is not None else None
                await self._failed(error, kind, delay if delay is not None else self.policy.delay(attempt))
                continue
            self._settled()
            return result

    def _collector_paused(self) -> contextlib.AbstractContextManager[None]:
        return collector_paused() if self._pause_collector else contextlib.nullcontext()

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        """`lrs_consumer_busy_since_seconds` while an attempt runs: the only sign of an apply that hangs (a lock
        held on its table), which neither fails (`lrs_consumer_retrying`) nor polls (`lrs_consumer_lag_messages`).
        An attempt inside another (the projector's step) or beside it leaves the earliest start standing."""
        started = time.time()
        self._running_since.append(started)
        self._busy_since.set(min(self._running_since))
        try:
            yield
        finally:
            self._running_since.remove(started)
            self._busy_since.set(min(self._running_since, default=0))

    async def _failed(self, error: Exception, kind: Failure, delay: float) -> None:
        FAILURES.labels(self.consumer, kind.value).inc()
        self.last_error = failure_text(error)
        if self.retrying_since is None:
            self.retrying_since = time.monotonic()
            RETRYING.labels(self.consumer).set(1)
        _log.warning(
            "consumer_retrying", consumer=self.consumer, kind=kind.value, error=self.last_error, retry_in=delay
        )
        await asyncio.sleep(delay)

    def _settled(self) -> None:
        if self.retrying_since is not None:
            self.retrying_since = None
            RETRYING.labels(self.consumer).set(0)

    def client_failed(self, error: Exception) -> None:
        """The consumer's Kafka client failed and is rebuilt (`ConsumerLoop`): said as a retry is, until a poll
        succeeds (`client_polled`). A client Kafka refuses for good (its group not granted) applies nothing, while
        `/readyz` said "ok" and `lrs_consumer_retrying` 0."""
        self.last_error = f"Kafka client: {error_text(error)}"
        self._client_failing = True
        if self.retrying_since is None:
            self.retrying_since = time.monotonic()
            RETRYING.labels(self.consumer).set(1)

    def client_polled(self) -> None:
        if self._client_failing:
            self._client_failing = False
            self._settled()

    def retire(self) -> None:
        """Drops this consumer's series from /metrics: a consumer that is gone for good (a rebuild's runner once
        switched or abandoned) must not stay exported, read as idle forever."""
        for gauge in (RETRYING, BUSY_SINCE):
            with contextlib.suppress(KeyError):
                gauge.remove(self.consumer)
        for kind in Failure:
            with contextlib.suppress(KeyError):
                FAILURES.remove(self.consumer, kind.value)
        for outcome in ("applied", "parked", "held"):
            with contextlib.suppress(KeyError):
                MESSAGES.remove(self.consumer, outcome)

    def describe(self) -> str | None:
        if self.retrying_since is None:
            return None
        return f"retrying for {time.monotonic() - self.retrying_since:.0f}s: {self.last_error}"


def _behind(message: Message, held: Mapping[Stream, tuple[int, int]]) -> bool:
    """Whether the message waits behind its stream's parked head: it comes at or after it in the log. One before
    it (a stream read again from an earlier offset: a replay, a store rebuilt) was applied before the head was
    parked, and is applied again, as a consumer's effects are idempotent, not held behind its own successor."""
    return _waits_behind(message.stream, message.partition, message.offset, held)


def _parking_behind(parking: Parking, held: Mapping[Stream, tuple[int, int]]) -> bool:
    stream = (parking.topic, parking.key) if parking.key is not None else None
    return _waits_behind(stream, parking.partition, parking.offset, held)


def _waits_behind(stream: Stream | None, partition: int, offset: int, held: Mapping[Stream, tuple[int, int]]) -> bool:
    head = held.get(stream) if stream is not None else None
    if head is None:
        return False
    head_partition, head_offset = head
    return partition != head_partition or offset >= head_offset


def _batch_named(message: Message) -> dict[str, str]:
    """`batch_id` for a log line about a parked or held message, when it names a batch: the batch its event is of
    (`data.batch_id` of an outcome, `data.provenance.batch_id` of a PLR event), else, for bytes that are no event at
    all, the key of a message on the batch outcomes log (keyed by the batch id); nothing for anything else."""
    document = _json_object(message.value)
    if document is not None:
        data = document.get("data")
        if isinstance(data, dict):
            provenance = data.get("provenance")
            for named in (data.get("batch_id"), provenance.get("batch_id") if isinstance(provenance, dict) else None):
                if isinstance(named, str) and is_uuid(named):
                    return {"batch_id": named}
            return {}
    if message.key is not None and message.topic.endswith(BATCH_OUTCOMES.name):
        key = message.key.decode("ascii", errors="replace")
        if is_uuid(key):
            return {"batch_id": key}
    return {}


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def key_named(key: bytes | None) -> dict[str, str]:
    """A message key as a log line may hold it: a ULN masked, as `uln` (the field every service names a masked ULN
    by); an id (a batch's, an achievement's, an AO's) as it is, as `key`; any other key by its length only (a foreign
    producer's key may hold anything)."""
    if key is None:
        return {}
    text = key.decode("ascii", errors="replace")
    if re.fullmatch(ULN_PATTERN, text):
        return {"uln": mask_uln(text)}
    if is_uuid(text) or re.fullmatch(AO_ID_PATTERN, text):
        return {"key": text}
    return {"key": mask_uln(text)}


def _known(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value is not None}


class PoisonGuard:
    """Applies messages with `Attempts`; parks those that keep failing and holds their keys behind them.

    One per consumer. `lock` is held while a batch is applied or parked messages are replayed, so an
    operator's retry never races the loop.
    """

    def __init__(
        self,
        name: str,
        handler: Handler,
        office: DeadLetterOffice,
        policy: RetryPolicy = RetryPolicy(),
        *,
        pause_collector: bool = True,
    ) -> None:
        self.name = name
        self.lock = asyncio.Lock()
        self.attempts = Attempts(name, policy, pause_collector=pause_collector)
        self._handler = handler
        self._office = office
        self._parked_poison = 0  # poison parked by this guard: each is sent to its DLQ once `lock` is let go
        self._unsent = False  # a copy a retry or skip left unsent (Kafka away), for `_sender` to send
        self._sender: asyncio.Task[None] | None = None
        office.register(name, self)

    async def start(self) -> None:
        """Sends the dead letters a crash left unsent; idempotent."""
        await self._publish_dead_letters()
        async with self.lock:
            await self.refresh_gauge()

    async def apply(self, messages: Sequence[Message]) -> None:
        """Returns when every message is applied or parked (transient failures are waited out) and the poison
        parked is on its `<topic>.dlq`."""
        parked_before = self._parked_poison
        await self._apply_locked(messages)
        if self._parked_poison != parked_before:
            await self._publish_dead_letters()

    async def _publish_dead_letters(self) -> None:
        """Sends the dead letters parked and not sent yet, without `lock`: waiting out Kafka here must not keep an
        operator's retry or skip waiting too (a copy too large to send is sent without its value, so nothing
        here waits for ever on one message)."""
        await self.attempts.until_done(lambda: self._office.publish_pending(self.name))

    async def _apply_locked(self, messages: Sequence[Message]) -> None:
        async with self.lock:
            # Asked of the table each time, not remembered: another instance may have parked a key
            # whose partition this one was given by a rebalance.
            held = await self._held_among(messages)
            if held:
                held = await self._park_behind_held([message for message in messages if _behind(message, held)])
                free = [message for message in messages if not _behind(message, held)]
            else:
                free = list(messages)
            if not free:
                return
            # A batch that fails deterministically is not retried whole: its messages are, one by one.
            outcome = await self.attempts.run(lambda: self._handler(free), poison_attempts=1 if len(free) > 1 else None)
            if not isinstance(outcome, Poisoned):
                MESSAGES.labels(self.name, "applied").inc(len(free))
                return
            if len(free) == 1:
                await self._park_poison(free[0], outcome)
                return
            for message in free:
                if _behind(message, held):
                    await self._park_blocked([message])
                    continue
                single = await self.attempts.run(functools.partial(self._handler, [message]))
                if isinstance(single, Poisoned):
                    await self._park_poison(message, single)
                    if message.stream is not None:
                        held[message.stream] = (message.partition, message.offset)
                else:
                    MESSAGES.labels(self.name, "applied").inc()

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        """Applies a parked stream again from its head, in order; stops at the first that fails. `parked` is the
        message the operator named (the poison, as a stream's head is): `skip_head` drops it, `replacement` is
        applied in its place (an operator's corrected copy). Messages parked before it are applied first."""
        async with self.lock:
            rows = await self._office.store.stream_of(parked)
            if all(row.id != parked.id for row in rows):
                # read again under the lock: a retry or skip of the same message (a double click, a client's
                # retry) went first, and this one must not act on the messages it has brought to the head
                raise NotParked(f"no parked message {parked.id}: it was retried or skipped meanwhile")
            # the copy goes to the DLQ once the lock is let go (`apply`): a row retried or skipped before it is sent
            # would take its copy with it, so the operator is asked to wait for it
            unsent = {row.id for row in await self._office.store.pending_dead_letters(self.name)}
            if waiting := next((row for row in rows if row.id in unsent), None):
                raise DeadLetterNotSent(
                    f"parked message {waiting.id} is not on {dead_letter_topic(waiting.topic)} yet (is Kafka"
                    " reachable?): try again in a moment"
                )
            applied = skipped = 0
            error: str | None = None
            for row in rows:
                named = row.id == parked.id
                if named and skip_head:
                    await self._office.store.delete(row.id)
                    skipped += 1
                    continue
                message = Message.parked(row)
                if named and replacement is not None:
                    message = message._replace(value=replacement)
                try:
                    await self._handler([message])
                except Exception as failure:
                    if classify_failure(failure) is Failure.TRANSIENT:
                        raise  # the office's transaction undoes what this replay changed in the table
                    error = failure_text(failure)
                    await self._office.store.failed_again(row, error)
                    break
                await self._office.store.delete(row.id)
                applied += 1
            still_parked = len(rows) - applied - skipped
            MESSAGES.labels(self.name, "applied").inc(applied)
            await self.refresh_gauge()
        # A message that failed again may be a new poison, its copy to send once the retry or skip has committed;
        # nothing awaited between letting `lock` go and returning (`DeadLetterOffice._replay_locked`)
        if error is not None and not self._office.after_action(self._send_dead_letters_soon):
            await self._send_dead_letters_soon()
        key = parked.key.decode(errors="replace") if parked.key is not None else None
        return ReplayResult(self.name, parked.topic, key, applied, skipped, still_parked, error)

    async def _send_dead_letters_soon(self) -> None:
        """Sends the copies parked and not sent yet (a stream's new poison after a retry or skip): now, or, Kafka
        away, from a task of this guard's that waits it out (`_publish_dead_letters`). Sent only once the operator
        had gone, it was never sent (nothing but a restart or another poison sent copies), and every later retry or
        skip of the stream was refused `DeadLetterNotSent` for ever."""
        try:
            await self._office.publish_pending(self.name)
        except Exception as failure:
            _log.warning("dead_letters_not_sent_yet", consumer=self.name, error=error_text(failure))
            self._unsent = True
            if self._sender is None or self._sender.done():
                # a context of its own: none of the operator's request, nor of its retry's transaction
                self._sender = asyncio.create_task(
                    self._send_unsent(), name=f"{self.name} dead letters", context=contextvars.Context()
                )

    async def _send_unsent(self) -> None:
        while self._unsent:  # set again by a retry or skip meanwhile: its copy may have come after the last read
            self._unsent = False
            await self._publish_dead_letters()

    async def refresh_gauge(self) -> dict[str, int]:
        return await self._office.counts(self.name)

    async def readiness(self) -> str:
        return await readiness_report(self._office, self.attempts)

    async def _held_among(self, messages: Sequence[Message]) -> dict[Stream, tuple[int, int]]:
        """The poll's streams that have a parked message, each with where its first parked message is."""
        if all(message.key is None for message in messages):  # stops at the first keyed message
            return {}
        # The poll's streams are gathered only when the consumer has something parked: nearly never, and
        # a set of every message's stream cost ~0.15 µs a message, every poll.
        return await self.attempts.until_done(
            lambda: self._office.store.held_streams(
                self.name, ((message.topic, message.key) for message in messages if message.key is not None)
            )
        )

    async def _park_behind_held(self, waiting: Sequence[Message]) -> dict[Stream, tuple[int, int]]:
        """Parks those of `waiting` still behind their stream's parked head once any retry or skip of that stream
        has ended (on another replica: this one's waits for `lock`), and returns the streams held now: a message
        whose stream such a retry cleared is applied, not parked behind nothing."""
        parkings = [self._parking(message, "blocked", None) for message in waiting]
        held: dict[Stream, tuple[int, int]] = await self.attempts.until_done(
            lambda: self._office.park_behind_held(self.name, parkings, _parking_behind)
        )
        kept = [message for message, parking in zip(waiting, parkings, strict=True) if _parking_behind(parking, held)]
        MESSAGES.labels(self.name, "held").inc(len(kept))
        self._say_held(kept)
        return held

    async def _park_blocked(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        parkings = [self._parking(message, "blocked", None) for message in messages]
        await self.attempts.until_done(lambda: self._office.park(parkings, publish=False))
        MESSAGES.labels(self.name, "held").inc(len(messages))
        self._say_held(messages)

    def _say_held(self, messages: Sequence[Message]) -> None:
        """One `message_held` a message parked behind its key's poison, naming its batch, as the projector's do: the
        messages of a batch held behind junk under its key wrote no line, and a grep of the batch id stopped at the
        projector (tracer walk, findings 1 and 2)."""
        for message in messages:
            event_id, event_type = peek_event(message.value)
            _log.warning(
                "message_held",
                consumer=self.name,
                **_batch_named(message),
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                **_known(event_id=event_id, event_type=event_type),
                **key_named(message.key),
            )

    async def _park_poison(self, message: Message, poisoned: Poisoned) -> None:
        dead_letter = DeadLetter.of(
            error=poisoned.error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            consumer=self.name,
            attempts=poisoned.attempts,
            value=message.value,
        )
        parking = self._parking(message, "error", dead_letter)
        await self.attempts.until_done(lambda: self._office.park([parking], publish_now=False))
        self._parked_poison += 1
        MESSAGES.labels(self.name, "parked").inc()
        _log.error(
            "message_parked",
            consumer=self.name,
            **_batch_named(message),
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            **_known(event_id=dead_letter.event_id, event_type=dead_letter.event_type),
            **key_named(message.key),
            attempts=poisoned.attempts,
            error=poisoned.error,
        )

    def _parking(self, message: Message, reason: str, dead_letter: DeadLetter | None) -> Parking:
        return Parking(
            consumer=self.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            timestamp_ms=message.timestamp_ms,
            reason=reason,
            dead_letter=dead_letter,
        )


async def readiness_report(
    office: DeadLetterOffice, attempts: Attempts, maintenance: MaintenanceGate | None = None
) -> str:
    """For `/readyz`: never fails the probe (a parked message must not take the service out of
    rotation), but says how many are parked, whether the consumer is retrying, and whether it is
    paused for maintenance."""
    counts = await office.counts(attempts.consumer)
    return readiness_words(counts, attempts, maintenance)


def readiness_words(parked: Mapping[str, int], attempts: Attempts, maintenance: MaintenanceGate | None = None) -> str:
    """A consumer's `/readyz` entry: "ok", then what is parked (`parked` by reason), a retry and a pause."""
    parts = []
    if parked["error"] or parked["blocked"]:
        parts.append(f"{parked['error']} parked, {parked['blocked']} held behind them")
    if retrying := attempts.describe():
        parts.append(retrying)
    if maintenance is not None and (paused := maintenance.describe()):
        parts.append(paused)
    return "ok" + (": " + "; ".join(parts) if parts else "")


class Progress(Protocol):
    """How a loop records that it is past some messages (each one applied or parked): the offset seam."""

    async def passed(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None: ...


class GroupCommit:
    """At-least-once: the consumer group's offsets are committed after the effect is durable."""

    async def passed(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        await consumer.commit(dict(offsets))


def next_offsets(polled: Mapping[TopicPartition, Sequence[Any]]) -> dict[TopicPartition, int]:
    return {partition: records[-1].offset + 1 for partition, records in polled.items() if records}


ListenerFactory = Callable[[AIOKafkaConsumer], ConsumerRebalanceListener]
Placement = Callable[[AIOKafkaConsumer], Awaitable[None]]
"""For a consumer of no group: assigns the started consumer its partitions and seeks each where it was."""


class ConsumerLoop:
    """Poll, apply through the guard, record progress; a failing client is rebuilt from the committed offsets.

    A consumer of a group subscribes to `topics` (with `listener`, to seek what the group assigns it); one of no
    group is given `place` instead, which assigns the partitions itself each time the client is (re)built, from
    the positions its `progress` stores.

    Progress is recorded for the partitions the client still holds (`_pass`): one the group gave to another replica
    while the poll was applied (a replica joining or leaving) is that replica's now."""

    def __init__(
        self,
        guard: PoisonGuard,
        topics: Sequence[str],
        consumer_factory: Callable[[], AIOKafkaConsumer],
        *,
        listener: ListenerFactory | None = None,
        place: Placement | None = None,
        progress: Progress | None = None,
        max_records: int = 500,
        poll_timeout_ms: int = 1_000,
        after_progress: Callable[[], None] | None = None,
    ) -> None:
        self.guard = guard
        self.assigned = False
        self.caught_up = False  # the last poll found nothing new: for readiness checks and tests
        self._topics = list(topics)
        self._consumer_factory = consumer_factory
        self._listener = listener
        self._place = place
        self._progress = progress or GroupCommit()
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._after_progress = after_progress
        self.lag = LagCount(guard.name)

    async def run(self) -> None:
        """Consumes until cancelled."""
        await self.guard.start()
        attempt = 0
        while True:
            consumer = self._consumer_factory()
            if isinstance(consumer, AIOKafkaConsumer):
                deliver_messages(consumer)
                name_consumer(consumer, self.guard.name)  # its expired messages said as its other series are
            if self._listener is not None:
                consumer.subscribe(self._topics, listener=self._listener(consumer))
            elif self._place is None:
                consumer.subscribe(self._topics)
            try:
                await consumer.start()
                if self._place is not None:
                    await self._place(consumer)
                attempt = 0
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                attempt += 1
                delay = self.guard.attempts.policy.delay(attempt)
                _log.warning("consumer_restarting", consumer=self.guard.name, error=error_text(error), in_s=delay)
                self.guard.attempts.client_failed(error)
                await asyncio.sleep(delay)
            finally:
                self.assigned = self.caught_up = False
                with contextlib.suppress(Exception):
                    await stop_within(consumer.stop(), f"{self.guard.name} consumer")

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        in_hand: dict[TopicPartition, int] = {}  # the first offset of each partition's messages polled, not passed
        async with self.lag.counting(consumer, lambda: in_hand):
            while True:
                polled = await consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=self._max_records)
                self.assigned = bool(consumer.assignment())
                if self.assigned:  # in its group (or placed) and polling: a client rebuilt before works again
                    self.guard.attempts.client_polled()
                self.caught_up = self.assigned and not polled
                if not polled:
                    continue
                in_hand.update(first_offsets(polled))
                await self.guard.apply(messages_of(polled))
                await self._pass(consumer, next_offsets(polled))
                in_hand.clear()
                if self._after_progress is not None:
                    self._after_progress()

    async def _pass(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        """Records the progress of the partitions still assigned. A partition revoked while the poll was applied
        (the group rebalanced: a replica joined or left) is not committed: the group's offset stays where it was,
        and the replica now holding the partition reads those messages again (at-least-once; handlers are
        idempotent). Kafka refused such a commit (`IllegalStateError`: not assigned; `CommitFailedError`: the group
        rebalanced meanwhile), and the loop took the refusal for a failing client: it rebuilt the client, which
        left and rejoined its group, a second rebalance for every member, under a warning that read like a
        Kafka fault (the scale-out walk, finding 1). Said at info (`commit_skipped_partition_revoked`)."""
        assigned = consumer.assignment()
        kept = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if len(kept) < len(offsets):
            _revoked(self.guard.name, [tp for tp in offsets if tp not in kept])
        if not kept:
            return
        try:
            await self._progress.passed(consumer, kept)
        except (CommitFailedError, IllegalStateError) as error:
            still = consumer.assignment()
            if isinstance(error, IllegalStateError) and all(tp in still for tp in kept):
                raise  # not a revocation: the client's own state is wrong, rebuilt
            _revoked(self.guard.name, list(kept), error)


def _revoked(consumer: str, partitions: Sequence[TopicPartition], error: Exception | None = None) -> None:
    """A poll's progress not recorded for partitions the group took from this client while it applied them."""
    said = sorted(f"{tp.topic}:{tp.partition}" for tp in partitions)
    if error is None:
        _log.info("commit_skipped_partition_revoked", consumer=consumer, partitions=said)
    else:
        _log.info("commit_skipped_partition_revoked", consumer=consumer, partitions=said, error=error_text(error))


def first_offsets(polled: Mapping[TopicPartition, Sequence[Any]]) -> dict[TopicPartition, int]:
    return {partition: records[0].offset for partition, records in polled.items() if records}


class LagCount:
    """`lrs_consumer_lag_messages` of one consumer: what waits on each topic, the messages in hand included (the
    challenges' follower commits no group offsets, so Kafka's own tools cannot tell its lag). Used by `ConsumerLoop`
    and by validation's decider, which polls in a loop of its own.

    Counted every `every_s` by a task of its own while the consumer runs (`counting`), not after a poll: a consumer
    retrying what it holds (a relay or PostgreSQL away) does not poll, and a count made only after polls stood at the
    idle 0 of the last one before the messages came, for the whole outage (the SRE report, finding 2), while the
    broker said the group was behind. A partition's lag is its last stable offset less its first offset not handled:
    the first of the messages in hand (`unfinished`), else the consumer's position.

    The last stable offset is what the client last fetched. A partition whose fetched messages wait in the client is
    not fetched again until they are taken, so while the consumer holds the same messages from one count to the next
    (it retries them), the ends are asked of the broker (one request, `end_offsets`; read_committed, so the last
    stable offsets), and the messages written meanwhile count too: at most every `ask_every_s` (a decider holds a
    batch for a maintenance window of up to 48 h; asked every second, that was 172,800 requests a replica), the
    counts in between from the ends last asked. Asked in vain (Kafka away), the client's are used.

    A client with no partitions leaves the gauges as they were: one rebuilt after an error and not (yet) in its
    group (never, while Kafka refuses the group) has the messages waiting still, and read 0 they hid a consumer
    applying nothing from the "consumer stuck" alert (review1, finding 1). A topic reads 0 only once the client
    knows its partitions went to another replica, which counts them now: the group assigned this client others,
    or, at its last rebalance, none at all."""

    def __init__(
        self,
        consumer: str,
        every_s: float = LAG_EVERY_SECONDS,
        *,
        wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ask_every_s: float = LAG_ASK_EVERY_SECONDS,
    ) -> None:
        self.consumer = consumer
        self.every_s = every_s
        self.ask_every_s = ask_every_s
        self._wait = wait  # between counts (a test's own ticks)
        self._topics: set[str] = set()  # the topics counted: one whose partitions went to another replica reads 0
        self._last_unfinished: dict[TopicPartition, int] = {}
        self._asked: dict[TopicPartition, int] = {}  # the broker's last answer, while the same messages stay in hand
        self._asked_at: float | None = None
        self._asked_of: set[TopicPartition] = set()

    @contextlib.asynccontextmanager
    async def counting(
        self, consumer: AIOKafkaConsumer, unfinished: Callable[[], Mapping[TopicPartition, int]]
    ) -> AsyncIterator[None]:
        """Counts now and every `every_s` while the block runs; `unfinished` says each partition's first offset in
        hand (none: the position)."""
        task = asyncio.create_task(self.every_interval(consumer, unfinished), name=f"{self.consumer} lag")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.wait([task])

    async def every_interval(
        self, consumer: AIOKafkaConsumer, unfinished: Callable[[], Mapping[TopicPartition, int]]
    ) -> None:
        while True:
            with contextlib.suppress(Exception):  # a partition revoked meanwhile: the next count
                await asyncio.wait_for(self.count(consumer, dict(unfinished())), timeout=5 * self.every_s)
            await self._wait(self.every_s)

    async def count(self, consumer: AIOKafkaConsumer, unfinished: Mapping[TopicPartition, int]) -> None:
        assigned = list(consumer.assignment())
        if not assigned and not given_no_partitions(consumer):
            return  # not (yet) in its group: what it counted last still waits
        ends: dict[TopicPartition, int | None] = {tp: consumer.last_stable_offset(tp) for tp in assigned}
        retried = bool(unfinished) and dict(unfinished) == self._last_unfinished
        self._last_unfinished = dict(unfinished)
        if retried:
            ends.update(await self._asked_ends(consumer, assigned, ends))
        else:
            self._asked, self._asked_at = {}, None  # the next messages retried: the broker asked at once
        mine = {tp.topic for tp in assigned}
        behind = {topic: 0 for topic in self._topics - mine}  # gone to another replica
        unknown: set[str] = set()  # an end not fetched yet (a client just assigned): the topic as it was
        for tp in assigned:
            end = ends.get(tp)
            if end is None or end < 0:
                unknown.add(tp.topic)
                continue
            first = unfinished.get(tp)
            position = first if first is not None else await consumer.position(tp)
            behind[tp.topic] = behind.get(tp.topic, 0) + max(0, end - position)
        self._topics |= behind.keys()
        for topic, count in behind.items():
            if topic not in unknown:
                LAG.labels(self.consumer, topic).set(count)

    async def _asked_ends(
        self, consumer: AIOKafkaConsumer, assigned: Sequence[TopicPartition], known: Mapping[TopicPartition, int | None]
    ) -> dict[TopicPartition, int]:
        """The partitions' last stable offsets as the broker says them, where they are past the client's: asked now if
        not asked in the last `ask_every_s` (or asked of other partitions), else as it answered then."""
        now = time.monotonic()
        if self._asked_at is None or now - self._asked_at >= self.ask_every_s or set(assigned) != self._asked_of:
            self._asked_at, self._asked_of = now, set(assigned)  # asked in vain too: not again before `ask_every_s`
            try:
                self._asked = dict(await asyncio.wait_for(consumer.end_offsets(list(assigned)), timeout=self.every_s))
            except Exception:
                self._asked = {}
        return {tp: end for tp, end in self._asked.items() if tp in known and end > (known[tp] or -1)}


def given_no_partitions(consumer: AIOKafkaConsumer) -> bool:
    """Whether the client's group, at its last rebalance, assigned it no partition (all went to other replicas),
    as against a client not (yet) in its group. aiokafka says it only in its subscription's state, which a client
    has from the group's answer until the next rebalance begins."""
    subscription = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    assignment = getattr(subscription, "assignment", None)  # None until the group first answers
    return (
        assignment is not None
        and not getattr(assignment, "tps", True)
        and getattr(subscription, "_reassignment_in_progress", True) is False
    )
