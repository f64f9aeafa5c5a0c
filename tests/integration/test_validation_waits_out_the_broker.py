"""Validation rides out a broker restart in the middle of publishing a decision, and decides the batch once.

The broker is SIGKILLed as the decider sends the batch's first record batch of PLR events, and started again only
once the producer has timed out on it (`KafkaTimeoutError`: a record batch waited longer than the request
timeout behind the one before it). That error used to stop the process (the decider took every Kafka error
for a fenced producer): under `make up` nothing started it again and the batch stayed `validating`.

Real Kafka (a broker of the test's own, SIGKILLed and started again on the same port) and PostgreSQL; ingest runs
as a process, validation in this one, so that the moment of the fault is exact: its producer is the service's own,
built by its bootstrap, with a shorter request timeout and smaller record batches (so that a few hundred records
fill several batches a partition, and the outage need last only seconds)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from asgi_lifespan import LifespanManager
from tests.faults.infra import RestartableKafka
from tests.support.databases import create_database, unique_name
from tests.support.infra import database_url as provide_database_url
from tests.support.learners import json_batch, json_record, learners_csv, new_learner
from tests.support.system import build_system, isolation_env, issue_key
from tests.support.waiting import eventually

import lrs_platform.service
import validation.bootstrap
from lrs_contracts.registry import decode
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.kafka import ensure_topics, make_consumer, make_producer
from validation.bootstrap import create_app
from validation.config import ValidationSettings

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"
RECORDS = 400
REQUEST_TIMEOUT_MS = 3_000  # the broker stays away longer: it is started again only once this has passed
RECORD_BATCH_BYTES = 16_384


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with provide_database_url() as url:
        yield url


@pytest.fixture
def kafka() -> Iterator[RestartableKafka]:
    broker = RestartableKafka()
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


class BrokerAwayWhileDeciding:
    """Builds the decider's producer (`validation.bootstrap.make_producer`) so that its first record batch of PLR
    events SIGKILLs the broker before it is sent, and notes the producer's timeout that follows."""

    def __init__(self, kafka: RestartableKafka) -> None:
        self.kafka = kafka
        self.armed = False
        self.crashed = False
        self.timed_out = False

    def make_producer(self, bootstrap: str, *, transactional_id: str | None = None, **overrides: Any) -> Any:
        if transactional_id is None:
            return make_producer(bootstrap, **overrides)
        producer = make_producer(
            bootstrap,
            transactional_id=transactional_id,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            max_batch_size=RECORD_BATCH_BYTES,
            **overrides,
        )
        send_batch = producer.send_batch

        async def crashing_first(batch: Any, topic: str, *, partition: int) -> Any:
            if self.armed and not self.crashed and topic == PLR_EVENTS.name:
                self.crashed = True
                await self.kafka.crash()
            try:
                return await send_batch(batch, topic, partition=partition)
            except KafkaTimeoutError:
                self.timed_out = True
                raise

        producer.send_batch = crashing_first
        return producer


class StopsAsked:
    """`lrs_platform.service`'s `os`, noting a loop's request to stop this process instead of SIGTERMing pytest."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def kill(self, pid: int, signal_number: int) -> None:
        if pid != os.getpid():
            os.kill(pid, signal_number)
            return
        self.asked.append(signal_number)

    def getpid(self) -> int:
        return os.getpid()


async def _plr_events_of(bootstrap: str, batch_id: str) -> list[str]:
    """The event ids on the PLR log (read committed) caused by the batch, up to the log's end now."""
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(PLR_EVENTS.name, p) for p in range(PLR_EVENTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[str] = []
        while any([await consumer.position(partition) < offset for partition, offset in end.items()]):
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    envelope, _ = decode(record.value)
                    if envelope.correlation_id == batch_id:
                        found.append(str(envelope.event_id))
        return found
    finally:
        await consumer.stop()


async def test_a_broker_restart_while_a_batch_is_published_is_waited_out_and_the_batch_decided_once(
    kafka: RestartableKafka, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("away")
    database = await create_database(database_url, name)
    ingest = build_system(kafka.bootstrap, database, tmp_path, isolation_env(name, tmp_path), names=("ingest",))
    fault = BrokerAwayWhileDeciding(kafka)
    stops = StopsAsked()
    monkeypatch.setattr(validation.bootstrap, "make_producer", fault.make_producer)
    monkeypatch.setattr(lrs_platform.service, "os", SimpleNamespace(kill=stops.kill, getpid=stops.getpid))
    settings = ValidationSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap,
        DATABASE_URL=database,
        consumer_group=f"validation-{name}",
        instance_id=name,
        log_json=True,
    )
    await ensure_topics(kafka.bootstrap)
    try:
        async with (
            LifespanManager(create_app(settings), startup_timeout=120, shutdown_timeout=60) as manager,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://validation") as api,
        ):
            await ingest.start()  # once validation has published the catalogue its door checks batches against
            learners = [new_learner() for _ in range(RECORDS)]
            operator = {"Authorization": f"Bearer {await issue_key(database, 'operator:tests')}"}
            imported = await api.post(
                "/v1/learners/import",
                content=learners_csv(learners),
                headers={**operator, "Content-Type": "text/csv"},
            )
            assert imported.status_code == 201, imported.text
            batch = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C") for learner in learners])
            fault.armed = True
            ao = {"Authorization": f"Bearer {await issue_key(database, f'ao:{AQA}')}"}
            async with httpx.AsyncClient(base_url=ingest["ingest"].url, headers=ao, timeout=60.0) as client:
                submitted = await client.post("/v1/batches", json=batch)
                assert submitted.status_code == 202, submitted.text
                batch_id = str(submitted.json()["batch_id"])

                async def timed_out() -> bool:
                    assert not stops.asked, "validation stopped itself on the broker's outage"
                    return fault.timed_out

                await eventually(timed_out, within=120, what="the decider's producer timing out on the broker")
                await kafka.start_again()

                async def completed() -> dict[str, Any] | None:
                    assert not stops.asked, "validation stopped itself on the broker's outage"
                    view: dict[str, Any] = (await client.get(f"/v1/batches/{batch_id}")).json()
                    return view if view["status"] in ("completed", "failed", "abandoned") else None

                view = await eventually(completed, within=180, what=f"batch {batch_id} decided after the restart")
            assert view["status"] == "completed", view
            counts = view["counts"]
            assert (counts["total"], counts["accepted"], counts["rejected"]) == (RECORDS, RECORDS, 0), view
            events = await _plr_events_of(kafka.bootstrap, batch_id)
            assert len(events) == RECORDS
            assert len(set(events)) == RECORDS  # each event once: the aborted transaction's copies never read
            assert not stops.asked
    finally:
        ingest.stop()
