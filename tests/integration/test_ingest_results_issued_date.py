"""The batch view keeps the header's ResultsIssuedDate, from which timeliness MI counts a batch's working days, and
answers it (`results_issued_date`), against real Kafka and PostgreSQL: an AO whose MI says a batch took 580 working
days can find the batch and the date it counted from. A batch ingest never stored shows it from its completion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from tests.integration.ingest_service import ingest_service  # noqa: F401 - the module's `ingest` fixture
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    _records,
    ingest_database_url,
    publish_outcomes,
    submit,
)
from tests.support.waiting import eventually

from lrs_contracts.batch import BatchFormat, BatchHeader, JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchRecordsDecided, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_domain.formats import ParsedBatch, write_batch

pytestmark = pytest.mark.integration


def _file(ao_id: str, fmt: BatchFormat, results_issued_date: str | None) -> bytes:
    header = BatchHeader(
        awarding_organisation=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@example.org",
        batch_reference=uuid.uuid4().hex[:16],
        results_issued_date=results_issued_date,
    )
    return write_batch(ParsedBatch(header=header, records=_records(2), format=fmt), fmt)


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, BatchFormat.JSON])
async def test_the_results_issued_date_is_kept_and_shown_in_the_view_and_the_list(
    ingest: Ingest, fmt: BatchFormat
) -> None:
    ao_id, headers = await ingest.new_ao()
    dated = await submit(ingest, headers, _file(ao_id, fmt, "2024-08-22"), fmt)
    undated = await submit(ingest, headers, _file(ao_id, fmt, None), fmt)
    assert dated.status_code == undated.status_code == 202, (dated.text, undated.text)

    view = await ingest.client.get(dated.headers["Location"], headers=headers)
    assert view.status_code == 200 and view.json()["results_issued_date"] == "2024-08-22"
    assert (await ingest.client.get(undated.headers["Location"], headers=headers)).json()["results_issued_date"] is None
    listed = (await ingest.client.get("/v1/batches", headers=headers)).json()["items"]
    assert {item["batch_id"]: item["results_issued_date"] for item in listed} == {
        dated.json()["batch_id"]: "2024-08-22",
        undated.json()["batch_id"]: None,
    }


async def test_a_batch_ingest_never_stored_shows_its_date_from_its_completion(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    batch_id = uuid.uuid4()
    now = datetime.now(UTC)
    outcome = RecordOutcome(
        line=1, mis_identifier="M-1", action="Create", uln_masked="******0043", status=RecordStatus.ACCEPTED
    )
    chunk = BatchRecordsDecided(batch_id=batch_id, ao_id=ao_id, chunk_index=0, outcomes=(outcome,))
    completed = BatchCompleted(
        batch_id=batch_id,
        ao_id=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@example.org",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=now,
        decided_at=now,
        results_issued_date="2024-08-22",
    )
    values = [
        encode(wrap(payload, source="validation", correlation_id=str(batch_id))) for payload in (chunk, completed)
    ]
    await publish_outcomes(ingest.kafka_bootstrap, batch_id, *values)

    async def decided() -> httpx.Response | None:
        response = await ingest.client.get(f"/v1/batches/{batch_id}?wait_until_decided=5", headers=headers)
        return response if response.status_code == 200 and response.json()["status"] == "completed" else None

    view = (await eventually(decided, within=60, what="the completed batch")).json()
    assert view["results_issued_date"] == "2024-08-22"
