"""The batch view cannot lose a batch: no batch stays waiting while its decision is on the outcomes topic.

Two ways a batch could be lost, both on real Kafka and PostgreSQL: the first batches of a cold start,
submitted and decided while ingest's batch-view group is still joining (real ingest and validation
processes on a broker of their own), and a batch whose outcome events the group has already committed
past (only the reconciler can find those)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from tests.integration.plr_flow import decided_view
from tests.support.databases import create_database, create_key_store, unique_name
from tests.support.infra import private_kafka
from tests.support.kafka import send
from tests.support.system import build_system, issue_key
from tests.support.waiting import eventually

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchCounts,
    BatchRecordsDecided,
    BatchValidationStarted,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration


async def _issue_key(database_url: str, principal: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await issue_key(database_url, principal)}"}


def _batch(ao_id: str) -> bytes:
    # unknown learners: validation rejects every record and fails the batch (RS005), a decision all the same
    records = [
        {
            "uln": f"{2_000_000_000 + line * 7_919}",
            "givenName": "Cold",
            "familyName": "Start",
            "qualificationNumber": "601/4491/X",
            "awardDate": "2024-08-22",
            "grade": "Pass",
        }
        for line in range(1, 4)
    ]
    header = {"awardingOrganisation": ao_id, "notificationEmail": "results@example.org"}
    return json.dumps({"header": header, "records": records}).encode()


# ---------------------------------------------------------------- a cold start


@pytest.fixture
def cold_kafka() -> Iterator[str]:
    """A broker with no topic and no consumer group yet, as on a fresh `make up`."""
    with private_kafka() as bootstrap:
        yield bootstrap


async def test_batches_submitted_while_the_services_start_are_all_decided_in_the_view(
    cold_kafka: str, database_url: str, tmp_path: Path
) -> None:
    database = await create_database(database_url, unique_name("batch_view"))
    system = build_system(cold_kafka, database, tmp_path / "logs", {"INGEST_RECONCILE_AFTER_SECONDS": "10"})
    ingest = system["ingest"]
    try:
        ingest.start()
        system["validation"].start()
        async with httpx.AsyncClient(base_url=ingest.url, timeout=60) as client:

            async def answering() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(answering, within=120, what="ingest answering")
            callers = {f"RN{n:03d}00001": await _issue_key(database, f"ao:RN{n:03d}00001") for n in range(3)}

            async def submitted(ao_id: str) -> str:
                async def accepted() -> str | None:
                    response = await client.post(
                        "/v1/batches",
                        content=_batch(ao_id),
                        headers={**callers[ao_id], "Content-Type": "application/json"},
                    )
                    assert response.status_code in (202, 503), response.text  # 503 until Kafka takes it
                    return response.headers["Location"] if response.status_code == 202 else None

                return await eventually(accepted, within=120, what=f"{ao_id}'s batch accepted")

            # the first batches, while ingest's batch-view group is still joining
            locations = await asyncio.gather(*(submitted(ao_id) for ao_id in callers))

            async def decided(ao_id: str, location: str) -> dict[str, Any]:
                async def view() -> dict[str, Any] | None:
                    response = await client.get(f"{location}?wait_until_decided=5", headers=callers[ao_id])
                    body: dict[str, Any] = response.json()
                    return body if decided_view(body) else None

                return await eventually(view, within=180, what=f"{ao_id}'s batch decided in the view")

            views = await asyncio.gather(
                *(decided(ao_id, location) for ao_id, location in zip(callers, locations, strict=True))
            )
        assert [view["status"] for view in views] == ["failed"] * 3
        assert [view["counts"]["total"] for view in views] == [3] * 3
    finally:
        system.stop()


# ---------------------------------------------------------------- outcomes the group committed past


def _settings(kafka_bootstrap: str, database_url: str, **overrides: Any) -> IngestSettings:
    return IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=database_url, log_json=True, **overrides
    )


@asynccontextmanager
async def running(settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(create_app(settings), startup_timeout=120, shutdown_timeout=60) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://ingest", timeout=60) as client,
    ):
        yield client


def _outcomes(batch_id: uuid.UUID, ao_id: str) -> list[bytes]:
    now = datetime.now(UTC)
    outcomes = tuple(
        RecordOutcome(line=line, mis_identifier=f"M-{line}", uln_masked="******0043", status=RecordStatus.ACCEPTED)
        for line in (1, 2, 3)
    )
    events = [
        BatchValidationStarted(batch_id=batch_id, ao_id=ao_id, record_count=3),
        BatchRecordsDecided(batch_id=batch_id, ao_id=ao_id, chunk_index=0, outcomes=outcomes),
        BatchCompleted(
            batch_id=batch_id,
            ao_id=ao_id,
            job_type=JobType.FINAL,
            notification_email="results@example.org",
            counts=BatchCounts(total=3, accepted=3, rejected=0, no_ops=0, warnings=0),
            submitted_at=now,
            decided_at=now,
        ),
    ]
    return [encode(wrap(event, source="validation", correlation_id=str(batch_id))) for event in events]


async def _publish(kafka_bootstrap: str, key: uuid.UUID, values: list[bytes]) -> None:
    await send(kafka_bootstrap, BATCH_OUTCOMES.name, [(str(key).encode(), value) for value in values])


async def _commit_group_at_the_end(kafka_bootstrap: str, group_id: str) -> None:
    """The group's offsets past everything on the topic, as if it had consumed it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([BATCH_OUTCOMES.name])
    finally:
        await admin.close()
    partitions = [TopicPartition(BATCH_OUTCOMES.name, entry["partition"]) for entry in description["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def test_a_batch_whose_outcomes_the_group_committed_past_becomes_final(
    kafka_bootstrap: str, database_url: str
) -> None:
    await ensure_topics(kafka_bootstrap)
    database = await create_database(database_url, unique_name("batch_view"))
    await create_key_store(database)
    group = f"ingest-batch-view-{uuid.uuid4().hex[:8]}"
    ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
    async with running(_settings(kafka_bootstrap, database, outcomes_enabled=False)) as client:
        headers = await _issue_key(database, f"ao:{ao_id}")
        accepted = await client.post(
            "/v1/batches", content=_batch(ao_id), headers={**headers, "Content-Type": "application/json"}
        )
        assert accepted.status_code == 202, accepted.text
    batch_id = uuid.UUID(accepted.json()["batch_id"])
    await _publish(kafka_bootstrap, batch_id, _outcomes(batch_id, ao_id))
    await _commit_group_at_the_end(kafka_bootstrap, group)

    view_settings = _settings(
        kafka_bootstrap,
        database,
        outcomes_group_id=group,
        reconcile_after_seconds=1,
        reconcile_interval_seconds=0.5,
    )
    async with running(view_settings) as client:

        async def final() -> dict[str, Any] | None:
            response = await client.get(f"/v1/batches/{batch_id}?wait_until_decided=2", headers=headers)
            body: dict[str, Any] = response.json()
            return body if decided_view(body) else None

        view = await eventually(final, within=90, what="the batch final through the reconciler")
        records = (await client.get(f"/v1/batches/{batch_id}/records", headers=headers)).json()
        no_seconds = await client.get(f"/v1/batches/{batch_id}?wait_until_decided=nan", headers=headers)
    assert view["status"] == "completed" and view["counts"]["accepted"] == 3
    assert no_seconds.status_code == 422
    assert "query.wait_until_decided: Input should be a finite number" in no_seconds.json()["detail"]
    assert [record["line"] for record in records["records"]] == [1, 2, 3]


async def test_a_view_restored_to_an_earlier_point_gets_back_the_batches_decided_since(
    kafka_bootstrap: str, database_url: str
) -> None:
    """The view's database restored from a backup: its stored positions are the backup's, behind the group's
    committed offsets, and the outcomes since then are read again (decision 0171's release; ingest migration 0114).
    The reconciler cannot help: it looks only at the batches the view still holds."""
    await ensure_topics(kafka_bootstrap)
    database = await create_database(database_url, unique_name("batch_view"))
    await create_key_store(database)
    ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
    settings = _settings(
        kafka_bootstrap,
        database,
        outcomes_group_id=f"ingest-batch-view-{uuid.uuid4().hex[:8]}",
        reconcile_after_seconds=3600,
    )
    headers = await _issue_key(database, f"ao:{ao_id}")

    async def decided(client: httpx.AsyncClient, file: bytes) -> uuid.UUID:
        accepted = await client.post(
            "/v1/batches", content=file, headers={**headers, "Content-Type": "application/json"}
        )
        assert accepted.status_code == 202, accepted.text
        batch_id = uuid.UUID(accepted.json()["batch_id"])
        await _publish(kafka_bootstrap, batch_id, _outcomes(batch_id, ao_id))

        async def final() -> bool | None:
            response = await client.get(f"/v1/batches/{batch_id}?wait_until_decided=2", headers=headers)
            return True if response.status_code == 200 and decided_view(response.json()) else None

        await eventually(final, within=60, what=f"batch {batch_id} decided in the view")
        return batch_id

    connection = await asyncpg.connect(database)
    try:
        async with running(settings) as client:
            await decided(client, _batch(ao_id))
            backup = await connection.fetch("SELECT * FROM ingest.batch_view_positions")
            later = await decided(client, _batch(ao_id).replace(b"Cold", b"Later"))
        # the restore: the backup's rows, without the later batch, and the backup's positions
        await connection.execute("DELETE FROM ingest.batch_record_chunks WHERE batch_id = $1", later)
        await connection.execute("DELETE FROM ingest.batches WHERE batch_id = $1", later)
        await connection.execute("DELETE FROM ingest.batch_view_positions")
        await connection.executemany(
            "INSERT INTO ingest.batch_view_positions VALUES ($1, $2, $3, $4)", [tuple(row) for row in backup]
        )
        assert backup
    finally:
        await connection.close()

    async with running(settings) as client:

        async def back() -> dict[str, Any] | None:
            response = await client.get(f"/v1/batches/{later}", headers=headers)
            body: dict[str, Any] = response.json()
            return body if response.status_code == 200 and decided_view(body) else None

        view = await eventually(back, within=60, what="the batch decided after the backup, back in the view")
    assert view["status"] == "completed" and view["counts"]["accepted"] == 3
