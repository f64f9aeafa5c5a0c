from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from tests.support.reporting_folds import fold_rejections, fold_submissions, fold_timeliness

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchCounts,
    BatchFailed,
)
from reporting.aggregates import fact_of, period_of, periods_span


def completed(
    decided: datetime, issued: str | None, accepted: int = 9, rejected: int = 1, unchanged: int = 0
) -> BatchCompleted:
    total = accepted + rejected + unchanged
    return BatchCompleted(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="a@ao.example",
        counts=BatchCounts(total=total, accepted=accepted, rejected=rejected, no_ops=unchanged, warnings=0),
        submitted_at=decided,
        decided_at=decided,
        results_issued_date=issued,
    )


def failed(decided: datetime) -> BatchFailed:
    return BatchFailed(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        code="RS005",
        reason="too many rejections",
        job_type=JobType.FINAL,
        notification_email="a@ao.example",
        counts=BatchCounts(total=10, accepted=5, rejected=4, no_ops=1, warnings=0),
        submitted_at=decided,
        decided_at=decided,
    )


def abandoned(at: datetime) -> BatchAbandoned:
    return BatchAbandoned(batch_id=uuid.uuid4(), ao_id="RN5133", reason="could not be processed", abandoned_at=at)


def test_period_is_the_uk_calendar_month() -> None:
    assert period_of(datetime(2024, 6, 30, 23, 30, tzinfo=UTC)) == "2024-07"  # 00:30 BST on 1 July
    assert period_of(datetime(2024, 1, 31, 23, 30, tzinfo=UTC)) == "2024-01"  # GMT


def test_fact_measures_working_days_from_results_issued_to_decision() -> None:
    fact = fact_of(completed(datetime(2023, 5, 22, 9, tzinfo=UTC), "2023-05-04"))
    assert (fact.period, fact.working_days, fact.completed) == ("2023-05", 11, True)
    assert fact_of(completed(datetime(2023, 5, 22, 9, tzinfo=UTC), None)).working_days is None
    assert fact_of(completed(datetime(2023, 5, 22, 9, tzinfo=UTC), "not a date")).working_days is None


def test_working_days_count_to_the_uk_date_of_the_decision() -> None:
    # 23:30 UTC on 1 June is 00:30 BST on 2 June: 11 working days after 15 May (late), not 10 (within target).
    fact = fact_of(completed(datetime(2026, 6, 1, 23, 30, tzinfo=UTC), "2026-05-15"))
    assert fact.working_days == 11


def test_a_results_issued_date_before_any_plr_result_is_not_measured() -> None:
    """Decision 0176: ingest refuses one now; a batch accepted before with year 1 counted 527,601 working days, and
    recounting them cost seconds each time its month's aggregate was folded."""
    decided = datetime(2026, 12, 4, 9, tzinfo=UTC)
    assert fact_of(completed(decided, "0001-01-01")).working_days is None
    assert fact_of(completed(decided, "2006-08-31")).results_issued is None
    assert fact_of(completed(decided, "2006-09-01")).working_days is not None


def test_a_results_issued_date_more_than_a_year_ahead_is_not_measured() -> None:
    """Results loaded ahead of results day are on time; a date years ahead is a slip that would count as on time."""
    decided = datetime(2026, 12, 4, 9, tzinfo=UTC)
    assert fact_of(completed(decided, "2027-12-05")).working_days is not None  # 366 days ahead: taken
    slip = fact_of(completed(decided, "2099-12-31"))
    assert (slip.working_days, slip.results_issued) == (None, None)


def test_failed_batch_counts_no_accepted_records_and_is_not_measured() -> None:
    fact = fact_of(failed(datetime(2024, 2, 1, tzinfo=UTC)))
    assert (fact.completed, fact.records_accepted, fact.records_rejected, fact.failure_code) == (False, 0, 4, "RS005")
    assert fact.working_days is None


def test_fold_submissions_sums_batches_records_and_codes() -> None:
    decided = datetime(2024, 2, 10, tzinfo=UTC)
    facts = [fact_of(completed(decided, None)), fact_of(completed(decided, None, 5, 0)), fact_of(failed(decided))]
    aggregate = fold_submissions("RN5133", "2024-02", facts, [("RV005", 1), ("RV012", 2), ("RV005", 3)])
    assert (aggregate.batches_completed, aggregate.batches_failed) == (2, 1)
    assert (aggregate.records_total, aggregate.records_accepted, aggregate.records_rejected) == (25, 14, 5)
    assert aggregate.rejections_by_code == {"RS005": 1, "RV005": 4, "RV012": 2}


