"""A learner's raise whose answer was lost, sent again after the AO withdrew the achievement, is told of the challenge
that is open on it (409 `CHALLENGE_ALREADY_OPEN` with its id), as any repeated raise is: "nothing in it to challenge"
read as if the first raise had not been taken, though the AO had been emailed about it. Without an open challenge a
withdrawn achievement is still refused as withdrawn."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from challenges.api import _translate
from challenges.domain import AchievementIsWithdrawn, AchievementOnRecord
from challenges.service import ChallengeService
from challenges.store import OpenChallengeExists
from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal

LEARNER, AO = "1000000043", "RN9093"
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-00000000000c")
OPEN_CHALLENGE = uuid.UUID("55ed15a9-0000-4000-8000-000000000001")


class WithdrawnRecord:
    """The learner's achievement, withdrawn by its AO."""

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({uln})

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        return AchievementOnRecord(achievement_id, LEARNER, AO, True, "60175886", date(2025, 6, 10), "Pass", "BTEC")


class Store:
    def __init__(self, open_one: uuid.UUID | None) -> None:
        self.open_one = open_one
        self.asked: list[uuid.UUID] = []

    async def open_on(self, achievement_id: uuid.UUID) -> uuid.UUID | None:
        self.asked.append(achievement_id)
        return self.open_one


async def _nothing_held(ulns: object) -> bool:
    return False


async def _caught_up() -> bool:
    return True


def _service(store: Store) -> ChallengeService:
    return ChallengeService(store, WithdrawnRecord(), None, _caught_up, held=_nothing_held)  # type: ignore[arg-type]


async def test_a_raise_repeated_after_the_withdrawal_is_told_of_the_open_challenge() -> None:
    store = Store(open_one=OPEN_CHALLENGE)

    with pytest.raises(OpenChallengeExists) as clash:
        await _service(store).raise_(Principal.parse(f"learner:{LEARNER}"), ACHIEVEMENT_ID, None, "my grade")

    assert clash.value.challenge_id == OPEN_CHALLENGE
    assert store.asked == [ACHIEVEMENT_ID]
    problem = _translate(clash.value).problem.model_dump()
    assert (problem["status"], problem["code"], problem["challenge_id"]) == (
        409,
        ProblemCode.CHALLENGE_ALREADY_OPEN,
        str(OPEN_CHALLENGE),
    )


async def test_a_withdrawn_achievement_without_an_open_challenge_is_refused_as_withdrawn() -> None:
    with pytest.raises(AchievementIsWithdrawn):
        await _service(Store(open_one=None)).raise_(
            Principal.parse(f"learner:{LEARNER}"), ACHIEVEMENT_ID, None, "my grade"
        )
