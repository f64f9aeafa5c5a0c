from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from tests.support.reporting_folds import (
    ChallengeFact,
    ChunkCodes,
    PlrWrite,
    fold_challenges,
    fold_plr_timeliness,
    fold_rejections,
    on_plr_day,
)

from reporting.aggregates import BatchFact

BOUND = timedelta(seconds=300)


def test_the_lag_bound_can_carry_a_late_write_into_the_next_uk_day() -> None:
    assert on_plr_day(datetime(2023, 5, 24, 22, 54, tzinfo=UTC), BOUND) == date(2023, 5, 24)  # 23:59 BST
    assert on_plr_day(datetime(2023, 5, 24, 22, 56, tzinfo=UTC), BOUND) == date(2023, 5, 25)  # 00:01 BST


def test_a_batch_counts_once_overall_at_its_last_write_and_once_per_type() -> None:
    slow, quick = uuid.uuid4(), uuid.uuid4()
    issued = date(2023, 5, 4)
    writes = [
        PlrWrite(slow, issued, "GCSE", datetime(2023, 5, 22, 10, tzinfo=UTC)),  # 11 working days
        PlrWrite(slow, issued, "A level", datetime(2023, 5, 25, 10, tzinfo=UTC)),  # 14
        PlrWrite(quick, date(2023, 5, 15), None, datetime(2023, 5, 22, 10, tzinfo=UTC)),  # 5, never typed
    ]
    aggregate = fold_plr_timeliness("RN5133", "2023-05", writes, BOUND)
    assert (aggregate.batches_measured, aggregate.batches_within_10_working_days) == (2, 1)
    assert (aggregate.median_working_days, aggregate.worst_working_days) == (5, 14)
    assert [
        (part.qualification_type, part.batches_measured, part.worst_working_days)
        for part in aggregate.by_qualification_type
    ] == [
        ("A level", 1, 14),
        ("GCSE", 1, 11),
        ("unknown", 1, 5),
    ]


def fact(completed: bool, total: int, rejected: int, failure_code: str | None = None) -> BatchFact:
    return BatchFact(
        uuid.uuid4(), "RN5133", "2023-05", completed, total, total - rejected, rejected, failure_code, None
    )


def test_rejections_count_batches_and_records_per_code() -> None:
    first, second, failed = fact(True, 10, 3), fact(True, 5, 1), fact(False, 10, 4, "RS005")
    codes = [
        ChunkCodes(first.batch_id, "RV012", 2),
        ChunkCodes(first.batch_id, "RV003", 1),
        ChunkCodes(second.batch_id, "RV012", 1),
    ]
    aggregate = fold_rejections("RN5133", "2023-05", [first, second, failed], codes)
    assert (aggregate.records_rejected, aggregate.batches_failed) == (8, 1)
    assert [(c.code, c.batches, c.records) for c in aggregate.by_code] == [
        ("RS005", 1, 10),
        ("RV003", 1, 1),
        ("RV012", 2, 3),
    ]


def test_challenges_resolved_count_as_acknowledged_and_time_to_resolve_is_in_working_days() -> None:
    raised = datetime(2023, 5, 2, 9, tzinfo=UTC)
    challenges = [
        ChallengeFact(uuid.uuid4(), raised, None, datetime(2023, 5, 9, 15, tzinfo=UTC), "corrected"),  # 4 (8 May)
        ChallengeFact(uuid.uuid4(), raised, raised, None, None),
        ChallengeFact(uuid.uuid4(), raised, None, None, None),
    ]
    aggregate = fold_challenges("RN5133", "2023-05", challenges)
    assert (aggregate.raised, aggregate.acknowledged, aggregate.resolved, aggregate.still_open) == (3, 2, 1, 2)
    assert aggregate.resolutions == {"corrected": 1, "rejected": 0, "upheld": 0, "withdrawn": 0}
    assert (aggregate.median_working_days_to_resolve, aggregate.worst_working_days_to_resolve) == (4, 4)
