"""A batch's time of receipt says its offset from UTC: England's day of receipt decides RV008 (an award date in the
future), and a time without an offset would be read in the zone of whichever host reads it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from lrs_contracts.batch import BatchFormat, BatchHeader, BatchSubmitted, JobType
from lrs_contracts.registry import decode, encode, wrap


def _submitted(received_at: datetime) -> bytes:
    submitted = BatchSubmitted(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        header=BatchHeader(awarding_organisation="RN5133", job_type=JobType.FINAL, notification_email="mi@ao.example"),
        format=BatchFormat.CSV,
        record_count=1,
        content_sha256="0" * 64,
        size_bytes=100,
        submitted_by="ao:RN5133",
        received_at=received_at,
    )
    return encode(wrap(submitted, source="ingest", correlation_id=str(submitted.batch_id)))


def test_a_time_of_receipt_without_an_offset_is_refused() -> None:
    written = orjson.loads(_submitted(datetime(2026, 6, 30, 20, 0, tzinfo=UTC)))
    written["data"]["received_at"] = "2026-06-30T20:00:00"

    with pytest.raises(ValueError, match="received_at must say its offset from UTC"):
        decode(orjson.dumps(written))


def test_a_time_of_receipt_with_its_offset_decodes_as_written() -> None:
    _, submitted = decode(_submitted(datetime(2026, 6, 30, 20, 0, tzinfo=UTC)))

    assert isinstance(submitted, BatchSubmitted)
    assert submitted.received_at == datetime(2026, 6, 30, 20, 0, tzinfo=UTC)
