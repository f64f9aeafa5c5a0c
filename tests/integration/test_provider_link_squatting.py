"""The whole system (decision 0121, later note of 2026-12-06): a provider that registered an unregistered ULN under
made-up details loses its link once an operator's learner file names the ULN's real learner, so it reads nothing
of theirs; and a provider not linked to an erased learner learns nothing of the erasure from a registration."""

from __future__ import annotations

import uuid

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.learners import learners_csv, new_learner
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


def _code(answer: httpx.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.json().get("code") if answer.status_code >= 400 else None


async def _plr_read(system: SystemUnderTest, provider: str, uln: str) -> tuple[int, str | None]:
    async with await system.client("plr-projector", provider) as client:
        return _code(await client.get(f"/v1/learners/{uln}/plr"))


async def test_a_learner_file_naming_a_squatted_ulns_learner_ends_the_squatters_reach(system: SystemUnderTest) -> None:
    squatter, real = _provider(), new_learner()
    uln = real["uln"]
    async with await system.client("validation", squatter) as client:
        squatted = await client.post("/v1/learners", json={"uln": uln, "given_name": "Place", "family_name": "Holder"})
    assert squatted.status_code == 201, squatted.text

    async def linked() -> bool:
        return await _plr_read(system, squatter, uln) == (200, None)

    assert await eventually(linked, within=30, what="the squatter's link projected")

    async with await system.client("validation", "operator:tests") as operator:
        imported = await operator.post(
            "/v1/learners/import", content=learners_csv([real]), headers={"Content-Type": "text/csv"}
        )
        providers = await operator.get(f"/v1/learners/{uln}/providers")
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"registered": 0, "updated": 1, "unchanged": 0, "merged": 0, "provider_links_ended": 1}
    assert providers.json()["providers"] == []

    async def refused() -> bool:
        return await _plr_read(system, squatter, uln) == (403, "PROVIDER_NOT_LINKED")

    assert await eventually(refused, within=30, what="the squatter's PLR read refused once the link ended")
    async with await system.client("validation", squatter) as client:
        sharing = await client.get(f"/v1/learners/{uln}/sharing")
        again = await client.post("/v1/learners", json={"uln": uln, "given_name": "Place", "family_name": "Holder"})
    async with await system.client("plr-projector", squatter) as client:
        report = await client.post(
            "/v1/centre/achievements", json={"uln": uln, "qualification_number": "600/1166/X", "grade": "B"}
        )
    assert _code(sharing) == (403, "PROVIDER_NOT_LINKED")
    assert _code(again) == (409, "LEARNER_ALREADY_REGISTERED")
    assert _code(report) == (403, "PROVIDER_NOT_LINKED")


async def test_only_an_operator_and_a_linked_provider_learn_that_a_registered_learner_was_erased(
    system: SystemUnderTest,
) -> None:
    learner, linked, stranger = new_learner(), _provider(), _provider()
    uln = learner["uln"]
    await register(system, [learner])
    async with await system.client("validation", "operator:dpo") as operator:
        link = await operator.post(f"/v1/learners/{uln}/providers", json={"ukprn": linked.split(":")[1]})
        assert link.status_code == 204, link.text
        erased = await operator.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "they asked"})
        assert erased.status_code == 201, erased.text
    registration = {"uln": uln, "given_name": "Any", "family_name": "Body"}

    async def registering(principal: str) -> tuple[int, str | None]:
        async with await system.client("validation", principal) as client:
            return _code(await client.post("/v1/learners", json=registration))

    assert await registering(stranger) == (409, "LEARNER_ALREADY_REGISTERED")
    assert await registering(linked) == (410, "LEARNER_ERASED")
    assert await registering("operator:tests") == (410, "LEARNER_ERASED")
