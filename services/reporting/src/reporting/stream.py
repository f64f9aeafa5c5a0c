"""The faust-streaming app (outcomes and challenges in, `lrs.reporting.*.v1` out) and the PLR log's reader.

Faust holds no state here (no Tables): facts live in PostgreSQL and are idempotent by key, so the
at-least-once guarantee with one instance of each agent (`concurrency=1`, faust issue #606) is enough.
Every event goes through the one `PoisonGuard` before it is acknowledged: an outage is waited out
with bounded backoff, an event that keeps failing is parked on `<topic>.dlq` (later events of its key
held behind it) and consumption goes on.

When each batch's results reached the PLR log, and of which qualifications, comes from the batch's
`BatchCompleted` (its `on_plr` and broker time: written in the same Kafka transaction as the batch's
events, decision 0107). The PLR log itself (one event per result) is read only with
`REPORTING_READ_PLR_LOG`, for completions written before they named their qualifications: beside
the faust app, whose path costs ~100 µs of CPU per message, by the platform's `ConsumerLoop` (its
own consumer group, read_committed, polls of up to `plr_log_max_records`, offsets committed after
the effect), through the same guard, its aggregates out through the faust app's producer (decision
0037).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, StreamT

from lrs_contracts.dead_letters import Headers
from lrs_contracts.fast_decode import scanned_rejections_by_code
from lrs_contracts.registry import decode
from lrs_contracts.topics import (
    BATCH_OUTCOMES,
    CHALLENGE_EVENTS,
    PLR_EVENTS,
    REPORTING_TOPICS,
)
from lrs_platform.consumer import LAG_EVERY_SECONDS, ConsumerLoop, Message, PoisonGuard, RetryPolicy, Transient
from lrs_platform.kafka import MAX_MESSAGE_BYTES, group_session, make_consumer, tls_context
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, refused_as_too_large
from reporting.catch_up import CatchUp
from reporting.config import ReportingSettings
from reporting.lag import AgentLag
from reporting.projector import Publication, ReportingProjector
from reporting.wire import (
    DECIDED_CHUNK,
    PlrLogWrites,
    event_type_in,
    parse,
    rejection_codes_of,
)

CONSUMER = "reporting"

T = TypeVar("T")


async def _queued(sending: Awaitable[T]) -> T:
    """`sending` (a message handed to faust's producer), with Kafka's failure to take it said to be transient.

    faust raises a `KafkaError` met while queuing a message (a topic not granted to the service, its metadata
    unavailable past `producer_request_timeout`, the producer's buffer full) as its own `ProducerSendError`, which
    the platform does not know for Kafka's: the outcome being applied was parked after 3 quick attempts, every
    outcome alike while the topic's ACL was missing. Raised as `Transient`, it is waited out like Kafka away
    (`lrs_consumer_retrying`). A message refused for its size stays what it was: sending it again fails again."""
    try:
        return await sending
    except ProducerSendError as error:
        if isinstance(error.__cause__, KafkaError) and not refused_as_too_large(error):
            raise Transient(str(error)) from error
        raise


class _ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust reads `read_uncommitted` unless exactly_once; the decider writes outcomes in transactions."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"
        return consumer

    def highwater(self, tp: TP) -> Any:
        """The last offset this consumer can read: the last stable one, as faust's own reads committed say."""
        return self._ensure_consumer().last_stable_offset(tp)


class _ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _ReadCommittedTransport(faust_aiokafka.Transport):
    Consumer = _ReadCommittedConsumer


class ReportingApp(faust.App):
    def _new_transport(self) -> Any:
        return _ReadCommittedTransport(self.conf.broker_consumer, self)


@dataclass(frozen=True)
class StreamApp:
    faust: faust.App
    plr_log: ConsumerLoop | None
    """With `read_plr_log`: runs while the faust app does (it publishes through the app's producer)."""
    dead_letters: DeadLetterOffice
    guard: PoisonGuard
    publish_every_month: Callable[[], Awaitable[int]]
    """Ends a catch-up: every month published once, as the store holds it; answers how many months."""


def _message(event: Any) -> Message:
    record = event.message
    # faust keeps the broker's milliseconds as float seconds: round, or a time can lose its last millisecond
    timestamp_ms = round(record.timestamp * 1000) if record.timestamp else 0
    return Message(record.topic, record.partition, record.offset, record.key, record.value, timestamp_ms)


def make_stream_app(
    settings: ReportingSettings, projector: ReportingProjector, store: ParkedMessages, catch_up: CatchUp
) -> StreamApp:
    """`catch_up`: while it holds, what is applied is recorded and nothing is published (decision 0161)."""
    app = ReportingApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
        datadir=str(settings.data_dir / "{conf.name}-data"),
        web_enabled=False,
        processing_guarantee="at_least_once",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.broker_commit_interval_seconds,
        # as every other consumer group member's, not faust's 60 s: a killed worker's partitions go to its
        # restart within seconds instead of a minute
        broker_session_timeout=group_session().session_timeout_ms / 1000,
        broker_heartbeat_interval=group_session().heartbeat_interval_ms / 1000,
        autodiscover=False,
        topic_disable_leader=True,
        # the platform's message size, not faust's 1,000,000 bytes: a poison of a decided chunk could be
        # larger, and its dead-letter copy was then refused for ever, and reporting stopped with it
        producer_max_request_size=MAX_MESSAGE_BYTES,
        broker_credentials=faust.SSLCredentials(context) if (context := tls_context()) else None,
    )

    def source(name: str, partitions: int) -> Any:
        return app.topic(name, key_serializer="raw", value_serializer="raw", partitions=partitions)

    outcomes = source(BATCH_OUTCOMES.name, BATCH_OUTCOMES.partitions)
    challenges = source(CHALLENGE_EVENTS.name, CHALLENGE_EVENTS.partitions)
    outputs = {topic.name: source(topic.name, topic.partitions) for topic in REPORTING_TOPICS}

    async def publish_dead_letter(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await _queued(app.producer.send_and_wait(topic, key, value, partition=None, timestamp=None, headers=headers))

    office = DeadLetterOffice(store, publish_dead_letter)

    async def apply(messages: Sequence[Message]) -> None:
        publications: list[Publication] = []
        log_writes = PlrLogWrites(projector.stored_qualification_types)
        add_log_write, plr_log_topic = log_writes.add, PLR_EVENTS.name  # once a poll, not once a message
        for message in messages:
            value = message.value
            if value is None:
                raise ValueError("empty message")
            if message.topic == plr_log_topic:
                add_log_write(value, message.timestamp_ms)
                continue
            chunk = scanned_rejections_by_code(value)
            if chunk is not None:
                publications += await projector.apply_chunk(*chunk)
                continue
            document = parse(value)
            if event_type_in(document) == DECIDED_CHUNK:
                publications += await projector.apply_chunk(*rejection_codes_of(value, document))
                continue
            # a type the contracts do not know (a newer release's) raises UnknownEventType: the guard parks it at its
            # first attempt, as `unknown event type '…'`, rather than MI going without it
            envelope, payload = decode(value)
            publications += await projector.apply(envelope, payload, message.timestamp_ms)
        publications += await projector.apply_plr_log(log_writes.writes(), log_writes.types)
        if not catch_up.holding:
            await publish(publications)

    async def send(publication: Publication) -> None:
        await (await _queued(outputs[publication.topic].send(key=publication.key, value=publication.value)))

    async def publish(publications: list[Publication]) -> None:
        await projector.send_as_stored(publications, send)

    guard = PoisonGuard(CONSUMER, apply, office, RetryPolicy(max_seconds=settings.retry_max_seconds))

    async def publish_every_month() -> int:
        async with guard.lock:  # no message is applied meanwhile: each one after this publishes as it comes
            publications = await projector.every_month()
            await publish(publications)
            await catch_up.caught_up()
        return len({publication.key for publication in publications})

    lag = AgentLag(CONSUMER, (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name))

    async def handle(event: Any) -> None:
        message = _message(event)
        tp = TP(message.topic, message.partition)
        lag.handling(tp, message.offset)
        await guard.apply([message])
        lag.handled(tp, message.offset)

    @app.agent(outcomes, concurrency=1, name="reporting.project_outcomes")
    async def project_outcomes(stream: StreamT[bytes]) -> None:
        await guard.start()
        async for event in stream.events():
            await handle(event)

    @app.agent(challenges, concurrency=1, name="reporting.project_challenges")
    async def project_challenges(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await handle(event)

    async def count_lag() -> None:
        await lag.count(app.consumer)

    app.timer(LAG_EVERY_SECONDS, name="reporting.count_lag")(count_lag)

    plr_log = (
        ConsumerLoop(
            guard,
            [PLR_EVENTS.name],
            # The broker answers a fetch once it has 1 MiB (~1,000 events) or half a second has passed: each
            # poll's fixed costs (a held-keys query, one upsert, a recomputation per month) are shared.
            lambda: make_consumer(
                settings.kafka_bootstrap_servers,
                group_id=settings.plr_log_group,
                fetch_min_bytes=1 << 20,
                fetch_max_wait_ms=500,
            ),
            max_records=settings.plr_log_max_records,
        )
        if settings.read_plr_log
        else None
    )
    return StreamApp(app, plr_log, office, guard, publish_every_month)
