"""Kafka clients built one way for every service: idempotent producers, read-committed consumers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import hashlib
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition, codec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.consumer import consumer as aiokafka_consumer
from aiokafka.consumer import fetcher
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.record import _crecords, default_records
from cryptography import x509
from prometheus_client import Counter, Gauge
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lrs_contracts.topics import ALL_TOPICS, Topic
from lrs_platform.logging import get_logger

MAX_MESSAGE_BYTES = 8 * 1_048_576
ZSTD_LEVEL = 1
CLIENT_STOP_SECONDS = 5.0

# How long a set of certificate files that failed to load is left before it is tried again, unless the files change
# again first (a half-written file is followed by its whole one).
TLS_RELOAD_RETRY_SECONDS = 60.0

_log = get_logger("lrs.kafka")

CERTIFICATE_EXPIRES = Gauge(
    "lrs_kafka_certificate_expires_seconds",
    "Unix time the Kafka client certificate the process presents stops being valid, 0 without one: a renewed"
    " certificate is taken at the next connection (and at each scrape), so alert when this comes near",
)


class KafkaSecurity(BaseSettings):
    """How every client of the process reaches the brokers: plain text locally, mutual TLS in a cluster
    (each service's KafkaUser certificate, mounted by the manifests). Read once from the environment,
    unprefixed, like `KAFKA_BOOTSTRAP_SERVERS`."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True, hide_input_in_errors=True)

    security_protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def client_options(self) -> dict[str, Any]:
        if self.security_protocol == "PLAINTEXT":
            return {}
        return {"security_protocol": self.security_protocol, "ssl_context": RenewableTlsContext(self)}

    def files(self) -> list[str]:
        return [path for path in (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile) if path]

    def files_digest(self) -> bytes:
        """What the certificate files hold now (read whole: a few kilobytes, once a connection), to see them
        change however they change: a Kubernetes Secret volume swaps a symlink, a hand edit rewrites in place."""
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(Path(path).read_bytes())
            digest.update(b"\0")
        return digest.digest()

    def new_context(self) -> ssl.SSLContext:
        """A context loaded from the files as they are now; raises if they do not load (a key not matching its
        certificate, a half-written file)."""
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
        )
        return context

    def certificate_expires(self) -> datetime.datetime | None:
        """When the client certificate in the file expires (for logs and the gauge), if it reads."""
        if not self.ssl_certfile:
            return None
        try:
            return x509.load_pem_x509_certificate(Path(self.ssl_certfile).read_bytes()).not_valid_after_utc
        except (OSError, ValueError):
            return None


