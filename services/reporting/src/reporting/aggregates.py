"""MI aggregates folded from facts: pure, so redelivery safety is a property of the facts' keys.

Each decided or abandoned batch becomes one `BatchFact` (keyed by batch id); each chunk of per-record results adds
rejection codes (keyed by batch id and chunk); the PLR log adds when each batch's results of each
qualification were last written (keyed by batch and qualification, the latest kept); each challenge
event fills in its challenge's row. An aggregate is always recomputed from all the facts of its AO and
month, so applying an event twice changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lrs_contracts.batch import LATEST_RESULTS_ISSUED_AHEAD
from lrs_contracts.challenge import ChallengeResolution
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchFailed
from lrs_contracts.reporting import (
    AoMonthlyChallenges,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
    CodeRejections,
    QualificationTypeTimeliness,
)
from lrs_platform.clock import ENGLAND
from reporting.working_days import working_days_between


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
    results_issued: date | None = None
    abandoned: bool = False
    """The decider gave up on the batch (decision 0103): neither completed nor failed, and no records."""
    records_unchanged: int = 0
    """Records of a completed batch that changed nothing (no-op); a failed batch records nothing."""


def period_of(moment: datetime) -> str:
    return moment.astimezone(ENGLAND).strftime("%Y-%m")


def periods_span(first: str, last: str) -> tuple[datetime, datetime]:
    """The instants whose `period_of` lies from `first` to `last` (inclusive `yyyy-mm`): from the
    first's start to the start of the month after the last (UK time), a half-open range."""
    first_year, first_month = map(int, first.split("-"))
    last_year, last_month = map(int, last.split("-"))
    after_year, after_month = (last_year + 1, 1) if last_month == 12 else (last_year, last_month + 1)
    return datetime(first_year, first_month, 1, tzinfo=ENGLAND), datetime(after_year, after_month, 1, tzinfo=ENGLAND)


# The first day a result can be on a PLR (the domain's earliest award date, which ingest also holds a
# results-issued date to).
EARLIEST_RESULTS_ISSUED = date(2006, 9, 1)
# LATEST_RESULTS_ISSUED_AHEAD: the furthest ahead of its decision a batch's results-issued date is taken as one
# (decision 0133, later), the same span ingest holds it to from the day the batch is received. A date further ahead
# is a slip (2099 for 2026), which would count the batch as on time, and is left out of the measure as an unreadable
# one is (ingest refuses it since; a batch stored before may still carry one).


def _issued_date(text: str | None, decided_on: date) -> date | None:
    """The batch's results-issued date, if timeliness can count from it: one before 1 September 2006, which ingest
    refuses since decision 0176, was a slip, not a date results were issued (and its decades of working days cost
    seconds a recount); so is one more than a year after the batch was decided."""
    if not text:
        return None
    try:
        issued = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return issued if EARLIEST_RESULTS_ISSUED <= issued <= decided_on + LATEST_RESULTS_ISSUED_AHEAD else None


def fact_of(outcome: BatchCompleted | BatchFailed | BatchAbandoned) -> BatchFact:
    if isinstance(outcome, BatchAbandoned):
        return BatchFact(
            batch_id=outcome.batch_id,
            ao_id=outcome.ao_id,
            period=period_of(outcome.abandoned_at),
            completed=False,
            records_total=0,
            records_accepted=0,
            records_rejected=0,
            failure_code=None,
            working_days=None,
            abandoned=True,
        )
    working_days: int | None = None
    issued: date | None = None
    if isinstance(outcome, BatchCompleted):
        decided_on = outcome.decided_at.astimezone(ENGLAND).date()
        issued = _issued_date(outcome.results_issued_date, decided_on)
        if issued is not None:
            working_days = working_days_between(issued, decided_on)
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
        results_issued=issued,
        records_unchanged=outcome.counts.no_ops if isinstance(outcome, BatchCompleted) else 0,
    )


def aggregate_key(ao_id: str, period: str) -> str:
    return f"{ao_id}|{period}"


UNKNOWN_TYPE = "unknown"
RESOLUTIONS = tuple(resolution.value for resolution in ChallengeResolution)


# The store adds a month's facts up in SQL (the `fold_*` functions of tests/support/reporting_folds.py fold them in
# Python, and say what the sums mean); these build the same aggregates from its sums, so a report's work on this side
# follows its months, not its rows.


@dataclass(frozen=True)
class MonthTally:
    """One AO's batch facts of a month, added up."""

    batches_completed: int
    batches_failed: int
    batches_abandoned: int
    records_total: int
    records_accepted: int
    records_rejected: int
    records_unchanged: int
    batches_measured: int
    """Batches with working days (a results issued date)."""
    batches_within_target: int
    worst_working_days: int


