"""The whole system (decision 0121, later note of 2026-12-06, the other way round): an operator who merges a real
learner INTO a ULN a provider squatted under made-up details (the squatted ULN the master) ends the squatter's link,
so it reads nothing of the merged learner and its centre reports leave their PLR until an operator links it again."""

from __future__ import annotations

import uuid

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.learners import new_learner
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OPERATOR = "operator:tests"


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


def _code(answer: httpx.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.json().get("code") if answer.status_code >= 400 else None


async def _plr_read(system: SystemUnderTest, principal: str, uln: str) -> tuple[int, str | None]:
    async with await system.client("plr-projector", principal) as client:
        return _code(await client.get(f"/v1/learners/{uln}/plr"))


async def _ilr_of(system: SystemUnderTest, uln: str) -> list[str]:
    """The providers whose centre reports the learner's PLR shows (as an operator reads it)."""
    async with await system.client("plr-projector", OPERATOR) as client:
        answer = await client.get(f"/v1/learners/{uln}/plr")
    assert answer.status_code == 200, answer.text
    return sorted(
        event["achievement_provider_ukprn"] for event in answer.json()["learning_events"] if event["source"] == "ILR"
    )


async def test_merging_a_real_learner_into_a_squatted_uln_ends_the_squatters_reach(system: SystemUnderTest) -> None:
    squatter, real = _provider(), new_learner()
    squatted = new_learner()["uln"]
    await register(system, [real])  # named by a learner file: the register's learner
    async with await system.client("validation", squatter) as client:
        made_up = await client.post(
            "/v1/learners", json={"uln": squatted, "given_name": "Zanzibar", "family_name": "Quoxley"}
        )
    assert made_up.status_code == 201, made_up.text

    async def reported() -> bool:  # once its link is projected
        async with await system.client("plr-projector", squatter) as projector:
            answer = await projector.post(
                "/v1/centre/achievements",
                json={"uln": squatted, "qualification_number": "600/1166/X", "grade": "Fail"},
            )
        return answer.status_code == 202

    assert await eventually(reported, within=30, what="the squatter's centre report taken")

    async with await system.client("validation", OPERATOR) as operator:
        merged = await operator.post(f"/v1/learners/{squatted}/merge", json={"merged_uln": real["uln"]})
        providers = await operator.get(f"/v1/learners/{real['uln']}/providers")
    assert merged.status_code == 204, merged.text
    assert providers.json()["providers"] == []

    async def merged_without_the_squatters_reach() -> bool:
        async with await system.client("plr-projector", OPERATOR) as client:
            answer = (await client.get(f"/v1/learners/{real['uln']}/plr")).json()
        return (
            squatted in answer["ulns"]
            and await _ilr_of(system, real["uln"]) == []
            and await _plr_read(system, squatter, real["uln"]) == (403, "PROVIDER_NOT_LINKED")
        )

    assert await eventually(merged_without_the_squatters_reach, within=30, what="the merge projected")
    async with await system.client("plr-projector", OPERATOR) as client:
        hidden = await client.get("/v1/admin/centre-reports/hidden", params={"uln": real["uln"]})
    assert hidden.status_code == 200, hidden.text
    assert [(link["provider_ukprn"], link["hidden_reports"]) for link in hidden.json()["links"]] == [(squatter[-8:], 1)]
