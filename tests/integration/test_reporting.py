"""Reporting (faust-streaming inside FastAPI) against real Kafka and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from tests.integration.test_notifier import bearer
from tests.support.kafka import send
from tests.support.waiting import eventually

from lrs_contracts.batch import JobType
from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchCounts,
    BatchFailed,
    BatchRecordsDecided,
    Finding,
    QualificationOnPlr,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.reporting import AoMonthlySubmissions
from lrs_contracts.topics import BATCH_OUTCOMES, REPORTING_SUBMISSIONS

pytestmark = pytest.mark.integration

DECIDED = datetime(2023, 5, 22, 10, 0, tzinfo=UTC)
PERIOD = "2023-05"


def random_ao() -> str:
    return f"RN{uuid.uuid4().int % 10**6}"


def completed(
    ao_id: str,
    issued: str,
    accepted: int,
    rejected: int,
    on_plr: tuple[QualificationOnPlr, ...] | None = None,
    unchanged: int = 0,
) -> BatchCompleted:
    """`on_plr` None: a completion as written before it named the qualifications it put on the PLR."""
    counts = BatchCounts(
        total=accepted + rejected + unchanged, accepted=accepted, rejected=rejected, no_ops=unchanged, warnings=0
    )
    return BatchCompleted(
        batch_id=uuid.uuid4(),
        ao_id=ao_id,
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=counts,
        submitted_at=DECIDED,
        decided_at=DECIDED,
        results_issued_date=issued,
        on_plr=on_plr,
    )


def failed(ao_id: str) -> BatchFailed:
    return BatchFailed(
        batch_id=uuid.uuid4(),
        ao_id=ao_id,
        code="RS005",
        reason="4 of 10 rejected",
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=0),
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def envelope(payload: Contract) -> Envelope:
    return wrap(payload, source="test", correlation_id="it")


async def produce(bootstrap: str, *messages: tuple[uuid.UUID, Envelope]) -> None:
    await send(
        bootstrap, BATCH_OUTCOMES.name, [(str(batch_id).encode(), encode(event)) for batch_id, event in messages]
    )


async def submissions_from_now(bootstrap: str) -> AIOKafkaConsumer:
    """A started consumer of the submissions aggregates, at the topic's end: it reads what is published next."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(REPORTING_SUBMISSIONS.name, p) for p in range(REPORTING_SUBMISSIONS.partitions)]
    consumer.assign(partitions)
    for partition, offset in (await consumer.end_offsets(partitions)).items():
        consumer.seek(partition, offset)
    return consumer


