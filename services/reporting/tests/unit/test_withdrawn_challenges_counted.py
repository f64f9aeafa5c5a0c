"""A challenge its learner withdrew (decision 0194) counts among the month's resolutions, named `withdrawn`, and is
no longer open; it is not in the working days to resolve, which measure the AO's answers, not the learner's change
of mind, nor acknowledged unless the AO had acknowledged it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.reporting.tests.unit.test_projector import AO, RAISED_AT, FakeChallengeStore, apply

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeResolution, ChallengeResolved
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


async def test_only_the_aos_acknowledgement_or_resolution_counts_a_challenge_as_acknowledged() -> None:
    """A challenge its learner withdrew before the AO acknowledged it was never acknowledged: the AO did nothing. One
    the AO acknowledged and the learner then withdrew was, and one the AO resolved without acknowledging it first was
    answered, so acknowledged too."""
    store = FakeChallengeStore()
    projector = ReportingProjector(store, timedelta(minutes=5))  # type: ignore[arg-type]
    unanswered, acknowledged, answered = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    achievement = uuid.uuid4()
    for challenge_id in (unanswered, acknowledged, answered):
        raised = ChallengeRaised(
            challenge_id=challenge_id, achievement_id=achievement, ao_id=AO, uln="1000000043", reason_sealed="s1.c2Vh"
        )
        await apply(projector, raised, RAISED_AT)
    seen = ChallengeAcknowledged(challenge_id=acknowledged, achievement_id=achievement, ao_id=AO)
    await apply(projector, seen, RAISED_AT + timedelta(hours=1))
    for challenge_id in (unanswered, acknowledged):
        taken_back = ChallengeResolved(
            challenge_id=challenge_id, achievement_id=achievement, ao_id=AO, resolution=ChallengeResolution.WITHDRAWN
        )
        [published] = await apply(projector, taken_back, RAISED_AT + timedelta(days=1))
    assert (published["raised"], published["acknowledged"], published["resolved"]) == (3, 1, 2)
    # every resolved challenge withdrawn: nothing the AO resolved to measure, and the days say 0 (the fields are
    # counts; a reader tells "none" by `resolved` less the withdrawn, as `lrs reports challenges` does)
    assert (published["median_working_days_to_resolve"], published["worst_working_days_to_resolve"]) == (0, 0)
    assert published["resolutions"] == {"corrected": 0, "rejected": 0, "upheld": 0, "withdrawn": 2}

    rejected = ChallengeResolved(
        challenge_id=answered, achievement_id=achievement, ao_id=AO, resolution=ChallengeResolution.REJECTED
    )
    [published] = await apply(projector, rejected, RAISED_AT + timedelta(days=2))  # Wednesday: 2 working days
    assert (published["raised"], published["acknowledged"], published["resolved"]) == (3, 2, 3)
    assert (published["median_working_days_to_resolve"], published["worst_working_days_to_resolve"]) == (2, 2)
