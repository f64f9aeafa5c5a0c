"""A learner refused something about a challenge is told why in terms of what they asked, and what they can do:
a read of the correcting batches is refused as a read, and a withdrawn achievement says where to turn."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import pytest

from challenges.api import _translate
from challenges.domain import AchievementIsWithdrawn
from challenges.service import ChallengeService, NotAllowed
from lrs_contracts.challenge import ChallengeResolution
from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal

LEARNER = Principal.parse("learner:1000000043")


class _Untouched:
    """A store, record or keyring a refusal must not reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"refused callers reach no {name}")


async def _held_not_asked(ulns: Collection[str]) -> bool:
    raise AssertionError("only raising a challenge asks whether the learner's events are held")


async def _catch_up() -> bool:
    raise AssertionError("refused callers wait for nothing")


def _service() -> ChallengeService:
    return ChallengeService(_Untouched(), _Untouched(), _Untouched(), _catch_up, held=_held_not_asked)  # type: ignore[arg-type]


async def test_a_learner_reading_the_correcting_batches_is_refused_as_a_read() -> None:
    with pytest.raises(NotAllowed) as refused:
        await _service().correcting_batches(LEARNER, uuid.uuid4())

    said = str(refused.value)
    assert "acknowledges and resolves" not in said
    assert said.startswith("The batches that may have corrected a challenged achievement are listed only to the")
    assert said.endswith("GET /v1/challenges/{challenge_id}.")


async def test_a_learner_resolving_is_still_told_only_the_ao_resolves() -> None:
    with pytest.raises(NotAllowed) as refused:
        await _service().resolve(LEARNER, uuid.uuid4(), ChallengeResolution.CORRECTED, None, uuid.uuid4())

    assert str(refused.value) == "Only the awarding organisation acknowledges and resolves challenges."


def test_a_withdrawn_achievement_says_there_is_nothing_to_challenge_and_whom_to_contact() -> None:
    problem = _translate(AchievementIsWithdrawn(str(uuid.uuid4()), "RN9093", "Pearson Education Ltd")).problem

    assert (problem.status, problem.code) == (409, ProblemCode.ACHIEVEMENT_WITHDRAWN)
    assert problem.detail is not None
    assert "nothing in it to challenge" in problem.detail
    assert "contact Pearson Education Ltd (RN9093) about it" in problem.detail
    assert problem.detail.endswith("if you cannot reach them, contact the LRS service desk.")