async def test_aggregates_count_a_redelivered_outcome_once_and_each_ao_sees_only_its_own(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    ao_a, ao_b = random_ao(), random_ao()
    late = completed(ao_a, "2023-05-04", accepted=9, rejected=1, unchanged=2)  # 11 working days (Coronation 8 May)
    on_time = completed(ao_b, "2023-05-10", accepted=3, rejected=0)  # 8 working days
    chunk = BatchRecordsDecided(
        batch_id=late.batch_id,
        ao_id=ao_a,
        chunk_index=0,
        outcomes=(
            RecordOutcome(line=1, status=RecordStatus.REJECTED, errors=(Finding(code="RV012", message="x"),)),
            RecordOutcome(line=2, status=RecordStatus.ACCEPTED),
        ),
    )
    failure = failed(ao_a)
    late_event = envelope(late)

    consumer = await submissions_from_now(kafka_bootstrap)
    published: list[tuple[bytes, Envelope, AoMonthlySubmissions]] = []

    async def publications_for_a() -> list[tuple[bytes, Envelope, AoMonthlySubmissions]]:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            for record in records:
                event, payload = decode(record.value or b"")
                assert isinstance(payload, AoMonthlySubmissions)
                published.append((record.key or b"", event, payload))
        return [item for item in published if item[0] == f"{ao_a}|{PERIOD}".encode()]

    async def both_batches_counted() -> list[tuple[bytes, Envelope, AoMonthlySubmissions]] | None:
        ours = await publications_for_a()
        settled = ours and (ours[-1][2].batches_completed, ours[-1][2].batches_failed) == (1, 1)
        return ours if settled else None

    try:
        await produce(
            kafka_bootstrap,
            (late.batch_id, envelope(chunk)),
            (late.batch_id, late_event),
            (failure.batch_id, envelope(failure)),
            (on_time.batch_id, envelope(on_time)),
        )
        # The outcomes of A's two batches sit on different partitions: wait until both are counted.
        before = list(await eventually(both_batches_counted, within=45, what="both of AO A's batches counted"))
        # The same outcome again (same event id, same batch): it must not count twice.
        await produce(kafka_bootstrap, (late.batch_id, late_event), (late.batch_id, envelope(chunk)))

        async def republished() -> list[tuple[bytes, Envelope, AoMonthlySubmissions]] | None:
            ours = await publications_for_a()
            return ours if len(ours) > len(before) else None

        ours = await eventually(republished, within=30, what="the republished aggregates")
    finally:
        await consumer.stop()

    final = ours[-1][2]
    assert (final.batches_completed, final.batches_failed) == (1, 1)
    assert (final.records_total, final.records_accepted, final.records_rejected) == (22, 9, 5)
    assert final.records_unchanged == 2  # the completed batch's; the failed one's 6 others recorded nothing
    assert final.rejections_by_code == {"RS005": 1, "RV012": 1}
    # Republishing an unchanged aggregate reuses its content-derived event id.
    assert before[-1][2] == final
    assert before[-1][1].event_id == ours[-1][1].event_id
    assert await pool.fetchval("SELECT count(*) FROM reporting.batch_facts WHERE ao_id = $1", ao_a) == 2

    as_a, as_b = await bearer(pool, f"ao:{ao_a}"), await bearer(pool, f"ao:{ao_b}")
    operator = await bearer(pool, "operator:mi")
    seen_by_a = (await reporting.get(f"/v1/reports/submissions?period={PERIOD}", headers=as_a)).json()["items"]
    assert [item["ao_id"] for item in seen_by_a] == [ao_a]
    assert seen_by_a[0]["batches_completed"] == 1
    sneaky = await reporting.get(f"/v1/reports/submissions?period={PERIOD}&ao_id={ao_a}", headers=as_b)
    assert (sneaky.status_code, sneaky.headers["content-type"]) == (403, "application/problem+json")
    assert sneaky.json()["detail"] == "An awarding organisation sees only its own reports."
    own = await reporting.get(f"/v1/reports/submissions?period={PERIOD}&ao_id={ao_b}", headers=as_b)
    assert [item["ao_id"] for item in own.json()["items"]] == [ao_b]
    timeliness_b = (await reporting.get(f"/v1/reports/timeliness?period={PERIOD}", headers=as_b)).json()
    assert timeliness_b["items"][0]["batches_within_10_working_days"] == 1
    timeliness_a = (await reporting.get(f"/v1/reports/timeliness?period={PERIOD}", headers=as_a)).json()["items"][0]
    assert (timeliness_a["batches_measured"], timeliness_a["batches_within_10_working_days"]) == (1, 0)
    assert timeliness_a["worst_working_days"] == 11

    download = await reporting.get(f"/v1/reports/submissions?period={PERIOD}&format=csv", headers=operator)
    assert download.headers["content-type"].startswith("text/csv")
    rows = {row["ao_id"]: row for row in csv.DictReader(io.StringIO(download.text))}
    assert {ao_a, ao_b} <= set(rows)
    assert rows[ao_a]["rejections_by_code"] == "RS005=1;RV012=1"
    learner = await bearer(pool, "learner:1000000043")
    assert (await reporting.get(f"/v1/reports/submissions?period={PERIOD}", headers=learner)).status_code == 403
    assert (await reporting.get("/v1/reports/submissions?period=2023-13", headers=as_a)).status_code == 422