class RenewableTlsContext(ssl.SSLContext):
    """The TLS context every Kafka client of the process shares, which follows its certificate files.

    Strimzi renews a KafkaUser's certificate (and the cluster CA) before they expire and the kubelet updates the
    mounted Secret's files in place; a context loaded once at start would present the old certificate until it
    expired, and then every new connection would fail (no restart comes: `/healthz` stays green). So each new
    connection (asyncio and aiokafka call `wrap_bio`, faust is given this same object) first looks at the files: when
    they changed, a new context is loaded from them and, only once it loads cleanly, used from then on; files that do
    not load (half written, a key not matching its certificate) are logged and the context in use stays. Connections
    already open keep their session. This object's own certificate store stays empty: it only hands connections to
    the context in use."""

    def __new__(cls, security: KafkaSecurity) -> RenewableTlsContext:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, security: KafkaSecurity) -> None:
        super().__init__()
        self._security = security
        self._lock = threading.Lock()
        digest = security.files_digest()
        self._current = security.new_context()  # raises at start: a missing or bad file stops the service there
        self._loaded_digest = digest
        self._failed_digest: bytes | None = None
        self._failed_at = 0.0
        self._expires = security.certificate_expires()
        CERTIFICATE_EXPIRES.set_function(self.expires_timestamp)
        _log.info("kafka_tls_loaded", files=security.files(), certificate_expires=self._expires_text())

    def current(self) -> ssl.SSLContext:
        """The context a connection made now uses: reloaded first if the files changed and load cleanly."""
        try:
            digest = self._security.files_digest()
        except OSError as error:  # a file gone for a moment (being replaced): the next connection looks again
            return self._reload_failed(None, error)
        if digest == self._loaded_digest:
            return self._current
        with self._lock:  # faust's consumer thread connects beside the event loop
            if digest == self._loaded_digest:
                return self._current
            if digest == self._failed_digest and time.monotonic() - self._failed_at < TLS_RELOAD_RETRY_SECONDS:
                return self._current
            try:
                fresh = self._security.new_context()
            except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
                return self._reload_failed(digest, error)
            self._current, self._loaded_digest, self._failed_digest = fresh, digest, None
            self._expires = self._security.certificate_expires()
        _log.info("kafka_tls_reloaded", files=self._security.files(), certificate_expires=self._expires_text())
        return fresh

    def _reload_failed(self, digest: bytes | None, error: Exception) -> ssl.SSLContext:
        """Keeps the context in use; says so once for these files, and again each `TLS_RELOAD_RETRY_SECONDS`."""
        if digest != self._failed_digest or time.monotonic() - self._failed_at >= TLS_RELOAD_RETRY_SECONDS:
            self._failed_at = time.monotonic()
            _log.warning(
                "kafka_tls_reload_failed",
                files=self._security.files(),
                error=f"{type(error).__name__}: {error}",
                still_presenting_certificate_expiring=self._expires_text(),
            )
        self._failed_digest = digest
        return self._current

    def expires_timestamp(self) -> float:
        """For `lrs_kafka_certificate_expires_seconds`: looks at the files first, so the gauge (and a renewal's
        reload) does not wait for a connection."""
        self.current()
        return self._expires.timestamp() if self._expires else 0.0

    def _expires_text(self) -> str | None:
        return self._expires.isoformat() if self._expires else None

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return self.current().wrap_bio(
            incoming, outgoing, server_side=server_side, server_hostname=server_hostname, session=session
        )

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return self.current().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )


@functools.cache
def connection_options() -> dict[str, Any]:
    return KafkaSecurity().client_options()


def tls_context() -> ssl.SSLContext | None:
    """The TLS context every client shares, or None in plain text (for clients built elsewhere: faust). It follows
    renewed certificate files (`RenewableTlsContext`)."""
    context: ssl.SSLContext | None = connection_options().get("ssl_context")
    return context


def make_admin(bootstrap_servers: str, *, request_timeout_ms: int) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=request_timeout_ms, **connection_options()
    )


@functools.cache
def compress_record_batches_at_zstd_level_one() -> None:
    """aiokafka compresses a record batch with zstd at level 3 and takes no level (decision 0104): its batch
    builders (the compiled one and the pure-Python one) are given level 1, half the CPU for batches as
    small as level 3's on our records. Every producer of the process shares it."""
    fastest = functools.partial(codec.zstd_encode, level=ZSTD_LEVEL)
    for builders in (_crecords.default_records, default_records):
        builders.zstd_encode = fastest


# The defaults of `KafkaGroupSession` (`group_session()`), which reporting's faust worker keeps too.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 1_000
# The lowest `group.min.session.timeout.ms` of a broker the LRS runs on (scripts/infra/kafka-start.sh's, for tests;
# Kafka's default, which the cluster keeps, is 6,000: a member asking less is refused, INVALID_SESSION_TIMEOUT).
LOWEST_SESSION_TIMEOUT_MS = 1_000
# aiokafka sends its JoinGroup with the consumer's request timeout (40 s) and the coordinator holds it for up to the
# session (aiokafka's rebalance timeout): a session that long would time a join out while a rebalance waits for a
# dead member.
HIGHEST_SESSION_TIMEOUT_MS = 30_000


