"""MI aggregates folded from per-batch facts: pure, so redelivery safety is a property of the facts' keys.

Each decided batch becomes one `BatchFact` (keyed by batch id); each chunk of per-record results adds
rejection codes (keyed by batch id and chunk). An aggregate is always recomputed from all the facts of
its AO and month, so applying an outcome twice changes nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided, RecordStatus
from lrs_contracts.reporting import AoMonthlySubmissions, AoMonthlyTimeliness
from reporting.working_days import within_target, working_days_between

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class BatchFact:
    batch_id: uuid.UUID
    ao_id: str
    period: str
    completed: bool
    records_total: int
    records_accepted: int
    records_rejected: int
    failure_code: str | None
    working_days: int | None
    """Working days from results issued to decided; None when the batch carried no issue date."""


def period_of(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m")


def _issued_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def fact_of(outcome: BatchCompleted | BatchFailed) -> BatchFact:
    working_days: int | None = None
    if isinstance(outcome, BatchCompleted):
        issued = _issued_date(outcome.results_issued_date)
        if issued is not None:
            working_days = working_days_between(issued, outcome.decided_at.astimezone(LONDON).date())
    return BatchFact(
        batch_id=outcome.batch_id,
        ao_id=outcome.ao_id,
        period=period_of(outcome.decided_at),
        completed=isinstance(outcome, BatchCompleted),
        records_total=outcome.counts.total,
        records_accepted=outcome.counts.accepted if isinstance(outcome, BatchCompleted) else 0,
        records_rejected=outcome.counts.rejected,
        failure_code=outcome.code if isinstance(outcome, BatchFailed) else None,
        working_days=working_days,
    )


def rejection_codes_of(chunk: BatchRecordsDecided) -> dict[str, int]:
    """Rejected records per error code; a record with two codes counts under both, once each."""
    counts: Counter[str] = Counter()
    for outcome in chunk.outcomes:
        if outcome.status is RecordStatus.REJECTED:
            counts.update({finding.code for finding in outcome.errors})
    return dict(counts)


def fold_submissions(
    ao_id: str, period: str, facts: Iterable[BatchFact], codes: Iterable[tuple[str, int]] = ()
) -> AoMonthlySubmissions:
    """`codes` are (code, records) pairs from the record chunks; failed batches add their RS code once each."""
    facts = list(facts)
    by_code: Counter[str] = Counter()
    for code, records in codes:
        by_code[code] += records
    for fact in facts:
        if fact.failure_code:
            by_code[fact.failure_code] += 1
    return AoMonthlySubmissions(
        ao_id=ao_id,
        period=period,
        batches_completed=sum(1 for fact in facts if fact.completed),
        batches_failed=sum(1 for fact in facts if not fact.completed),
        records_total=sum(fact.records_total for fact in facts),
        records_accepted=sum(fact.records_accepted for fact in facts),
        records_rejected=sum(fact.records_rejected for fact in facts),
        rejections_by_code=dict(sorted(by_code.items())),
    )


def fold_timeliness(ao_id: str, period: str, facts: Iterable[BatchFact]) -> AoMonthlyTimeliness:
    measured = [fact.working_days for fact in facts if fact.working_days is not None]
    return AoMonthlyTimeliness(
        ao_id=ao_id,
        period=period,
        batches_measured=len(measured),
        batches_within_10_working_days=sum(1 for days in measured if within_target(days)),
        worst_working_days=max(measured, default=0),
    )


def aggregate_key(ao_id: str, period: str) -> str:
    return f"{ao_id}|{period}"
