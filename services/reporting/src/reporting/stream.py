"""The faust-streaming app: outcomes, the PLR log and challenges in, `lrs.reporting.*.v1` out.

Faust holds no state here (no Tables): facts live in PostgreSQL and are idempotent by key, so the
at-least-once guarantee with one instance of each agent (`concurrency=1`, faust issue #606) is enough.
Every event goes through the one `PoisonGuard` before faust acknowledges it: an outage is waited
out with bounded backoff, an event that keeps failing is parked on `<topic>.dlq` (later events of its
key held behind it) and the agent goes on. The PLR log is read in buffers (`take_events`): it carries
one event per result, and reporting keeps only when each batch's results were written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import StreamT

from lrs_contracts.dead_letters import Headers
from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import (
    BATCH_OUTCOMES,
    CHALLENGE_EVENTS,
    PLR_EVENTS,
    REPORTING_CHALLENGES,
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    REPORTING_SUBMISSIONS,
    REPORTING_TIMELINESS,
)
from lrs_platform.consumer import Message, PoisonGuard, RetryPolicy
from lrs_platform.kafka import tls_context
from lrs_platform.parking import DeadLetterOffice, ParkedMessages
from reporting.config import ReportingSettings
from reporting.projector import LogEntry, Publication, ReportingProjector

CONSUMER = "reporting"


class _ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust reads `read_uncommitted` unless exactly_once; the decider writes outcomes in transactions."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"
        return consumer


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
    dead_letters: DeadLetterOffice
    guard: PoisonGuard


def _message(event: Any) -> Message:
    record = event.message
    timestamp_ms = int(record.timestamp * 1000) if record.timestamp else 0
    return Message(record.topic, record.partition, record.offset, record.key, record.value, timestamp_ms)


def make_stream_app(settings: ReportingSettings, projector: ReportingProjector, store: ParkedMessages) -> StreamApp:
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
        autodiscover=False,
        topic_disable_leader=True,
        broker_credentials=faust.SSLCredentials(context) if (context := tls_context()) else None,
    )

    def source(name: str, partitions: int) -> Any:
        return app.topic(name, key_serializer="raw", value_serializer="raw", partitions=partitions)

    outcomes = source(BATCH_OUTCOMES.name, BATCH_OUTCOMES.partitions)
    plr_log = source(PLR_EVENTS.name, PLR_EVENTS.partitions)
    challenges = source(CHALLENGE_EVENTS.name, CHALLENGE_EVENTS.partitions)
    outputs = {
        topic.name: source(topic.name, topic.partitions)
        for topic in (
            REPORTING_SUBMISSIONS,
            REPORTING_TIMELINESS,
            REPORTING_PLR_TIMELINESS,
            REPORTING_REJECTIONS,
            REPORTING_CHALLENGES,
        )
    }

    async def publish_dead_letter(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await app.producer.send_and_wait(topic, key, value, partition=None, timestamp=None, headers=headers)

    office = DeadLetterOffice(store, publish_dead_letter)

    async def apply(messages: Sequence[Message]) -> None:
        publications: list[Publication] = []
        log_entries: list[LogEntry] = []
        for message in messages:
            if message.value is None:
                raise ValueError("empty message")
            try:
                envelope, payload = decode(message.value)
            except UnknownEventType:
                continue
            if message.topic == PLR_EVENTS.name:
                written_at = (
                    datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
                    if message.timestamp_ms
                    else envelope.occurred_at
                )
                log_entries.append(LogEntry(payload, written_at))
            else:
                publications += await projector.apply(envelope, payload)
        publications += await projector.apply_plr_log(log_entries)
        # The last computed aggregate of each key is the current one; earlier ones need not go out.
        latest = {(publication.topic, publication.key): publication for publication in publications}
        for publication in latest.values():
            # Awaited one by one: the offset may only be committed after the aggregate is out.
            await (await outputs[publication.topic].send(key=publication.key, value=publication.value))

    guard = PoisonGuard(CONSUMER, apply, office, RetryPolicy(max_seconds=settings.retry_max_seconds))

    @app.agent(outcomes, concurrency=1, name="reporting.project_outcomes")
    async def project_outcomes(stream: StreamT[bytes]) -> None:
        await guard.start()
        async for event in stream.events():
            await guard.apply([_message(event)])

    @app.agent(challenges, concurrency=1, name="reporting.project_challenges")
    async def project_challenges(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await guard.apply([_message(event)])

    @app.agent(plr_log, concurrency=1, name="reporting.project_plr_log")
    async def project_plr_log(stream: StreamT[bytes]) -> None:
        # StreamT does not declare take_events; the stream faust passes is a Stream, which has it.
        async for events in cast(Stream[bytes], stream).take_events(
            settings.plr_log_buffer, within=settings.plr_log_buffer_seconds
        ):
            await guard.apply([_message(event) for event in events])

    return StreamApp(app, office, guard)
