"""A learner's sharing once they are erased (410, as for a change; operators still read who changed it, decision
0166), an operator's change recorded as the operator's, and the providers linked to a learner, which the learner
can now read (who reads their PLR while they share, decision 0121)."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.support.learners import new_learner, random_uln

from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


def _registration(learner: dict[str, str]) -> dict[str, str]:
    return {key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}


def _assert_problem(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    if code is not None:
        assert response.json()["code"] == code


async def _registered_by(system: SystemUnderTest, provider: str, learner: dict[str, str]) -> None:
    async with await system.client("validation", provider) as registering:
        assert (await registering.post("/v1/learners", json=_registration(learner))).status_code == 201


async def test_an_operators_change_is_the_operators_and_an_erased_learners_sharing_is_410_but_kept_for_operators(
    system: SystemUnderTest,
) -> None:
    learner, provider = new_learner(), _provider()
    uln = learner["uln"]
    await _registered_by(system, provider, learner)
    async with await system.client("validation", f"learner:{uln}") as themself:
        assert (await themself.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": 2})).is_success
    async with await system.client("validation", "operator:support") as operator:
        # the support desk acting for the learner (decisions 0032, 0164)
        assert (await operator.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": 1})).is_success
        read_by_operator = await operator.get(f"/v1/learners/{uln}/sharing")
    async with await system.client("validation", f"learner:{uln}") as themself:
        read_by_learner = await themself.get(f"/v1/learners/{uln}/sharing")
    assert [(c["ability_to_share"], c["changed_by"]) for c in read_by_operator.json()["changes"]] == [
        (1, "operator:support"),
        (2, f"learner:{uln}"),
    ]
    assert [(c["ability_to_share"], c["changed_by"]) for c in read_by_learner.json()["changes"]] == [
        (1, "an LRS operator"),
        (2, "you"),
    ]

    async with await system.client("validation", "operator:dpo") as operator:
        erased = await operator.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "they asked"})
        assert erased.status_code == 201, erased.text
        read_after = await operator.get(f"/v1/learners/{uln}/sharing")
        kept = await operator.get(f"/v1/admin/learners/{uln}/sharing-changes")
        never_held = await operator.get(f"/v1/admin/learners/{random_uln()}/sharing-changes")
    async with await system.client("validation", provider) as linked:
        read_by_provider = await linked.get(f"/v1/learners/{uln}/sharing")
        not_an_operator = await linked.get(f"/v1/admin/learners/{uln}/sharing-changes")

    for answer in (read_after, read_by_provider):
        _assert_problem(answer, 410, "LEARNER_ERASED")
    assert "/v1/admin/learners/{uln}/sharing-changes" in read_after.json()["detail"]
    assert kept.status_code == 200, kept.text
    view = kept.json()
    assert (view["uln"], view["ulns"], view["erased"]) == (uln, [uln], True)
    assert [(c["ability_to_share"], c["changed_by"]) for c in view["changes"]] == [
        (1, "operator:support"),
        (2, f"learner:{uln}"),
    ]
    _assert_problem(never_held, 404, "LEARNER_NOT_REGISTERED")
    _assert_problem(not_an_operator, 403)


async def test_a_learner_reads_which_providers_are_linked_to_them(system: SystemUnderTest) -> None:
    learner, registering, linked_later, stranger = new_learner(), _provider(), _provider(), _provider()
    uln = learner["uln"]
    await _registered_by(system, registering, learner)
    async with await system.client("validation", "operator:support") as operator:
        link = await operator.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": linked_later.split(":")[1]})
        assert link.status_code == 204, link.text
        by_operator = await operator.get(f"/v1/learners/{uln}/providers")
        unregistered = await operator.get(f"/v1/learners/{random_uln()}/providers")

    async def read_by(principal: str) -> httpx.Response:
        async with await system.client("validation", principal) as client:
            return await client.get(f"/v1/learners/{uln}/providers")

    by_learner = await read_by(f"learner:{uln}")
    assert by_learner.status_code == 200, by_learner.text
    view = by_learner.json()
    assert view["uln"] == uln
    assert [p["ukprn"] for p in view["providers"]] == [registering.split(":")[1], linked_later.split(":")[1]]
    assert all(datetime.fromisoformat(p["linked_since"]).tzinfo is not None for p in view["providers"])
    assert by_operator.json() == view
    by_provider = await read_by(registering)
    assert [p["ukprn"] for p in by_provider.json()["providers"]] == [registering.split(":")[1]]
    _assert_problem(await read_by(stranger), 403, "PROVIDER_NOT_LINKED")
    _assert_problem(await read_by("ao:RN9008"), 403)
    _assert_problem(unregistered, 404, "LEARNER_NOT_REGISTERED")

    async with await system.client("validation", "operator:dpo") as operator:
        erased = await operator.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "they asked"})
        assert erased.status_code == 201, erased.text
        after = await operator.get(f"/v1/learners/{uln}/providers")
    _assert_problem(after, 410, "LEARNER_ERASED")
