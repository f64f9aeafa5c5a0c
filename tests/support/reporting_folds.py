"""The MI aggregates folded in Python from every fact of an AO's month: what the reporting store's SQL sums mean,
and the oracle its tests compare the store's answers with (`reporting.aggregates`'s `*_of` builders make the
same aggregates from the sums)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median_low

from lrs_contracts.challenge import ChallengeResolution
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
from reporting.aggregates import RESOLUTIONS, UNKNOWN_TYPE, BatchFact
from reporting.working_days import within_target, working_days_between


def _failed(fact: BatchFact) -> bool:
    return not fact.completed and not fact.abandoned


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
        batches_failed=sum(1 for fact in facts if _failed(fact)),
        batches_abandoned=sum(1 for fact in facts if fact.abandoned),
        records_total=sum(fact.records_total for fact in facts),
        records_accepted=sum(fact.records_accepted for fact in facts),
        records_rejected=sum(fact.records_rejected for fact in facts),
        records_unchanged=sum(fact.records_unchanged for fact in facts),
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


@dataclass(frozen=True)
class PlrWrite:
    """When a batch's results of one qualification type were last written to the PLR log."""

    batch_id: uuid.UUID
    results_issued: date
    qualification_type: str | None
    last_written_at: datetime


def on_plr_day(last_written_at: datetime, lag_bound: timedelta) -> date:
    """The UK day by which results written to the log at `last_written_at` were on the PLR."""
    return (last_written_at + lag_bound).astimezone(ENGLAND).date()


def _median(values: list[int]) -> int:
    return median_low(values) if values else 0


def fold_plr_timeliness(
    ao_id: str, period: str, writes: Iterable[PlrWrite], lag_bound: timedelta
) -> AoMonthlyPlrTimeliness:
    """A batch is measured once overall (its last write) and once per qualification type it carried."""
    overall: dict[uuid.UUID, int] = {}
    by_type: dict[str, dict[uuid.UUID, int]] = {}
    for write in writes:
        days = working_days_between(write.results_issued, on_plr_day(write.last_written_at, lag_bound))
        overall[write.batch_id] = max(days, overall.get(write.batch_id, 0))
        per_type = by_type.setdefault(write.qualification_type or UNKNOWN_TYPE, {})
        per_type[write.batch_id] = max(days, per_type.get(write.batch_id, 0))
    measured = list(overall.values())
    return AoMonthlyPlrTimeliness(
        ao_id=ao_id,
        period=period,
        projection_lag_bound_seconds=int(lag_bound.total_seconds()),
        batches_measured=len(measured),
        batches_within_10_working_days=sum(1 for days in measured if within_target(days)),
        median_working_days=_median(measured),
        worst_working_days=max(measured, default=0),
        by_qualification_type=tuple(
            QualificationTypeTimeliness(
                qualification_type=qualification_type,
                batches_measured=len(days),
                batches_within_10_working_days=sum(1 for value in days.values() if within_target(value)),
                median_working_days=_median(list(days.values())),
                worst_working_days=max(days.values()),
            )
            for qualification_type, days in sorted(by_type.items())
        ),
    )


@dataclass(frozen=True)
class ChunkCodes:
    """The rejected records of one batch that carry one code (summed over the batch's chunks)."""

    batch_id: uuid.UUID
    code: str
    records: int


def fold_rejections(
    ao_id: str, period: str, facts: Iterable[BatchFact], codes: Iterable[ChunkCodes]
) -> AoMonthlyRejections:
    facts = list(facts)
    batches: dict[str, set[uuid.UUID]] = {}
    records: Counter[str] = Counter()
    for row in codes:
        batches.setdefault(row.code, set()).add(row.batch_id)
        records[row.code] += row.records
    for fact in facts:
        if fact.failure_code:
            batches.setdefault(fact.failure_code, set()).add(fact.batch_id)
            records[fact.failure_code] += fact.records_total
    return AoMonthlyRejections(
        ao_id=ao_id,
        period=period,
        records_rejected=sum(fact.records_rejected for fact in facts),
        batches_failed=sum(1 for fact in facts if _failed(fact)),
        by_code=tuple(
            CodeRejections(code=code, batches=len(batch_ids), records=records[code])
            for code, batch_ids in sorted(batches.items())
        ),
    )


@dataclass(frozen=True)
class ChallengeFact:
    challenge_id: uuid.UUID
    raised_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None


def _resolved_by_the_ao(challenge: ChallengeFact) -> bool:
    """Resolved, and not by its learner's withdrawal (decision 0194)."""
    return challenge.resolved_at is not None and challenge.resolution != ChallengeResolution.WITHDRAWN


def fold_challenges(ao_id: str, period: str, challenges: Iterable[ChallengeFact]) -> AoMonthlyChallenges:
    """Challenges raised in `period`; one the AO resolved counts as acknowledged too. One the learner withdrew counts
    among the resolutions, not in the working days to resolve, nor as acknowledged unless the AO had acknowledged it
    (the AO did not resolve it: decision 0194)."""
    challenges = list(challenges)
    resolved = [challenge for challenge in challenges if challenge.resolved_at is not None]
    days = [
        working_days_between(challenge.raised_at.astimezone(ENGLAND).date(), moment.astimezone(ENGLAND).date())
        for challenge in resolved
        if (moment := challenge.resolved_at) is not None and _resolved_by_the_ao(challenge)
    ]
    return AoMonthlyChallenges(
        ao_id=ao_id,
        period=period,
        raised=len(challenges),
        acknowledged=sum(1 for c in challenges if c.acknowledged_at is not None or _resolved_by_the_ao(c)),
        resolved=len(resolved),
        still_open=len(challenges) - len(resolved),
        # every resolution named, 0 when none: a reader (DuckDB, say) types the map from the keys it has seen
        resolutions=dict(
            sorted((dict.fromkeys(RESOLUTIONS, 0) | Counter(c.resolution or UNKNOWN_TYPE for c in resolved)).items())
        ),
        median_working_days_to_resolve=_median(days),
        worst_working_days_to_resolve=max(days, default=0),
    )
