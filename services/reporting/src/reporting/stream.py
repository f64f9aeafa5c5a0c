"""The faust-streaming app: `lrs.batch.outcomes.v1` in, `lrs.reporting.*.v1` out.

Faust holds no state here (no Tables): facts live in PostgreSQL and are idempotent by key, so the
at-least-once guarantee with one agent instance (`concurrency=1`, faust issue #606) is enough.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import faust
from aiokafka.errors import KafkaError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import StreamT
from pydantic import ValidationError

from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import BATCH_OUTCOMES, REPORTING_SUBMISSIONS, REPORTING_TIMELINESS
from lrs_platform.logging import get_logger
from reporting.config import ReportingSettings
from reporting.projector import OutcomeProjector

_log = get_logger("reporting.stream")


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


def make_stream_app(settings: ReportingSettings, projector: OutcomeProjector) -> faust.App:
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
    dead_letters = app.topic(BATCH_OUTCOMES.dead_letters, key_serializer="raw", value_serializer="raw")

    async def handle(raw: bytes) -> None:
        try:
            _, payload = decode(raw)
        except UnknownEventType:
            return
        except (ValidationError, ValueError) as error:
            await (await dead_letters.send(value=raw, headers={"lrs-error": type(error).__name__.encode()}))
            _log.error("outcome_dead_lettered", error=type(error).__name__)
            return
        delay = 0.2
        while True:
            try:
                publications = await projector.apply(payload)
                for publication in publications:
                    # Awaited one by one: the offset may only be committed after the aggregate is out.
                    await (await outputs[publication.topic].send(key=publication.key, value=publication.value))
                return
            except (OSError, asyncpg.PostgresError, KafkaError) as error:
                _log.warning("outcome_projection_retry", error=type(error).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.retry_max_seconds)

    @app.agent(outcomes, concurrency=1, name="reporting.project_outcomes")
    async def project_outcomes(stream: StreamT[bytes]) -> None:
        async for raw in stream:
            await handle(raw)

    return app