@dataclass(frozen=True)
class CodeTally:
    """One code of one AO's month: the batches carrying it in their chunks' rejected records or failed with it."""

    code: str
    batches: int
    chunk_records: int
    """Rejected records carrying it, over the month's chunks."""
    failed_batches: int
    failed_records: int
    """The records of the batches failed with it."""


def submissions_of(ao_id: str, period: str, month: MonthTally, codes: Iterable[CodeTally]) -> AoMonthlySubmissions:
    """As `fold_submissions`: a code's rejected records, and one for each batch it failed."""
    return AoMonthlySubmissions(
        ao_id=ao_id,
        period=period,
        batches_completed=month.batches_completed,
        batches_failed=month.batches_failed,
        batches_abandoned=month.batches_abandoned,
        records_total=month.records_total,
        records_accepted=month.records_accepted,
        records_rejected=month.records_rejected,
        records_unchanged=month.records_unchanged,
        rejections_by_code=dict(sorted((code.code, code.chunk_records + code.failed_batches) for code in codes)),
    )


def timeliness_of(ao_id: str, period: str, month: MonthTally) -> AoMonthlyTimeliness:
    return AoMonthlyTimeliness(
        ao_id=ao_id,
        period=period,
        batches_measured=month.batches_measured,
        batches_within_10_working_days=month.batches_within_target,
        worst_working_days=month.worst_working_days,
    )


def rejections_of(ao_id: str, period: str, month: MonthTally, codes: Iterable[CodeTally]) -> AoMonthlyRejections:
    """As `fold_rejections`: a code's batches, and its rejected records plus all the records of the batches it failed."""
    return AoMonthlyRejections(
        ao_id=ao_id,
        period=period,
        records_rejected=month.records_rejected,
        batches_failed=month.batches_failed,
        by_code=tuple(
            CodeRejections(code=code.code, batches=code.batches, records=code.chunk_records + code.failed_records)
            for code in sorted(codes, key=lambda code: code.code)
        ),
    )


@dataclass(frozen=True)
class Measured:
    """Working days measured of some batches: how many, how many within target, their `median_low` and their most
    (0 when none)."""

    batches: int
    within_target: int
    median: int
    worst: int


def plr_timeliness_of(
    ao_id: str, period: str, overall: Measured, by_type: Mapping[str, Measured], lag_bound: timedelta
) -> AoMonthlyPlrTimeliness:
    """As `fold_plr_timeliness`: each batch measured at its latest write overall, and per qualification type at its
    latest write of the type."""
    return AoMonthlyPlrTimeliness(
        ao_id=ao_id,
        period=period,
        projection_lag_bound_seconds=int(lag_bound.total_seconds()),
        batches_measured=overall.batches,
        batches_within_10_working_days=overall.within_target,
        median_working_days=overall.median,
        worst_working_days=overall.worst,
        by_qualification_type=tuple(
            QualificationTypeTimeliness(
                qualification_type=qualification_type,
                batches_measured=measured.batches,
                batches_within_10_working_days=measured.within_target,
                median_working_days=measured.median,
                worst_working_days=measured.worst,
            )
            for qualification_type, measured in sorted(by_type.items())
        ),
    )


def challenges_of(
    ao_id: str,
    period: str,
    raised: int,
    acknowledged: int,
    resolutions: Mapping[str, int],
    median_days_to_resolve: int,
    worst_days_to_resolve: int,
    *,
    acknowledged_by_service_desk: int = 0,
    resolved_by_service_desk: int = 0,
) -> AoMonthlyChallenges:
    """As `fold_challenges`, from the month's counts: its resolved challenges by resolution (a resolved challenge
    with none is `UNKNOWN_TYPE`), the working days from raised to resolved of those the AO answered itself, and those
    the LRS service desk acknowledged or resolved for the AO."""
    resolved = sum(resolutions.values())
    return AoMonthlyChallenges(
        ao_id=ao_id,
        period=period,
        raised=raised,
        acknowledged=acknowledged,
        resolved=resolved,
        still_open=raised - resolved,
        resolutions=dict(sorted((dict.fromkeys(RESOLUTIONS, 0) | dict(resolutions)).items())),
        median_working_days_to_resolve=median_days_to_resolve,
        worst_working_days_to_resolve=worst_days_to_resolve,
        acknowledged_by_service_desk=acknowledged_by_service_desk,
        resolved_by_service_desk=resolved_by_service_desk,
    )
