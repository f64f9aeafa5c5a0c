"""A ResultsIssuedDate more than a year (366 days) after the day ingest receives the file is refused at the door
(RS001, decision 0133), counted from the day in England the batch was received: the day RV008 reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from services.ingest.tests.unit.test_ingest_service import AO, FakeKeyring, FakePublisher, FakeRepository, submit

from ingest.service import BatchRefusedError, BatchSubmissions, ChunkLimits
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_domain.formats import ParsedBatch, write_json

# 23:30 in UTC on 30 June is 00:30 on 1 July in England (BST): the batch was received on 1 July
RECEIVED = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)


def _file(results_issued_date: str) -> bytes:
    header = BatchHeader(
        awarding_organisation="RN5133",
        job_type=JobType.FINAL,
        notification_email="a@example.org",
        batch_reference="AHEAD",
        results_issued_date=results_issued_date,
    )
    rows = (SubmittedRecord(line=1, uln="1000000043", grade="Pass"),)
    return write_json(ParsedBatch(header=header, records=rows, format=BatchFormat.JSON))


def _service(repository: FakeRepository) -> BatchSubmissions:
    return BatchSubmissions(
        repository,  # type: ignore[arg-type]
        FakePublisher(),  # type: ignore[arg-type]
        FakeKeyring(),
        chunk_limits=ChunkLimits(2, 1_000_000),
        row_lock_timeout=1,
        publish_timeout=5,
        clock=lambda: RECEIVED,
    )


async def test_a_date_366_days_after_englands_day_of_receipt_is_accepted() -> None:
    repository = FakeRepository()
    result = await submit(_service(repository), _file("2027-07-02"), principal=AO)
    assert repository.refusals == [] and result.replay is False


async def test_a_date_367_days_after_englands_day_of_receipt_is_refused_rs001_saying_to_check_the_year() -> None:
    repository = FakeRepository()
    with pytest.raises(BatchRefusedError) as refused:
        await submit(_service(repository), _file("2027-07-03"), principal=AO)
    refusal = refused.value.refusal
    assert (refusal.code.value, refusal.detail) == (
        "RS001",
        "ResultsIssuedDate '2027-07-03' is more than a year ahead: check the year (it may be 2027-07-02 at the latest)",
    )
    assert [stored.code for _, _, stored in repository.refusals] == ["RS001"]
