"""Decision 0121 after a review: `POST /v1/learners` of a registered ULN answers "unchanged" (200) only to the
provider whose own registration of that ULN links it (`validation.learner_links.linked_by = provider:<UKPRN>`): it
sent the details. Any other provider, one an operator linked included, gets one and the same 409
`LEARNER_ALREADY_REGISTERED` whatever it sends. An operator-linked provider, answered 200 for the right details and
409 for wrong ones, found a learner's date of birth in 58 tries, even after the learner opted out. The 409 says
nothing untrue to a provider whose registration's link a learner file ended ("not by you" was)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.learners import learners_csv, new_learner

pytestmark = pytest.mark.integration


def _registration(learner: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {
        "uln": learner["uln"],
        "given_name": learner["given_name"],
        "family_name": learner["family_name"],
        "date_of_birth": learner["date_of_birth"],
        **changes,
    }


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


def _another_date(born: str) -> str:
    year, rest = born.split("-", 1)
    return f"{int(year) + 1}-{rest}"


async def _tries(system: SystemUnderTest, provider: str, learner: dict[str, str]) -> list[httpx.Response]:
    """The provider registering the learner with the registered details, then with a wrong date of birth, then with a
    wrong given name."""
    async with await system.client("validation", provider) as client:
        return [
            await client.post("/v1/learners", json=_registration(learner)),
            await client.post(
                "/v1/learners", json=_registration(learner, date_of_birth=_another_date(learner["date_of_birth"]))
            ),
            await client.post("/v1/learners", json=_registration(learner, given_name="Mallory")),
        ]


def _one_answer_to_every_try(answers: list[httpx.Response]) -> dict[str, Any]:
    assert [answer.status_code for answer in answers] == [409] * len(answers), [answer.text for answer in answers]
    bodies: dict[str, dict[str, Any]] = {answer.text: answer.json() for answer in answers}
    [body] = bodies.values()  # the very same body each time
    assert answers[0].headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "LEARNER_ALREADY_REGISTERED"
    return body


async def test_a_provider_an_operator_linked_gets_one_answer_whatever_details_it_tries(system: SystemUnderTest) -> None:
    learner, imported = new_learner(), new_learner()
    await register(system, [imported])  # a learner no provider registered
    registering, operator_linked = _provider(), _provider()
    async with await system.client("validation", registering) as client:
        assert (await client.post("/v1/learners", json=_registration(learner))).status_code == 201
    async with await system.client("validation", "operator:tests") as operator:
        for each in (learner, imported):
            linked = await operator.post(
                f"/v1/admin/learners/{each['uln']}/providers", json={"ukprn": operator_linked.partition(":")[2]}
            )
            assert linked.status_code == 204, linked.text

    for each in (learner, imported):
        _one_answer_to_every_try(await _tries(system, operator_linked, each))

    # still so once the learner opted out (the review's case)
    async with await system.client("validation", f"learner:{learner['uln']}") as themself:
        opted_out = await themself.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 2})
    assert opted_out.status_code == 204, opted_out.text
    _one_answer_to_every_try(await _tries(system, operator_linked, learner))

    # the provider whose registration links it sent the details: it is still told they are unchanged, or other
    same, other_date, other_name = await _tries(system, registering, learner)
    assert (same.status_code, same.json()["unchanged"]) == (200, 1)
    assert [other_date.status_code, other_name.status_code] == [409, 409]
    assert "registered with other details" in other_date.json()["detail"]


async def test_a_provider_whose_registrations_link_a_learner_file_ended_is_told_nothing_untrue(
    system: SystemUnderTest,
) -> None:
    made_up = new_learner(given_name="Place", family_name="Holder")
    real = {**made_up, "given_name": "Amelia", "family_name": "Realperson"}
    squatter = _provider()
    async with await system.client("validation", squatter) as client:
        assert (await client.post("/v1/learners", json=_registration(made_up))).status_code == 201
    async with await system.client("validation", "operator:tests") as operator:
        imported = await operator.post(
            "/v1/learners/import", content=learners_csv([real]), headers={"Content-Type": "text/csv"}
        )
    assert imported.status_code == 201, imported.text
    assert imported.json()["provider_links_ended"] == 1

    # the details it registered, and the ones the file gave, alike: it learns nothing of the register's learner
    body = _one_answer_to_every_try([*await _tries(system, squatter, made_up), *await _tries(system, squatter, real)])
    assert "not by you" not in body["detail"]  # it was by them
    assert body["detail"].startswith("This ULN is registered already, and no registration of yours links you")
