"""The reporting projector's reading of challenge events: both versions of a raise count, and only counts stay."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson

from lrs_contracts.challenge import (
    ChallengeAcknowledged,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import wrap
from lrs_contracts.reporting import AoMonthlyChallenges
from reporting.aggregates import ChallengeFact, fold_challenges
from reporting.projector import ReportingProjector
from reporting.store import ChallengeChange

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

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyChallenges]:
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
    assert published["resolutions"] == {"upheld": 1}
    text = orjson.dumps(published).decode()
    assert "1000000043" not in text and "A B" not in text and "s1." not in text, "counts only"
