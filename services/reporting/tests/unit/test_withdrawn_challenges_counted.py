"""A challenge its learner withdrew (decision 0194) counts among the month's resolutions, named `withdrawn`, and is
no longer open; it is not in the working days to resolve, which measure the AO's answers, not the learner's change
of mind."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.reporting.tests.unit.test_projector import AO, RAISED_AT, FakeChallengeStore, apply

from lrs_contracts.challenge import ChallengeRaised, ChallengeResolution, ChallengeResolved
from reporting.projector import ReportingProjector


async def test_a_withdrawn_challenge_counts_as_withdrawn_and_not_in_the_days_to_resolve() -> None:
    store = FakeChallengeStore()
    projector = ReportingProjector(store, timedelta(minutes=5))  # type: ignore[arg-type]
    answered, withdrawn, achievement = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for challenge_id in (answered, withdrawn):
        raised = ChallengeRaised(
            challenge_id=challenge_id, achievement_id=achievement, ao_id=AO, uln="1000000043", reason_sealed="s1.c2Vh"
        )
        await apply(projector, raised, RAISED_AT)  # Monday 13 May 2024
    corrected = ChallengeResolved(
        challenge_id=answered,
        achievement_id=achievement,
        ao_id=AO,
        resolution=ChallengeResolution.CORRECTED,
        correcting_batch_id=uuid.uuid4(),
    )
    await apply(projector, corrected, RAISED_AT + timedelta(days=2))  # 2 working days
    taken_back = ChallengeResolved(
        challenge_id=withdrawn, achievement_id=achievement, ao_id=AO, resolution=ChallengeResolution.WITHDRAWN
    )
    [published] = await apply(projector, taken_back, RAISED_AT + timedelta(days=14))  # 10 working days

    assert published["resolutions"] == {"corrected": 1, "rejected": 0, "upheld": 0, "withdrawn": 1}
    assert (published["raised"], published["resolved"], published["still_open"]) == (2, 2, 0)
    assert (published["median_working_days_to_resolve"], published["worst_working_days_to_resolve"]) == (2, 2)