def test_unchanged_records_are_counted_apart_and_only_those_of_completed_batches() -> None:
    decided = datetime(2024, 2, 10, tzinfo=UTC)
    facts = [
        fact_of(completed(decided, None, 6, 1, 3)),
        fact_of(completed(decided, None, 2, 0, 1)),
        fact_of(failed(decided)),
    ]
    aggregate = fold_submissions("RN5133", "2024-02", facts)
    assert (aggregate.records_total, aggregate.records_accepted, aggregate.records_rejected) == (23, 8, 5)
    assert aggregate.records_unchanged == 4  # the failed batch's unchanged record changed nothing: it recorded nothing
    not_rejected_in_failed_batches = 10 - 4
    assert aggregate.records_total - 8 - 5 - 4 == not_rejected_in_failed_batches


def test_an_abandoned_batch_counts_in_the_uk_month_it_was_given_up_with_no_records_and_is_not_measured() -> None:
    fact = fact_of(abandoned(datetime(2024, 6, 30, 23, 30, tzinfo=UTC)))  # 00:30 BST on 1 July
    assert (fact.period, fact.abandoned, fact.completed, fact.failure_code, fact.working_days) == (
        "2024-07",
        True,
        False,
        None,
        None,
    )
    assert (fact.records_total, fact.records_accepted, fact.records_rejected) == (0, 0, 0)


def test_abandoned_batches_are_neither_completed_nor_failed_and_add_no_records_or_codes() -> None:
    decided = datetime(2024, 2, 10, tzinfo=UTC)
    facts = [fact_of(completed(decided, None)), fact_of(failed(decided)), fact_of(abandoned(decided))]
    facts.append(fact_of(abandoned(decided)))
    aggregate = fold_submissions("RN5133", "2024-02", facts, [("RV005", 1)])
    assert (aggregate.batches_completed, aggregate.batches_failed, aggregate.batches_abandoned) == (1, 1, 2)
    assert (aggregate.records_total, aggregate.records_accepted, aggregate.records_rejected) == (20, 9, 5)
    assert aggregate.rejections_by_code == {"RS005": 1, "RV005": 1}
    rejections = fold_rejections("RN5133", "2024-02", facts, [])
    assert (rejections.batches_failed, rejections.records_rejected) == (1, 5)
    assert [(code.code, code.batches) for code in rejections.by_code] == [("RS005", 1)]
    assert fold_timeliness("RN5133", "2024-02", facts).batches_measured == 0


def test_folding_the_same_facts_gives_the_same_aggregate() -> None:
    decided = datetime(2024, 2, 10, tzinfo=UTC)
    facts = [fact_of(completed(decided, "2024-02-01"))]
    assert fold_submissions("RN5133", "2024-02", facts) == fold_submissions("RN5133", "2024-02", facts)
    assert fold_submissions("RN5133", "2024-02", []).batches_completed == 0
    assert fold_submissions("RN5133", "2024-02", []).batches_abandoned == 0


def test_fold_timeliness_counts_within_target_and_the_worst() -> None:
    facts = [
        fact_of(completed(datetime(2023, 5, 19, 12, tzinfo=UTC), "2023-05-04")),  # 10: within
        fact_of(completed(datetime(2023, 5, 22, 12, tzinfo=UTC), "2023-05-04")),  # 11: late
        fact_of(completed(datetime(2023, 5, 22, 12, tzinfo=UTC), None)),  # not measured
        fact_of(failed(datetime(2023, 5, 22, 12, tzinfo=UTC))),  # not measured
    ]
    aggregate = fold_timeliness("RN5133", "2023-05", facts)
    assert (aggregate.batches_measured, aggregate.batches_within_10_working_days) == (2, 1)
    assert aggregate.worst_working_days == 11


@pytest.mark.parametrize(("first", "last"), [("2026-03", "2026-03"), ("2025-10", "2026-04"), ("2026-12", "2026-12")])
def test_a_span_of_periods_holds_exactly_the_instants_of_those_months_in_uk_time(first: str, last: str) -> None:
    start, end = periods_span(first, last)
    moment = timedelta(microseconds=1)

    assert (period_of(start), period_of(end - moment)) == (first, last)
    assert period_of(start - moment) < first
    assert period_of(end) > last
    # the edges are UK midnights, an hour off UTC in summer time
    assert start.astimezone(UTC).hour in (0, 23) and end.astimezone(UTC).hour in (0, 23)