class KafkaGroupSession(BaseSettings):
    """How long a consumer group member that stopped heartbeating keeps its partitions: a member killed without
    leaving (SIGKILL, a frozen node) holds them `session_timeout_ms` before the group gives them to the others, or
    to the member's own restart. Shorter fails over sooner; a member whose heartbeats stall longer (a loaded node,
    an event loop held) is dropped and its partitions handed over needlessly. Read once from the environment,
    unprefixed like `KafkaSecurity`: `KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_HEARTBEAT_INTERVAL_MS`."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    session_timeout_ms: int = Field(
        default=SESSION_TIMEOUT_MS,
        ge=LOWEST_SESSION_TIMEOUT_MS,
        le=HIGHEST_SESSION_TIMEOUT_MS,
        validation_alias="KAFKA_SESSION_TIMEOUT_MS",
    )
    heartbeat_interval_ms: int = Field(
        default=HEARTBEAT_INTERVAL_MS, ge=100, validation_alias="KAFKA_HEARTBEAT_INTERVAL_MS"
    )

    @model_validator(mode="after")
    def _heartbeats_fit_in_the_session(self) -> KafkaGroupSession:
        # Kafka's rule of thumb: a member misses two heartbeats and is still in its group
        if self.heartbeat_interval_ms * 3 >= self.session_timeout_ms:
            raise ValueError(
                f"KAFKA_HEARTBEAT_INTERVAL_MS ({self.heartbeat_interval_ms}) must be under a third of"
                f" KAFKA_SESSION_TIMEOUT_MS ({self.session_timeout_ms})"
            )
        return self


@functools.cache
def group_session() -> KafkaGroupSession:
    """The process's group session, read once (every consumer of the process keeps the same)."""
    return KafkaGroupSession()


def make_producer(bootstrap_servers: str, *, transactional_id: str | None = None, **overrides: Any) -> AIOKafkaProducer:
    compress_record_batches_at_zstd_level_one()
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 1_048_576,
        "max_request_size": MAX_MESSAGE_BYTES,
        "compression_type": "zstd",  # a tenth of gzip's CPU per batch, and smaller; the log is kept forever
        "request_timeout_ms": 15_000,
        **connection_options(),
    }
    if transactional_id is not None:
        options["transactional_id"] = transactional_id
        options["transaction_timeout_ms"] = 60_000
    options.update(overrides)
    return AIOKafkaProducer(**options)


EXPIRED_MESSAGES = Counter(
    "lrs_consumer_expired_messages_total",
    "Offsets of a topic a consumer had not read when the topic's retention deleted them: skipped, the consumer going"
    " on from the partition's new start (its messages were never handled). Alert on any increase",
    ["consumer", "topic"],
)

# The name each consumer's expired messages are counted and logged under (`make_consumer`'s `name`, else its group),
# by the subscription aiokafka hands its fetcher: a consumer let go takes its entry with it.
_CONSUMER_NAMES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def name_consumer(consumer: AIOKafkaConsumer, name: str) -> None:
    """Names the consumer in `messages_expired_unread` and `lrs_consumer_expired_messages_total` (a loop names its
    consumer after itself: `lrs_platform.consumer.ConsumerLoop`); before it is started."""
    _CONSUMER_NAMES[consumer._subscription] = name


