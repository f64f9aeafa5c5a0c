"""The reporting projector's reading of challenge events (both versions of a raise count, and only counts
stay) and of completions (the qualifications they name are on the PLR at their broker time)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
from tests.support.reporting_folds import (
    ChallengeFact,
    fold_challenges,
    fold_rejections,
    fold_submissions,
    fold_timeliness,
)

from lrs_contracts import reporting as mi
from lrs_contracts.batch import JobType
from lrs_contracts.challenge import (
    ChallengeAcknowledged,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, QualificationOnPlr
from lrs_contracts.registry import wrap
from reporting.aggregates import BatchFact
from reporting.projector import ReportingProjector
from reporting.store import ChallengeChange, PlrLogWrite

AO = "RN5133"
RAISED_AT = datetime(2024, 5, 13, 9, 0, tzinfo=UTC)


class FakeChallengeStore:
    """`ReportingStore`'s challenge rows: each event fills in the columns it names, never overwriting."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, ChallengeChange] = {}

    async def record_challenge(self, change: ChallengeChange) -> tuple[str, str] | None:
        row = self.rows.get(change.challenge_id, ChallengeChange(change.challenge_id, change.ao_id))
        row = replace(
            row,
            raised_at=row.raised_at or change.raised_at,
            acknowledged_at=row.acknowledged_at or change.acknowledged_at,
            resolved_at=row.resolved_at or change.resolved_at,
            resolution=row.resolution or change.resolution,
        )
        self.rows[change.challenge_id] = row
        return None if row.raised_at is None else (row.ao_id, row.raised_at.strftime("%Y-%m"))

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[mi.AoMonthlyChallenges]:
        facts = [
            ChallengeFact(row.challenge_id, row.raised_at, row.acknowledged_at, row.resolved_at, row.resolution)
            for row in self.rows.values()
            if row.raised_at is not None and row.ao_id == ao_id
        ]
        return [fold_challenges(AO, first, facts)]


async def apply(projector: ReportingProjector, payload: Contract, at: datetime) -> list[dict[str, object]]:
    publications = await projector.apply(
        wrap(payload, source="challenges", correlation_id="c", occurred_at=at), payload
    )
    return [orjson.loads(publication.value)["data"] for publication in publications]


async def test_challenges_raised_before_and_after_sealing_count_alike() -> None:
    store = FakeChallengeStore()
    projector = ReportingProjector(store, timedelta(minutes=5))  # type: ignore[arg-type]
    before, after = uuid.uuid4(), uuid.uuid4()
    achievement = uuid.uuid4()
    await apply(
        projector,
        ChallengeRaisedV1(challenge_id=before, achievement_id=achievement, ao_id=AO, uln="1000000043", reason="A B"),
        RAISED_AT,
    )
    sealed = ChallengeRaised(
        challenge_id=after, achievement_id=achievement, ao_id=AO, uln="1000000043", reason_sealed="s1.c2VhbGVk"
    )
    [published] = await apply(projector, sealed, RAISED_AT + timedelta(hours=1))
    assert (published["raised"], published["still_open"]) == (2, 2)

    await apply(projector, ChallengeAcknowledged(challenge_id=after, achievement_id=achievement, ao_id=AO), RAISED_AT)
    resolved = ChallengeResolved(
        challenge_id=after,
        achievement_id=achievement,
        ao_id=AO,
        resolution=ChallengeResolution.UPHELD,
        uln="1000000043",
        note_sealed="s1.c2VhbGVk",
    )
    [published] = await apply(projector, resolved, RAISED_AT + timedelta(days=1))
    assert (published["raised"], published["acknowledged"], published["resolved"]) == (2, 1, 1)
    assert published["resolutions"] == {"corrected": 0, "rejected": 0, "upheld": 1, "withdrawn": 0}
    text = orjson.dumps(published).decode()
    assert "1000000043" not in text and "A B" not in text and "s1." not in text, "counts only"


class FakeOutcomeStore:
    """`ReportingStore` as far as a completion needs it: its PLR writes are kept as given."""

    stored_types: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.writes: list[PlrLogWrite] = []
        self.types: dict[str, str] = {}
        self.facts: list[BatchFact] = []

    async def record_plr_writes(self, writes: Sequence[PlrLogWrite], types: dict[str, str]) -> set[tuple[str, str]]:
        self.writes += writes
        self.types.update(types)
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
        return []


DECIDED_AT = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def completion(on_plr: tuple[QualificationOnPlr, ...] | None) -> BatchCompleted:
    return BatchCompleted(
        batch_id=uuid.uuid4(),
        ao_id=AO,
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=BatchCounts(total=3, accepted=3, rejected=0, no_ops=0, warnings=0),
        submitted_at=DECIDED_AT,
        decided_at=DECIDED_AT,
        results_issued_date="2026-05-28",
        on_plr=on_plr,
    )


async def test_a_completion_puts_the_qualifications_it_names_on_the_plr_at_its_broker_time() -> None:
    store = FakeOutcomeStore()
    projector = ReportingProjector(store, timedelta(minutes=5))  # type: ignore[arg-type]
    gcse = QualificationOnPlr(qualification_number="60012345", qualification_type="GCSE (9 to 1)")
    updated_only = QualificationOnPlr(qualification_number="60054321")
    completed = completion((gcse, updated_only))
    envelope = wrap(completed, source="validation", correlation_id="c", occurred_at=DECIDED_AT)
    broker_ms = 1_780_308_001_234  # 2026-06-01 10:00:01.234 UTC, after the decision's own clock
    await projector.apply(envelope, completed, broker_ms)
    on_log = datetime(2026, 6, 1, 10, 0, 1, 234_000, tzinfo=UTC)
    assert store.writes == [
        PlrLogWrite(completed.batch_id, "60012345", AO, on_log),
        PlrLogWrite(completed.batch_id, "60054321", AO, on_log),
    ]
    assert store.types == {"60012345": "GCSE (9 to 1)"}, "a qualification named without a type stores none"
    assert [fact.batch_id for fact in store.facts] == [completed.batch_id]

    # Without a broker time (0 or -1), the completion's `occurred_at`, as for the log's events.
    again = FakeOutcomeStore()
    await ReportingProjector(again, timedelta(minutes=5)).apply(envelope, completed, -1)  # type: ignore[arg-type]
    assert {write.written_at for write in again.writes} == {DECIDED_AT}


async def test_a_completion_that_names_nothing_puts_nothing_on_the_plr() -> None:
    for on_plr in (None, ()):  # not stated (written before the field), or nothing went on the PLR
        store = FakeOutcomeStore()
        completed = completion(on_plr)
        envelope = wrap(completed, source="validation", correlation_id="c", occurred_at=DECIDED_AT)
        await ReportingProjector(store, timedelta(minutes=5)).apply(envelope, completed, 1_780_308_001_234)  # type: ignore[arg-type]
        assert (store.writes, store.types) == ([], {})
        assert [fact.batch_id for fact in store.facts] == [completed.batch_id]
