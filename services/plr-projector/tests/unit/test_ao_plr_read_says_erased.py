"""An AO's PLR read (`GET /v1/learners/{uln}/plr`, what an MIS and `lrs plr show` read) of an erased learner it has
achievements of says so (`learner_erased`), as its view of the learner (`GET /v1/ao/achievements`) does: before, only
the portal (which reads that view) told the AO, and an exams office learnt it from the RV004 rejections of the
records it then sent (parity walk, finding 7). An AO that recorded nothing for the learner is told false, as in its
view, so no AO can probe ULNs for erasures (decision 0157); the learner's, a provider's and an operator's answers
stay as they were."""

from __future__ import annotations

import pytest

from plr_projector.documents import PersonalLearningRecord

from .test_operator_read_says_erased import erased_learner
from .test_plr_read_answers import PROVIDER, ReadOnlyProjector, _client
from .test_views import ULN

RECORDING_AO = "ao:RN5133"  # the AO of the projector's one achievement
OTHER_AO = "ao:RN9093"


@pytest.mark.parametrize(
    ("principal", "projector", "erased"),
    [
        (RECORDING_AO, erased_learner(), True),
        (RECORDING_AO, ReadOnlyProjector(), False),
        (OTHER_AO, erased_learner(), False),  # it holds nothing of theirs: told what it is told of any learner
    ],
)
async def test_an_aos_plr_read_says_the_learner_was_erased_only_where_it_recorded_something(
    principal: str, projector: ReadOnlyProjector, erased: bool
) -> None:
    async with _client(principal, projector) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr", params={"include_withdrawn": "true"})

    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["learner_erased"] is erased
    assert "erased" not in document  # the operator's word, not the AO's
    PersonalLearningRecord.model_validate(document)  # the described document holds it


@pytest.mark.parametrize("principal", [RECORDING_AO, OTHER_AO])
async def test_the_plr_read_and_the_ao_view_say_the_same(principal: str) -> None:
    async with _client(principal, erased_learner()) as client:
        plr = await client.get(f"/v1/learners/{ULN}/plr")
        view = await client.get("/v1/ao/achievements", params={"uln": ULN})

    assert (plr.status_code, view.status_code) == (200, 200), plr.text + view.text
    assert plr.json()["learner_erased"] is view.json()["learner_erased"]


async def test_the_learners_and_an_operators_answers_are_as_they_were() -> None:
    async with _client(f"learner:{ULN}", erased_learner()) as client:
        learner = await client.get(f"/v1/learners/{ULN}/plr")
    async with _client("operator:ops", erased_learner()) as client:
        operator = await client.get(f"/v1/learners/{ULN}/plr")

    assert (learner.status_code, operator.status_code) == (200, 200), learner.text + operator.text
    assert "learner_erased" not in learner.json()
    assert "erased" not in learner.json()
    assert "learner_erased" not in operator.json()
    assert operator.json()["erased"] is True


async def test_a_provider_is_still_refused() -> None:
    async with _client(PROVIDER, erased_learner()) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr")

    assert answer.status_code == 410
    assert answer.json()["code"] == "LEARNER_ERASED"
    assert "learner_erased" not in answer.json()