class _Fetcher(fetcher.Fetcher):  # type: ignore[misc]  # aiokafka's fetcher is untyped
    """aiokafka's fetcher, which says so when a partition's position was below its log start: the topic's retention
    deleted messages the consumer had not read yet (it was stopped, crash-looping or held for longer than the topic
    keeps them; its committed offset, or the position it stored, is gone). aiokafka answers the fetch's
    OffsetOutOfRange by moving to the partition's start (`auto_offset_reset="earliest"`) with a line at INFO, below
    the level its loggers are kept at: the messages were skipped without a word (the exhaust walk, finding 1). The
    consumer still goes on from the start, as before; each such jump is now logged as an error
    (`messages_expired_unread`) and counted (`EXPIRED_MESSAGES`).

    A fetch answered OffsetOutOfRange leaves its partition awaiting a reset (`_proc_fetch_request`); the reset then
    asks the broker for the start (`_update_fetch_positions`). The offset fetched is kept between the two, with the
    partition's state (a partition assigned again has a new one), and compared with where the reset put it. A
    position past the partition's end (a topic made again) is reset to its start too, and is read again: nothing
    skipped, nothing said. `test_expired_messages.py` pins the aiokafka code this follows."""

    def __init__(self, client: Any, subscriptions: Any, **options: Any) -> None:
        super().__init__(client, subscriptions, **options)
        self._fetched_out_of_range: dict[TopicPartition, tuple[Any, int]] = {}

    async def _proc_fetch_request(self, assignment: Any, node_id: int, request: Any) -> bool:
        needs_wakeup: bool = await super()._proc_fetch_request(assignment, node_id, request)
        if self._default_reset_strategy == fetcher.OffsetResetStrategy.NONE:
            return needs_wakeup  # the consumer is given the error itself
        for topic, partitions in request.topics:
            for partition, offset, *_ in partitions:
                tp = TopicPartition(topic, partition)
                state = assignment.state_value(tp)
                # awaiting the consumer's own reset: answered OffsetOutOfRange (or a `seek_to_beginning` meanwhile,
                # which moves it to the start, never past the offset it fetched from: nothing said)
                if state is not None and state.awaiting_reset and state.reset_strategy == self._default_reset_strategy:
                    self._fetched_out_of_range[tp] = (state, offset)
        return needs_wakeup

    async def _update_fetch_positions(self, assignment: Any, node_id: int, tps: Any) -> bool:
        needs_wakeup: bool = await super()._update_fetch_positions(assignment, node_id, tps)
        for tp in tps:
            fetched = self._fetched_out_of_range.get(tp)
            if fetched is None:
                continue
            state, offset = fetched
            if state is not assignment.state_value(tp):
                del self._fetched_out_of_range[tp]  # assigned again since: that fetch is no longer this partition's
            elif not state.awaiting_reset:  # reset now (a reset that failed is tried again, and looked at then)
                del self._fetched_out_of_range[tp]
                if state.has_valid_position and state.position > offset:
                    self._expired(tp, offset, state.position)
        return needs_wakeup

    def _expired(self, tp: TopicPartition, position: int, start: int) -> None:
        consumer = _CONSUMER_NAMES.get(self._subscriptions) or self._client._client_id
        EXPIRED_MESSAGES.labels(consumer, tp.topic).inc(start - position)
        _log.error(
            "messages_expired_unread",
            consumer=consumer,
            topic=tp.topic,
            partition=tp.partition,
            position=position,
            log_start=start,
            offsets_skipped=start - position,
        )


aiokafka_consumer.Fetcher = _Fetcher  # the class every aiokafka consumer of the process builds its fetcher with


