"""A PLR read says how many withdrawn achievements it leaves out, so an achievement that vanished from a learner's
PLR reads as withdrawn, not lost; a provider, which may not ask for them (decision 0012), is told nothing of them."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_platform.identity import Principal
from plr_projector.documents import PersonalLearningRecord
from plr_projector.projection import AchievementRow
from plr_projector.views import audience_for, withdrawn_not_shown

from .test_plr_read_answers import PROVIDER, ReadOnlyProjector, _client
from .test_views import ULN, achievement, group

OWN_AO, OTHER_AO = "RN5133", "RN9093"


async def _withdrawals_on_record(connection: Any, ulns: Any) -> list[AchievementRow]:
    """One live achievement, one withdrawn by the AO, one withdrawn by another AO."""
    return [
        achievement(),
        achievement(qan="60012345", withdrawn=True),
        achievement(ao=OTHER_AO, qan="60054321", withdrawn=True),
    ]


async def _read(principal: str, **params: str) -> dict[str, Any]:
    projector = ReadOnlyProjector()
    projector.achievements = _withdrawals_on_record
    async with _client(principal, projector) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr", params=params)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    PersonalLearningRecord.model_validate(document)
    return document


@pytest.mark.parametrize("principal", [f"learner:{ULN}", "operator:ops"])
async def test_the_learner_and_operators_are_told_how_many_withdrawn_achievements_are_left_out(principal: str) -> None:
    plain = await _read(principal)
    asked = await _read(principal, include_withdrawn="true")

    assert [event["withdrawn"] for event in plain["learning_events"]] == [False]
    assert plain["withdrawn_not_shown"] == 2
    assert len(asked["learning_events"]) == 3
    assert asked["withdrawn_not_shown"] == 0


async def test_an_ao_is_told_only_of_its_own_withdrawn_achievements() -> None:
    assert (await _read(f"ao:{OWN_AO}"))["withdrawn_not_shown"] == 1
    assert (await _read(f"ao:{OWN_AO}", include_withdrawn="true"))["withdrawn_not_shown"] == 0


async def test_a_provider_learns_nothing_of_withdrawn_achievements() -> None:
    document = await _read(PROVIDER)
    assert [event["withdrawn"] for event in document["learning_events"]] == [False]
    assert document["withdrawn_not_shown"] is None


def test_none_is_left_out_of_a_plr_with_nothing_withdrawn() -> None:
    learner = audience_for(Principal.parse(f"learner:{ULN}"), group(1))
    assert withdrawn_not_shown(learner, [achievement()], include_withdrawn=False) == 0
