"""The faust-streaming app: `lrs.batch.outcomes.v1` in, `lrs.reporting.*.v1` out.

Faust holds no state here (no Tables): facts live in PostgreSQL and are idempotent by key, so the
at-least-once guarantee with one agent instance (`concurrency=1`, faust issue #606) is enough.
Each event goes through the shared `PoisonGuard` before faust acknowledges it: an outage is waited
out with bounded backoff, an outcome that keeps failing is parked on `lrs.batch.outcomes.v1.dlq`
(its batch's later outcomes held behind it) and the agent goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import StreamT

from lrs_contracts.dead_letters import Headers
from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import BATCH_OUTCOMES, REPORTING_SUBMISSIONS, REPORTING_TIMELINESS
from lrs_platform.consumer import Message, PoisonGuard, RetryPolicy
from lrs_platform.parking import DeadLetterOffice, ParkedMessages
from reporting.config import ReportingSettings
from reporting.projector import OutcomeProjector

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


def make_stream_app(settings: ReportingSettings, projector: OutcomeProjector, store: ParkedMessages) -> StreamApp:
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
    )
    outcomes = app.topic(
        BATCH_OUTCOMES.name, key_serializer="raw", value_serializer="raw", partitions=BATCH_OUTCOMES.partitions
    )
    outputs = {
        topic.name: app.topic(topic.name, key_serializer="raw", value_serializer="raw", partitions=topic.partitions)
        for topic in (REPORTING_SUBMISSIONS, REPORTING_TIMELINESS)
    }

    async def publish_dead_letter(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await app.producer.send_and_wait(topic, key, value, partition=None, timestamp=None, headers=headers)

    office = DeadLetterOffice(store, publish_dead_letter)

    async def apply(messages: Sequence[Message]) -> None:
        for message in messages:
            if message.value is None:
                raise ValueError("empty message")
            try:
                _, payload = decode(message.value)
            except UnknownEventType:
                continue
            for publication in await projector.apply(payload):
                # Awaited one by one: the offset may only be committed after the aggregate is out.
                await (await outputs[publication.topic].send(key=publication.key, value=publication.value))

    guard = PoisonGuard(CONSUMER, apply, office, RetryPolicy(max_seconds=settings.retry_max_seconds))

    @app.agent(outcomes, concurrency=1, name="reporting.project_outcomes")
    async def project_outcomes(stream: StreamT[bytes]) -> None:
        await guard.start()
        async for event in stream.events():
            record = event.message
            timestamp_ms = int(record.timestamp * 1000) if record.timestamp else 0
            await guard.apply(
                [Message(record.topic, record.partition, record.offset, record.key, record.value, timestamp_ms)]
            )

    return StreamApp(app, office, guard)
