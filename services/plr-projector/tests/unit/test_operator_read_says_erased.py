"""An operator's read of an erased learner's PLR says the learner was erased (`erased`): providers are refused it
(410) and every AO's new record for the ULN is rejected RV004, which the sharing choice alone ("yes") hid from the
desk (incident walk, finding 3). The learner's, an AO's and a provider's answers stay as they were."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from .test_plr_read_answers import PROVIDER, ReadOnlyProjector, _client
from .test_views import ULN


def erased_learner() -> ReadOnlyProjector:
    """The projector of `test_plr_read_answers` holding the learner erased."""
    projector = ReadOnlyProjector()

    async def any_erased(connection: Any, ulns: Sequence[str]) -> bool:
        return True

    projector.any_erased = any_erased
    return projector


@pytest.mark.parametrize(("projector", "erased"), [(erased_learner(), True), (ReadOnlyProjector(), False)])
async def test_an_operators_read_says_whether_the_learner_was_erased(
    projector: ReadOnlyProjector, erased: bool
) -> None:
    async with _client("operator:ops", projector) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr")

    assert answer.status_code == 200, answer.text
    assert answer.json()["erased"] is erased


@pytest.mark.parametrize("principal", [f"learner:{ULN}", "ao:RN5133"])
async def test_a_learners_and_an_aos_answers_are_as_they_were(principal: str) -> None:
    async with _client(principal, erased_learner()) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr")

    assert answer.status_code == 200, answer.text
    assert "erased" not in answer.json()


async def test_a_provider_is_still_refused_an_erased_learners_plr() -> None:
    async with _client(PROVIDER, erased_learner()) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr")

    assert answer.status_code == 410
    assert answer.json()["code"] == "LEARNER_ERASED"


async def test_an_operators_read_of_the_aos_view_is_as_it_was() -> None:
    async with _client("operator:ops", erased_learner()) as client:
        answer = await client.get("/v1/ao/achievements", params={"uln": ULN, "ao_id": "RN5133"})

    assert answer.status_code == 200, answer.text
    assert "erased" not in answer.json()
    assert answer.json()["learner_erased"] is True  # the AO view's own word, as before
