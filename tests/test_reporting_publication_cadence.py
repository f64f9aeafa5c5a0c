"""What `lrs.reporting.plr_timeliness.aggregated.v1`'s contract (and so the catalogue) says of when it is published
again is what the reporting projector does: after a completed batch whose results-issued date can be measured, once
a measured batch of the month is on the PLR; never after a failed or abandoned batch or one without such a date.
The other batch aggregates go out after every outcome (finding 3 of the analysts' review: the description said
"after each outcome of the month" for all four)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from tests.support.reporting_folds import (
    PlrWrite,
    fold_plr_timeliness,
    fold_rejections,
    fold_submissions,
    fold_timeliness,
)

from lrs_contracts import reporting as mi
from lrs_contracts.batch import JobType
from lrs_contracts.envelope import Contract
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchCounts, BatchFailed, QualificationOnPlr
from lrs_contracts.registry import wrap
from lrs_contracts.topics import (
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    REPORTING_SUBMISSIONS,
    REPORTING_TIMELINESS,
)
from reporting.aggregates import BatchFact
from reporting.projector import ReportingProjector
from reporting.store import PlrLogWrite

AO = "RN5133"
DECIDED_AT = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
LAG_BOUND = timedelta(minutes=5)
BATCH_MONTH = {REPORTING_SUBMISSIONS.name, REPORTING_TIMELINESS.name, REPORTING_REJECTIONS.name}


class MonthStore:
    """`ReportingStore` for one AO's month, folded as the store's SQL does (`tests.support.reporting_folds`)."""

    stored_types: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.facts: list[BatchFact] = []
        self.writes: list[PlrLogWrite] = []

    async def record_plr_writes(self, writes: Sequence[PlrLogWrite], types: dict[str, str]) -> set[tuple[str, str]]:
        self.writes += writes
        return set()

    async def record_fact(self, fact: BatchFact) -> bool:
        self.facts.append(fact)
        return True

    async def month(
        self, period: str, ao_id: str
    ) -> tuple[mi.AoMonthlySubmissions, mi.AoMonthlyTimeliness, mi.AoMonthlyRejections]:
        return (
            fold_submissions(ao_id, period, self.facts),
            fold_timeliness(ao_id, period, self.facts),
            fold_rejections(ao_id, period, self.facts, []),
        )

    async def plr_timeliness(
        self, first: str, last: str, ao_id: str, lag_bound: timedelta
    ) -> list[mi.AoMonthlyPlrTimeliness]:
        """Completed batches with a countable issue date and a write on the log; nothing when there is none."""
        issued = {fact.batch_id: fact.results_issued for fact in self.facts if fact.completed}
        writes = [
            PlrWrite(write.batch_id, results_issued, None, write.written_at)
            for write in self.writes
            if (results_issued := issued.get(write.batch_id)) is not None
        ]
        return [fold_plr_timeliness(ao_id, first, writes, lag_bound)] if writes else []


def _counts() -> BatchCounts:
    return BatchCounts(total=2, accepted=2, rejected=0, no_ops=0, warnings=0)


def completed(issued: str | None, on_plr: bool) -> BatchCompleted:
    return BatchCompleted(
        batch_id=uuid.uuid4(),
        ao_id=AO,
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=_counts(),
        submitted_at=DECIDED_AT,
        decided_at=DECIDED_AT,
        results_issued_date=issued,
        on_plr=(QualificationOnPlr(qualification_number="60012345", qualification_type="GCSE"),) if on_plr else (),
    )


def failed() -> BatchFailed:
    return BatchFailed(
        batch_id=uuid.uuid4(),
        ao_id=AO,
        code="RS005",
        reason="too many rejected records",
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=_counts(),
        submitted_at=DECIDED_AT,
        decided_at=DECIDED_AT,
    )


def abandoned() -> BatchAbandoned:
    return BatchAbandoned(batch_id=uuid.uuid4(), ao_id=AO, reason="could not be read", abandoned_at=DECIDED_AT)


async def _topics_after(projector: ReportingProjector, outcome: Contract) -> set[str]:
    envelope = wrap(outcome, source="validation", correlation_id="c", occurred_at=DECIDED_AT)
    broker_ms = int((DECIDED_AT + timedelta(seconds=1)).timestamp() * 1000)
    return {publication.topic for publication in await projector.apply(envelope, outcome, broker_ms)}


async def test_plr_timeliness_is_published_again_only_after_a_measured_completion_once_one_is_on_the_plr() -> None:
    projector = ReportingProjector(MonthStore(), LAG_BOUND)  # type: ignore[arg-type]
    measured_date = (DECIDED_AT.date() - timedelta(days=3)).isoformat()
    slip = date(2099, 1, 1).isoformat()  # more than a year after the decision: not measured
    sequence: list[tuple[Contract, bool]] = [
        (failed(), False),
        (completed(measured_date, on_plr=False), False),  # measured, but nothing of the month is on the PLR yet
        (completed(None, on_plr=True), False),
        (completed(measured_date, on_plr=True), True),
        (failed(), False),
        (abandoned(), False),
        (completed(None, on_plr=True), False),
        (completed(slip, on_plr=True), False),
        (completed(measured_date, on_plr=False), True),  # a no-op batch, measured: published again, unchanged
    ]
    for outcome, plr_timeliness in sequence:
        topics = await _topics_after(projector, outcome)
        assert topics >= BATCH_MONTH, f"{type(outcome).__name__}: the batch aggregates go out after every outcome"
        assert (REPORTING_PLR_TIMELINESS.name in topics) is plr_timeliness, f"{type(outcome).__name__}: {outcome}"


def test_the_plr_timeliness_contract_says_when_it_is_published_again() -> None:
    summary = " ".join((mi.AoMonthlyPlrTimeliness.__doc__ or "").split("\n\n")[0].split())
    assert "after each outcome of the month" not in summary
    assert "after each completed batch of the month that gave a results-issued date timeliness can count" in summary
    assert "once a measured batch of the month is on the PLR" in summary
    assert "not after a failed or abandoned batch, nor after one without such a date" in summary
    for each_outcome in (mi.AoMonthlySubmissions, mi.AoMonthlyTimeliness, mi.AoMonthlyRejections):
        assert "Published again after each outcome of the month, changed or not" in (each_outcome.__doc__ or "")
