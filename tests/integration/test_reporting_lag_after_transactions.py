"""Reporting's lag gauge on real Kafka: the decider writes outcomes in transactions, and the marker each one leaves
after its last event is never handed to an agent. Reviewers saw `lrs_consumer_lag_messages{consumer="reporting"}`
read 3 for 14 minutes while reporting applied 18 messages and ingest and the notifier, reading the same topic,
read 0; `docs/operations.md`'s stuck-consumer alert would then fire whenever MI is idle."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from asgi_lifespan import LifespanManager
from faust.types import TP
from prometheus_client import REGISTRY
from tests.support.databases import create_database, unique_name
from tests.support.kafka import pin_group_at_end
from tests.support.waiting import eventually

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCounts, BatchFailed
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS
from lrs_platform.kafka import ensure_topics, make_consumer, make_producer
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings
from reporting.lag import AgentLag

pytestmark = pytest.mark.integration


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class ConsumerPositions:
    """An aiokafka consumer read as faust's is read by the count (`_ReadCommittedConsumerThread.highwater`
    answers the last stable offset)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer

    def assignment(self) -> set[TP]:
        return {TP(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def highwater(self, tp: TP) -> int | None:
        end: int | None = self._consumer.last_stable_offset(TopicPartition(tp.topic, tp.partition))
        return end

    async def position(self, tp: TP) -> int | None:
        position: int = await self._consumer.position(TopicPartition(tp.topic, tp.partition))
        return position


async def test_lag_returns_to_zero_once_the_agent_has_handled_every_transactions_events(kafka_bootstrap: str) -> None:
    topic = f"lrs.test.agent-lag.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = make_producer(kafka_bootstrap, transactional_id=f"tests-agent-lag-{uuid.uuid4().hex}")
    await producer.start()
    try:
        for events in (3, 2):  # offsets 0-2, its marker 3; 4-5, its marker 6
            async with producer.transaction():
                for number in range(events):
                    await producer.send_and_wait(topic, f"event {number}".encode())
    finally:
        await producer.stop()

    consumer = make_consumer(kafka_bootstrap, group_id=None)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    await consumer.start()
    try:
        await consumer.seek_to_beginning(partition)
        name = "reporting-lag-on-kafka"
        lag = AgentLag(name, (topic,))
        handled: list[int] = []

        async def agent_handles_what_is_fetched() -> bool:
            for record in (await consumer.getmany(partition, timeout_ms=200)).get(partition, []):
                lag.handling(TP(topic, 0), record.offset)
                lag.handled(TP(topic, 0), record.offset)
                handled.append(record.offset)
            return len(handled) == 5

        await eventually(agent_handles_what_is_fetched, within=30, what="the five events handled")
        assert handled == [0, 1, 2, 4, 5]
        assert consumer.last_stable_offset(partition) == 7

        positions = ConsumerPositions(consumer)
        await lag.count(positions)
        await lag.count(positions)  # the agent began and finished nothing since the last count
        assert REGISTRY.get_sample_value("lrs_consumer_lag_messages", {"consumer": name, "topic": topic}) == 0
    finally:
        await consumer.stop()


async def test_reporting_reads_no_lag_once_it_has_applied_the_decider_s_transactions(
    kafka_bootstrap: str, database_url: str
) -> None:
    """The running service: outcomes written as the decider writes them, one transaction a batch, across the
    topic's partitions."""
    await ensure_topics(kafka_bootstrap)
    app_id = f"reporting-lag-{uuid.uuid4().hex[:8]}"
    await pin_group_at_end(kafka_bootstrap, app_id, (BATCH_OUTCOMES, PLR_EVENTS, CHALLENGE_EVENTS))
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=await create_database(database_url, unique_name("t")),
        app_id=app_id,
        log_json=True,
    )
    applied = {"consumer": "reporting", "outcome": "applied"}
    lag = {"consumer": "reporting", "topic": BATCH_OUTCOMES.name}
    async with LifespanManager(create_app(settings), startup_timeout=60, shutdown_timeout=40):
        before = sample("lrs_consumer_messages_total", applied)
        producer = make_producer(kafka_bootstrap, transactional_id=f"tests-reporting-lag-{uuid.uuid4().hex}")
        await producer.start()
        try:
            for _ in range(6):
                async with producer.transaction():
                    failure = failed_batch()
                    await producer.send_and_wait(
                        BATCH_OUTCOMES.name,
                        encode(wrap(failure, source="test", correlation_id="it")),
                        key=str(failure.batch_id).encode(),
                    )
        finally:
            await producer.stop()

        async def all_applied() -> bool:
            return sample("lrs_consumer_messages_total", applied) - before >= 6

        await eventually(all_applied, within=60, what="the six outcomes applied")

        quiet_since: list[float] = []

        async def no_lag_for_three_seconds() -> bool:
            """Read 0 at every look for 3 s: counts made once every event was handled (one a second), not one
            made before."""
            if sample("lrs_consumer_lag_messages", lag) != 0:
                quiet_since.clear()
                return False
            quiet_since[:] = quiet_since or [time.monotonic()]
            return time.monotonic() - quiet_since[0] >= 3

        await eventually(no_lag_for_three_seconds, within=20, every=0.2, what="reporting's lag back to 0")


def failed_batch() -> BatchFailed:
    decided = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    return BatchFailed(
        batch_id=uuid.uuid4(),
        ao_id=f"RN{uuid.uuid4().int % 10**6}",
        code="RS005",
        reason="4 of 10 rejected",
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=0),
        submitted_at=decided,
        decided_at=decided,
    )