def make_consumer(
    bootstrap_servers: str, *topics: str, group_id: str | None, name: str | None = None, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer as every service reads: read committed, offsets committed by the caller, and, where a partition's
    position is gone (the topic's retention deleted what it had not read), on from the partition's start, said as an
    error and counted under `name` (else its group: `_Fetcher`)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        "fetch_max_bytes": 4 * MAX_MESSAGE_BYTES,
        "session_timeout_ms": group_session().session_timeout_ms,
        "heartbeat_interval_ms": group_session().heartbeat_interval_ms,
        **connection_options(),
    }
    options.update(overrides)
    consumer = AIOKafkaConsumer(*topics, **options)
    if name is not None or group_id is not None:
        name_consumer(consumer, name or str(group_id))
    return consumer


def _retention_ms(retention: str) -> str:
    """`forever` or `<N> days`, as the topic declares it."""
    if retention == "forever":
        return "-1"
    days, _, unit = retention.partition(" ")
    if unit != "days" or not days.isdigit():
        raise ValueError(f"a topic's retention is 'forever' or '<N> days', not {retention!r}")
    return str(int(days) * 24 * 3600 * 1000)


def _new_topic(topic: Topic, partitions: int | None) -> NewTopic:
    configs = {"cleanup.policy": "compact"} if topic.compacted else {"retention.ms": _retention_ms(topic.retention)}
    configs["max.message.bytes"] = str(MAX_MESSAGE_BYTES)
    return NewTopic(topic.name, partitions or topic.partitions, 1, topic_configs=configs)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[Topic] = ALL_TOPICS,
    *,
    partitions: int | None = None,
    with_dead_letters: bool = True,
) -> None:
    """Create every topic (and its DLQ) that does not exist yet. Safe to call from every service."""
    wanted: list[NewTopic] = []
    for topic in topics:
        wanted.append(_new_topic(topic, partitions))
        if with_dead_letters:
            # As the manifests' KafkaTopics keep them: forever (a parked message waits for an operator), the
            # Sandpit's 30 days.
            retention = _retention_ms(topic.dead_letters_retention)
            dead_letter_configs = {"retention.ms": retention, "max.message.bytes": str(MAX_MESSAGE_BYTES)}
            wanted.append(
                NewTopic(topic.dead_letters, partitions or topic.partitions, 1, topic_configs=dead_letter_configs)
            )
    admin = make_admin(bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [new for new in wanted if new.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def topic_partitions(
    bootstrap_servers: str, topic: str, *, request_timeout_ms: int = 10_000
) -> list[TopicPartition]:
    """The topic's partitions in order; none while it does not exist."""
    admin = make_admin(bootstrap_servers, request_timeout_ms=request_timeout_ms)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    numbers = sorted(part["partition"] for each in described if not each["error_code"] for part in each["partitions"])
    return [TopicPartition(topic, number) for number in numbers]


async def committed_offsets(bootstrap_servers: str, group_id: str) -> dict[TopicPartition, int]:
    """The offsets `group_id` has committed, of the partitions it committed on."""
    admin = make_admin(bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {partition: meta.offset for partition, meta in offsets.items() if meta.offset >= 0}


async def wait_for_kafka(bootstrap_servers: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        admin = make_admin(bootstrap_servers, request_timeout_ms=3_000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
        finally:
            await admin.close()


async def kafka_reachable(bootstrap_servers: str) -> None:
    """A readiness probe: raises unless the cluster answers a metadata request within 3 s."""
    admin = make_admin(bootstrap_servers, request_timeout_ms=3_000)
    try:
        await asyncio.wait_for(admin.start(), 3.0)
        await asyncio.wait_for(admin.list_topics(), 3.0)
    finally:
        await admin.close()


class Stoppable(Protocol):
    """A Kafka client, or what holds one (a runner, a probe): `stop()` ends it."""

    def stop(self) -> Awaitable[None]: ...


async def stop_within(client: Stoppable | Awaitable[None], what: str, seconds: float = CLIENT_STOP_SECONDS) -> None:
    """Stops `client` (or awaits its `stop()` already called) for at most `seconds`: what every shutdown path awaits
    of a Kafka client, since deploy/k8s/tests/test_shutdown.py counts `CLIENT_STOP_SECONDS` for each. aiokafka's
    consumer waits in `stop()` for its group coordinator's pending work, which a broker in the middle of a rebalance
    can hold for as long as the rebalance lasts, and a producer for its last batches' answers; past `seconds` the
    client is abandoned with a warning and shutdown goes on. An error of a stop that ends in time is raised."""
    stopping = client if isinstance(client, Awaitable) else client.stop()
    stopping_task = asyncio.ensure_future(stopping)
    try:
        ended, _ = await asyncio.wait({stopping_task}, timeout=seconds)
    except asyncio.CancelledError:
        stopping_task.cancel()
        raise
    if not ended:
        stopping_task.cancel()
        _log.warning("client_stop_abandoned", client=what, after_s=seconds)
        return
    stopping_task.result()
