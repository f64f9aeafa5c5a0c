"""Abandoned batches in the MI (decision 0105), against real Kafka and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from tests.integration.test_notifier import bearer
from tests.integration.test_reporting import (
    DECIDED,
    PERIOD,
    completed,
    envelope,
    failed,
    produce,
    random_ao,
    submissions_from_now,
)
from tests.support.waiting import eventually

from lrs_contracts.outcomes import BatchAbandoned
from lrs_contracts.registry import decode
from lrs_contracts.reporting import AoMonthlySubmissions
from lrs_platform.database import apply_migrations
from reporting.aggregates import BatchFact
from reporting.store import ReportingStore

pytestmark = pytest.mark.integration

JUNE = "2023-06"


def abandoned(ao_id: str, at: datetime) -> BatchAbandoned:
    return BatchAbandoned(batch_id=uuid.uuid4(), ao_id=ao_id, reason="could not be processed", abandoned_at=at)


class Submissions:
    """The submissions aggregates published from now on, the latest per key."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self.latest: dict[str, AoMonthlySubmissions] = {}
        self.published = 0

    async def read(self) -> None:
        for records in (await self._consumer.getmany(timeout_ms=200)).values():
            for record in records:
                _, payload = decode(record.value or b"")
                assert isinstance(payload, AoMonthlySubmissions)
                self.latest[(record.key or b"").decode()] = payload
                self.published += 1


async def test_abandoned_batches_count_once_in_the_uk_month_they_were_given_up(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    ao = random_ao()
    in_may = abandoned(ao, DECIDED)
    in_june = abandoned(ao, datetime(2023, 5, 31, 23, 30, tzinfo=UTC))  # 00:30 BST on 1 June
    may_event = envelope(in_may)

    consumer = await submissions_from_now(kafka_bootstrap)
    submissions = Submissions(consumer)

    def counts(period: str) -> tuple[int, int, int] | None:
        found = submissions.latest.get(f"{ao}|{period}")
        return None if found is None else (found.batches_completed, found.batches_failed, found.batches_abandoned)

    async def all_counted() -> bool:
        await submissions.read()
        return counts(PERIOD) == (1, 1, 1) and counts(JUNE) == (0, 0, 1)

    try:
        done, failure = completed(ao, "2023-05-10", accepted=3, rejected=0), failed(ao)
        await produce(
            kafka_bootstrap,
            (done.batch_id, envelope(done)),
            (failure.batch_id, envelope(failure)),
            (in_may.batch_id, may_event),
            (in_june.batch_id, envelope(in_june)),
        )
        await eventually(all_counted, within=45, what="the AO's batches counted, the abandoned ones by month")
        before = submissions.published
        # The same abandonment again (a dead letter sent again after a crash): it must not count twice.
        await produce(kafka_bootstrap, (in_may.batch_id, may_event))

        async def republished() -> bool:
            await submissions.read()
            return submissions.published > before

        await eventually(republished, within=30, what="May's aggregate republished")
    finally:
        await consumer.stop()

    assert counts(PERIOD) == (1, 1, 1)
    may = submissions.latest[f"{ao}|{PERIOD}"]
    assert (may.records_total, may.records_accepted, may.records_rejected) == (13, 3, 4)
    assert may.rejections_by_code == {"RS005": 1}
    assert await pool.fetchval("SELECT count(*) FROM reporting.batch_facts WHERE ao_id = $1 AND abandoned", ao) == 2

    as_ao = await bearer(pool, f"ao:{ao}")
    [june] = (await reporting.get(f"/v1/reports/submissions?period={JUNE}", headers=as_ao)).json()["items"]
    assert (june["batches_completed"], june["batches_failed"], june["batches_abandoned"]) == (0, 0, 1)
    assert june["records_total"] == 0
    download = await reporting.get(f"/v1/reports/submissions?period={PERIOD}&format=csv", headers=as_ao)
    [row] = csv.DictReader(io.StringIO(download.text))
    assert (row["batches_completed"], row["batches_failed"], row["batches_abandoned"]) == ("1", "1", "1")
    [rejections] = (await reporting.get(f"/v1/reports/rejections?from={PERIOD}", headers=as_ao)).json()["items"]
    assert rejections["batches_failed"] == 1


async def test_a_store_from_before_0003_upgrades_and_its_facts_read_as_decided(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "reporting", "reporting.migrations")
        await connection.execute("ALTER TABLE reporting.batch_facts DROP COLUMN abandoned")
        await connection.execute("DELETE FROM reporting.schema_migrations WHERE version = 3")
        await connection.execute(
            "INSERT INTO reporting.batch_facts (batch_id, ao_id, period, completed, records_total, records_accepted,"
            " records_rejected, failure_code, working_days) VALUES ($1, 'RN1', $2, false, 10, 0, 4, 'RS005', NULL)",
            uuid.uuid4(),
            PERIOD,
        )

        applied = await apply_migrations(connection, "reporting", "reporting.migrations")

    assert applied == ["0003_abandoned_batches.sql"]
    store = ReportingStore(pool)
    [(submissions, _)] = await store.aggregates(PERIOD, "RN1")
    assert (submissions.batches_failed, submissions.batches_abandoned, submissions.records_total) == (1, 0, 10)
    given_up = BatchFact(uuid.uuid4(), "RN1", PERIOD, False, 0, 0, 0, None, None, abandoned=True)
    assert await store.record_fact(given_up)
    assert not await store.record_fact(given_up)
    [(submissions, _)] = await store.aggregates(PERIOD, "RN1")
    assert (submissions.batches_failed, submissions.batches_abandoned) == (1, 1)


async def test_a_store_from_before_0005_counts_the_unchanged_records_of_its_completed_batches(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "reporting", "reporting.migrations")
        await connection.execute("ALTER TABLE reporting.batch_facts DROP COLUMN records_unchanged")
        await connection.execute("DELETE FROM reporting.schema_migrations WHERE version = 5")
        for completed, total, accepted, rejected, code in [(True, 12, 7, 2, None), (False, 10, 0, 4, "RS005")]:
            await connection.execute(
                "INSERT INTO reporting.batch_facts (batch_id, ao_id, period, completed, records_total,"
                " records_accepted, records_rejected, failure_code, working_days)"
                " VALUES ($1, 'RN5', $2, $3, $4, $5, $6, $7, NULL)",
                uuid.uuid4(),
                PERIOD,
                completed,
                total,
                accepted,
                rejected,
                code,
            )

        applied = await apply_migrations(connection, "reporting", "reporting.migrations")

    assert applied == ["0005_unchanged_records.sql"]
    [(submissions, _)] = await ReportingStore(pool).aggregates(PERIOD, "RN5")
    assert (submissions.records_total, submissions.records_accepted, submissions.records_rejected) == (22, 7, 6)
    assert submissions.records_unchanged == 3  # the completed batch's 12 - 7 - 2; the failed one recorded nothing
