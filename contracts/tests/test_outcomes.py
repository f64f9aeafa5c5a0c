"""A batch's completion as written before it named the qualifications it put on the PLR still decodes."""

from __future__ import annotations

import uuid

import orjson

from lrs_contracts.outcomes import BatchCompleted, QualificationOnPlr
from lrs_contracts.registry import decode, encode, wrap

BATCH_ID = uuid.UUID("0b7e4f2a-5c1d-4e8f-9a3b-6d2c1e0f4a5b")

# lrs.batch.completed.v1 as validation wrote it before `on_plr` existed.
WRITTEN_BEFORE = {
    "event_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "event_type": "lrs.batch.completed.v1",
    "occurred_at": "2026-06-01T10:00:00Z",
    "source": "validation",
    "correlation_id": str(BATCH_ID),
    "causation_id": None,
    "schema_version": 1,
    "data": {
        "event_type": "lrs.batch.completed.v1",
        "batch_id": str(BATCH_ID),
        "ao_id": "RN5133",
        "job_type": "Final",
        "batch_reference": None,
        "notification_email": "mi@ao.example",
        "counts": {"total": 10, "accepted": 9, "rejected": 1, "no_ops": 0, "warnings": 0},
        "submitted_at": "2026-06-01T09:59:00Z",
        "decided_at": "2026-06-01T10:00:00Z",
        "results_issued_date": "2026-05-28",
    },
}


def test_a_completion_written_before_on_plr_decodes_with_it_not_stated() -> None:
    _, completed = decode(orjson.dumps(WRITTEN_BEFORE))
    assert isinstance(completed, BatchCompleted)
    assert completed.on_plr is None
    assert (completed.batch_id, completed.counts.accepted) == (BATCH_ID, 9)


def test_a_completion_naming_its_qualifications_reads_back_the_same() -> None:
    _, before = decode(orjson.dumps(WRITTEN_BEFORE))
    assert isinstance(before, BatchCompleted)
    named = (
        QualificationOnPlr(qualification_number="60012345", qualification_type="GCSE (9 to 1)"),
        QualificationOnPlr(qualification_number="60054321"),
    )
    for on_plr in ((), named):
        completed = before.model_copy(update={"on_plr": on_plr})
        _, read = decode(encode(wrap(completed, source="validation", correlation_id=str(BATCH_ID))))
        assert read == completed
    assert named[1].qualification_type is None
