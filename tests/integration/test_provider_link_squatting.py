"""The whole system (decision 0121, later note of 2026-12-06): a provider that registered an unregistered ULN under
made-up details loses its link once an operator's learner file names the ULN's real learner, so it reads nothing
of theirs; and a provider not linked to an erased learner learns nothing of the erasure from a registration."""

from __future__ import annotations

import uuid
from typing import Any

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
    assert imported.json() == {
        "registered": 0,
        "updated": 1,
        "unchanged": 0,
        "merged": 0,
        "provider_links_ended": 1,
        "sharing_choices_reset": 0,
    }
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
        link = await operator.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": linked.split(":")[1]})
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


async def _squat(system: SystemUnderTest, squatter: str, uln: str) -> None:
    """`squatter` registers `uln` under made-up details, reports a centre achievement for it and opts it out (an
    opt-out is never set aside when its link ends: FAQ §1, decision 0180)."""
    async with await system.client("validation", squatter) as client:
        squatted = await client.post(
            "/v1/learners", json={"uln": uln, "given_name": "Zanzibar", "family_name": "Quoxley"}
        )
        assert squatted.status_code == 201, squatted.text

        async def reported() -> bool:  # once its link is projected
            async with await system.client("plr-projector", squatter) as projector:
                answer = await projector.post(
                    "/v1/centre/achievements", json={"uln": uln, "qualification_number": "600/1166/X", "grade": "Fail"}
                )
            return answer.status_code == 202

        assert await eventually(reported, within=30, what="the squatter's centre report taken")
        opted_out = await client.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": 2})
        assert opted_out.status_code == 204, opted_out.text


async def _ilr_of(system: SystemUnderTest, uln: str) -> list[str]:
    """The providers whose centre reports the learner's PLR shows (as an operator reads it)."""
    async with await system.client("plr-projector", "operator:tests") as client:
        answer = await client.get(f"/v1/learners/{uln}/plr")
    assert answer.status_code == 200, answer.text
    return sorted(
        event["achievement_provider_ukprn"] for event in answer.json()["learning_events"] if event["source"] == "ILR"
    )


async def _sharing(system: SystemUnderTest, principal: str, uln: str) -> dict[str, Any]:
    async with await system.client("validation", principal) as client:
        answer = await client.get(f"/v1/learners/{uln}/sharing")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _link(system: SystemUnderTest, uln: str, provider: str) -> None:
    async with await system.client("validation", "operator:tests") as operator:
        linked = await operator.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": provider.split(":")[1]})
    assert linked.status_code == 204, linked.text


async def test_a_learner_file_takes_a_squatters_centre_reports_off_the_plr_and_leaves_its_opt_out(
    system: SystemUnderTest,
) -> None:
    """Decision 0121's note of 2026-12-06, what the squatter wrote: its centre report leaves the real learner's PLR
    once the file ends its link (kept, and shown again when an operator links it again). Its opt-out stays, though
    the file says the learner shares: a file never removes one (decision 0180), and it only denies sharing, which the
    learner or an operator can lift. The learner reads who made it."""
    squatter, genuine, real = _provider(), _provider(), new_learner()
    uln = real["uln"]
    await _squat(system, squatter, uln)
    await _link(system, uln, genuine)
    assert await _ilr_of(system, uln) == [squatter[-8:]]

    async with await system.client("validation", "operator:tests") as operator:
        imported = await operator.post(
            "/v1/learners/import", content=learners_csv([real]), headers={"Content-Type": "text/csv"}
        )
    assert imported.status_code == 201, imported.text
    assert (imported.json()["provider_links_ended"], imported.json()["sharing_choices_reset"]) == (1, 0)
    sharing = await _sharing(system, f"learner:{uln}", uln)
    assert sharing["ability_to_share"] == 2  # not the file's 1
    assert [change["changed_by"] for change in sharing["changes"]] == [
        f"learning provider {squatter[-8:]}, no longer linked to you",
    ]

    async def hidden_and_still_not_shared() -> bool:  # WSEC0206: the learner does not share
        refused = await _plr_read(system, genuine, uln) == (403, "WSEC0206")
        return refused and await _ilr_of(system, uln) == []

    assert await eventually(hidden_and_still_not_shared, within=30, what="the file projected")

    await _link(system, uln, squatter)  # an operator finds the learner is the squatter's after all

    async def shown_again() -> bool:
        return await _ilr_of(system, uln) == [squatter[-8:]]

    assert await eventually(shown_again, within=30, what="the re-linked provider's report shown again")


async def test_a_merge_keeps_a_squatters_centre_reports_off_the_masters_plr_and_its_opt_out_as_any(
    system: SystemUnderTest,
) -> None:
    """The squatter's report leaves the master's PLR with its link; its opt-out is never set aside, and the merge
    copies it to the master as any opt-out (decision 0164): a denial of sharing the learner or an operator can lift,
    never a disclosure."""
    squatter, genuine = _provider(), _provider()
    master, squatted = new_learner(), new_learner()["uln"]
    await register(system, [master])
    await _link(system, master["uln"], genuine)
    await _squat(system, squatter, squatted)

    async with await system.client("validation", "operator:tests") as operator:
        merged = await operator.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": squatted})
    assert merged.status_code == 204, merged.text

    sharing = await _sharing(system, "operator:tests", master["uln"])
    assert sharing["ability_to_share"] == 2  # kept at the master by the merge
    assert sharing["changes"][0]["changed_by"] == f"merge of {squatted}"

    async def merged_without_the_squatters_report() -> bool:
        async with await system.client("plr-projector", "operator:tests") as client:
            answer = (await client.get(f"/v1/learners/{master['uln']}/plr")).json()
        return squatted in answer["ulns"] and await _ilr_of(system, master["uln"]) == []

    assert await eventually(merged_without_the_squatters_report, within=30, what="the merge projected")

    async def not_shared() -> bool:
        return await _plr_read(system, genuine, master["uln"]) == (403, "WSEC0206")  # the learner does not share

    assert await eventually(not_shared, within=30, what="the opt-out kept at the master projected")

    await _link(system, master["uln"], squatter)

    async def shown_again() -> bool:
        return await _ilr_of(system, master["uln"]) == [squatter[-8:]]

    assert await eventually(shown_again, within=30, what="the re-linked provider's report shown again")
