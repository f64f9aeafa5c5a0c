"""A change refused because the challenge is closed says how it ended, in words for its reader: a learner's withdrawal
is not called a resolution (the awarding organisation told "resolved" would look for an answer someone gave), the
learner reads "you withdrew it", and nobody is handed an API route with a placeholder to fill in. A second challenge
on an achievement says what to do: wait for the answer, or withdraw the open one."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from services.challenges.tests.unit.test_a_learner_withdraws_their_challenge import refused_as_closed

from challenges.api import _closed, _translate, acknowledge_challenge, withdraw_challenge
from challenges.domain import Challenge, ChallengeState, InvalidTransition
from challenges.service import ChallengeService
from challenges.store import OpenChallengeExists
from lrs_contracts.challenge import ChallengeResolution
from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal
from lrs_platform.problems import ProblemError

ULN, AO = "1000000043", "RN5133"
AS_LEARNER, AS_AO = Principal.parse(f"learner:{ULN}"), Principal.parse(f"ao:{AO}")
RAISED_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ENDED_AT = datetime(2026, 12, 7, 16, 8, tzinfo=UTC)


def closed(resolution: ChallengeResolution, by: str) -> Challenge:
    raised = Challenge(uuid.uuid4(), uuid.uuid4(), AO, ULN, "wrong grade", ChallengeState.RAISED, RAISED_AT)
    return dataclasses.replace(
        raised, state=ChallengeState.RESOLVED, resolution=resolution, resolved_at=ENDED_AT, resolved_by=by
    )


class _Store:
    def __init__(self, challenge: Challenge) -> None:
        self.challenge = challenge

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.challenge if challenge_id == self.challenge.challenge_id else None

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return await self.get(challenge_id)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_Store]:
        yield self  # a refused change writes nothing


class _Record:
    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({uln})

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()


async def _unused(*_: object) -> bool:
    raise AssertionError("a refused change waits for nothing")


def _request(challenge: Challenge) -> Any:
    service = ChallengeService(_Store(challenge), _Record(), None, _unused, held=_unused)  # type: ignore[arg-type]
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))


async def test_the_ao_acknowledging_a_withdrawn_challenge_is_told_the_learner_withdrew_it() -> None:
    challenge = closed(ChallengeResolution.WITHDRAWN, f"learner:{ULN}")

    with pytest.raises(ProblemError) as refused:
        await acknowledge_challenge(challenge.challenge_id, AS_AO, _request(challenge))

    assert refused_as_closed(refused) == (
        "This challenge is closed: the learner withdrew it on 7 Dec 2026, 16:08 (UK time), so it cannot be"
        " acknowledged. Nothing more is needed."
    )


async def test_the_learner_withdrawing_a_challenge_the_ao_resolved_is_told_how_it_was_resolved() -> None:
    challenge = closed(ChallengeResolution.UPHELD, f"ao:{AO}")

    with pytest.raises(ProblemError) as refused:
        await withdraw_challenge(challenge.challenge_id, AS_LEARNER, _request(challenge))

    assert refused.value.problem.detail == (
        'This challenge is closed: the awarding organisation resolved it as "Data confirmed correct" on 7 Dec 2026,'
        " 16:08 (UK time), so it cannot be withdrawn. Nothing more is needed."
    )


@pytest.mark.parametrize("action", ["acknowledged", "resolved", "withdrawn"])
def test_no_refusal_of_a_closed_challenge_names_an_api_route(action: str) -> None:
    problem = _translate(InvalidTransition(ChallengeState.RESOLVED, action)).problem

    assert problem.detail is not None
    assert "/v1/" not in problem.detail
    assert "{challenge_id}" not in problem.detail


def test_a_second_challenge_says_what_to_do() -> None:
    open_one = uuid.uuid4()

    problem = _translate(OpenChallengeExists(open_one)).problem

    assert (problem.status, problem.code, problem.title) == (
        409,
        ProblemCode.CHALLENGE_ALREADY_OPEN,
        "Challenge already open",
    )
    assert problem.detail == (
        f"There is an open challenge on this achievement already (challenge {open_one}). Wait for the awarding"
        " organisation's answer, or withdraw that challenge first."
    )
    assert problem.model_dump()["challenge_id"] == str(open_one)


async def test_a_challenge_an_operator_closed_is_said_to_be_closed_by_an_lrs_operator() -> None:
    """An operator may withdraw a challenge for the learner, or resolve it for the AO (decision 0194): the refusal
    says so as the challenge's own `resolved_by` does, never "you withdrew it" to a learner who did not."""
    withdrawn = closed(ChallengeResolution.WITHDRAWN, "operator:jo")
    upheld = closed(ChallengeResolution.UPHELD, "operator:jo")

    with pytest.raises(ProblemError) as to_the_learner:
        await withdraw_challenge(withdrawn.challenge_id, AS_LEARNER, _request(withdrawn))
    with pytest.raises(ProblemError) as to_the_ao:
        await acknowledge_challenge(upheld.challenge_id, AS_AO, _request(upheld))

    assert refused_as_closed(to_the_learner) == (
        "This challenge is closed: an LRS operator withdrew it on 7 Dec 2026, 16:08 (UK time), so it cannot be"
        " withdrawn. Nothing more is needed."
    )
    assert refused_as_closed(to_the_ao) == (
        'This challenge is closed: an LRS operator resolved it as "Data confirmed correct" on 7 Dec 2026, 16:08'
        " (UK time), so it cannot be acknowledged. Nothing more is needed."
    )


async def test_an_operator_is_told_who_closed_a_challenge_in_words() -> None:
    """Not "learner:<ULN> withdrew it": the learner in words, and another operator by their principal."""
    by_the_learner = closed(ChallengeResolution.WITHDRAWN, f"learner:{ULN}")
    by_an_operator = closed(ChallengeResolution.WITHDRAWN, "operator:jo")
    support = Principal.parse("operator:sam")

    assert "the learner withdrew it" in _closed("withdrawn", by_the_learner, support)
    assert ULN not in _closed("withdrawn", by_the_learner, support)
    assert "operator:jo withdrew it" in _closed("withdrawn", by_an_operator, support)
