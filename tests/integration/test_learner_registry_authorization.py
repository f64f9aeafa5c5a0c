"""Issue #9, defect 8: providers register new learners and change sharing only for learners linked to them;
decision 0121: they read PLRs and report centre achievements only for those learners too.

A registration never replaces a registered learner's details (names replaced by any provider made every
AO batch for the learner fail RV004), and a forbidden caller gets 403 before its body is even read.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, record_outcomes, register, submit_and_wait
from tests.support.learners import json_batch, json_record, new_learner, random_uln
from tests.support.waiting import eventually

from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"


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


def _assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


async def test_another_provider_cannot_replace_a_registered_learners_details(system: SystemUnderTest) -> None:
    learner = new_learner()
    async with await system.client("validation", _provider()) as registering:
        first = await registering.post("/v1/learners", json=_registration(learner))
        again = await registering.post(
            "/v1/learners", json=_registration(learner, given_name=learner["given_name"].upper())
        )
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (200, {"registered": 0, "updated": 0, "unchanged": 1, "merged": 0})

    async with await system.client("validation", _provider()) as other:
        hijack = await other.post("/v1/learners", json=_registration(learner, given_name="Mallory", family_name="Evil"))
    _assert_problem(hijack, 409)
    assert hijack.json()["title"] == "Learner already registered"

    # the registered details still verify: the AO's batch is accepted, not RV004
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C")]))
    [outcome] = await record_outcomes(system, AQA, view["batch_id"])
    assert codes_of(outcome) == []
    assert view["counts"]["accepted"] == 1


async def test_an_operators_import_still_corrects_a_learners_details(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    corrected = {**learner, "given_name": "Corrected"}
    await register(system, [corrected])
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(corrected, GCSE_A_TO_G, "D")]))
    assert view["counts"]["accepted"] == 1


async def test_only_a_linked_provider_changes_sharing(system: SystemUnderTest) -> None:
    learner = new_learner()
    registering_provider, other_provider = _provider(), _provider()
    async with await system.client("validation", registering_provider) as client:
        assert (await client.post("/v1/learners", json=_registration(learner))).status_code == 201
        own = await client.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 2})
    assert own.status_code == 204, own.text
    assert own.content == b"" and "content-type" not in own.headers  # nothing sent, so nothing to label

    async with await system.client("validation", other_provider) as other:
        refused = await other.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 1})
        unregistered = await other.post(f"/v1/learners/{random_uln()}/sharing", json={"ability_to_share": 1})
    _assert_problem(refused, 403)
    _assert_problem(unregistered, 403)  # the same answer: a provider cannot probe which ULNs exist

    async with await system.client("validation", "operator:tests") as operator:
        ukprn = other_provider.split(":")[1]
        linked = await operator.post(f"/v1/admin/learners/{learner['uln']}/providers", json={"ukprn": ukprn})
        unknown = await operator.post(f"/v1/admin/learners/{random_uln()}/providers", json={"ukprn": ukprn})
    assert linked.status_code == 204, linked.text
    _assert_problem(unknown, 404)
    async with await system.client("validation", other_provider) as other:
        assert (
            await other.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 1})
        ).status_code == 204


async def test_imported_learners_have_no_linked_provider(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    async with await system.client("validation", _provider()) as provider:
        response = await provider.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 2})
    _assert_problem(response, 403)
    async with await system.client("validation", f"learner:{learner['uln']}") as themself:
        response = await themself.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 2})
    assert response.status_code == 204, response.text


@pytest.mark.parametrize(
    ("principal", "path"),
    [
        ("ao:RN9008", "/v1/learners"),
        ("learner:1000000043", "/v1/learners"),
        ("learner:1000000043", "/v1/learners/1026893096/sharing"),
        ("provider:10004567", "/v1/learners/1026893096/sharing"),
        ("provider:10004567", "/v1/learners/1026893096/merge"),
        ("provider:10004567", "/v1/admin/learners/1026893096/providers"),
    ],
)
@pytest.mark.parametrize("body", ['{"uln": 12}', "{not json", ""])
async def test_a_forbidden_caller_gets_403_before_its_body_is_read(
    system: SystemUnderTest, principal: str, path: str, body: str
) -> None:
    async with await system.client("validation", principal) as client:
        response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    _assert_problem(response, 403)


async def test_an_unauthenticated_caller_gets_401_whatever_it_sends(system: SystemUnderTest) -> None:
    async with httpx.AsyncClient(base_url=system.url("validation")) as client:
        response = await client.post("/v1/learners", content="{not json", headers={"Content-Type": "application/json"})
    _assert_problem(response, 401)


async def test_an_allowed_caller_with_a_bad_body_gets_422(system: SystemUnderTest) -> None:
    async with await system.client("validation", _provider()) as client:
        malformed = await client.post("/v1/learners", content="{not json", headers={"Content-Type": "application/json"})
        bad_gender = await client.post("/v1/learners", json=_registration(new_learner(), gender=3))
    _assert_problem(malformed, 422)
    _assert_problem(bad_gender, 422)
    assert "gender" in bad_gender.json()["detail"]


async def _until_refused_as_opted_out(
    system: SystemUnderTest, provider: str, learners: list[dict[str, str]], what: str
) -> None:
    """Waits until the provider's read of each learner's PLR is refused with WSEC0206 (the learner does not share)."""

    async def refused() -> bool | None:
        async with await system.client("plr-projector", provider) as provider_client:
            answers = [await provider_client.get(f"/v1/learners/{learner['uln']}/plr") for learner in learners]
        return all(answer.status_code == 403 and answer.json()["code"] == "WSEC0206" for answer in answers) or None

    assert await eventually(refused, within=30, what=what)


async def test_a_merged_learner_opts_out_by_any_of_their_ulns_and_every_read_applies_it(
    system: SystemUnderTest,
) -> None:
    master, merged = new_learner(), new_learner()
    await register(system, [master, merged])
    async with await system.client("validation", "operator:tests") as operator:
        merging = await operator.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
    assert merging.status_code == 204, merging.text

    # the learner still holding their old ULN's key opts out by it; the choice is the person's
    async with await system.client("validation", f"learner:{merged['uln']}") as themself:
        by_old = await themself.post(f"/v1/learners/{merged['uln']}/sharing", json={"ability_to_share": 2})
        by_master = await themself.post(f"/v1/learners/{master['uln']}/sharing", json={"ability_to_share": 2})
    # the second is the same person's same choice again: nothing changed, and said so (decision 0166)
    assert (by_old.status_code, by_master.status_code) == (204, 200), (by_old.text, by_master.text)
    assert by_master.json()["changed"] is False

    provider = _provider()  # linked to the old ULN: a link to any of a learner's ULNs is to the person
    async with await system.client("validation", "operator:tests") as operator:
        link = await operator.post(
            f"/v1/admin/learners/{merged['uln']}/providers", json={"ukprn": provider.split(":")[1]}
        )
    assert link.status_code == 204, link.text

    await _until_refused_as_opted_out(system, provider, [master, merged], "the opt-out on both ULNs' reads")


async def test_an_opt_out_under_a_merged_uln_outlives_the_merge(system: SystemUnderTest) -> None:
    """Every read applies the choice kept under the master ULN: a merge took the opt-out away (decision 0164)."""
    master, merged = new_learner(), new_learner()
    provider = _provider()
    async with await system.client("validation", provider) as registering:
        for learner in (master, merged):
            registered = await registering.post("/v1/learners", json=_registration(learner, ability_to_share=1))
            assert registered.status_code == 201, registered.text
    async with await system.client("validation", f"learner:{merged['uln']}") as themself:
        opted_out = await themself.post(f"/v1/learners/{merged['uln']}/sharing", json={"ability_to_share": 2})
    assert opted_out.status_code == 204, opted_out.text
    async with await system.client("validation", "operator:tests") as operator:
        merging = await operator.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
    assert merging.status_code == 204, merging.text

    await _until_refused_as_opted_out(system, provider, [master, merged], "the opt-out kept through the merge")


async def test_who_changed_a_learners_sharing_is_kept_and_told_to_the_learner_and_their_providers(
    system: SystemUnderTest,
) -> None:
    """The FAQ lets a provider acting for the learner remove the opt-out: the learner can now see that one did."""
    master, merged = new_learner(), new_learner()
    provider, stranger = _provider(), _provider()
    async with await system.client("validation", provider) as registering:
        for learner in (master, merged):
            assert (await registering.post("/v1/learners", json=_registration(learner))).status_code == 201
    async with await system.client("validation", f"learner:{merged['uln']}") as themself:
        assert (await themself.post(f"/v1/learners/{merged['uln']}/sharing", json={"ability_to_share": 2})).is_success
    async with await system.client("validation", "operator:tests") as operator:
        merging = await operator.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
        assert merging.status_code == 204, merging.text
    async with await system.client("validation", provider) as acting:
        assert (await acting.post(f"/v1/learners/{master['uln']}/sharing", json={"ability_to_share": 1})).is_success

    async def told(principal: str) -> tuple[int, list[tuple[int, str]]]:
        async with await system.client("validation", principal) as client:
            answer = await client.get(f"/v1/learners/{merged['uln']}/sharing")
        assert answer.status_code == 200, answer.text
        view = answer.json()
        return view["ability_to_share"], [
            (change["ability_to_share"], change["changed_by"]) for change in view["changes"]
        ]

    assert await told(f"learner:{merged['uln']}") == (
        1,
        [
            (1, f"learning provider {provider.partition(':')[2]}, linked to you"),  # they read its UKPRN anyway
            (2, "the merge of the learner's ULNs (an opt-out kept)"),
            (2, "you"),
        ],
    )
    assert await told(provider) == (
        1,
        [(1, "you"), (2, "the merge of the learner's ULNs (an opt-out kept)"), (2, "the learner")],
    )
    assert await told("operator:tests") == (
        1,
        [(1, provider), (2, f"merge of {merged['uln']}"), (2, f"learner:{merged['uln']}")],
    )
    async with await system.client("validation", stranger) as unlinked:
        refused = await unlinked.get(f"/v1/learners/{merged['uln']}/sharing")
    _assert_problem(refused, 403)
    assert refused.json()["code"] == "PROVIDER_NOT_LINKED"


async def test_an_erased_learners_sharing_is_not_changed_and_an_unregistered_one_is_said_to_be(
    system: SystemUnderTest,
) -> None:
    learner = new_learner()
    await register(system, [learner])
    async with await system.client("validation", "operator:tests") as operator:
        erased = await operator.post(f"/v1/admin/learners/{learner['uln']}/erasure", json={"reason": "they asked"})
        assert erased.status_code == 201, erased.text
        after = await operator.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 1})
        unregistered = await operator.post(f"/v1/admin/learners/{random_uln()}/providers", json={"ukprn": "10000001"})
    _assert_problem(after, 410)
    assert after.json()["code"] == "LEARNER_ERASED"
    _assert_problem(unregistered, 404)
    assert unregistered.json()["detail"].startswith("No learner is registered under this ULN")


async def test_a_provider_reads_and_reports_only_for_learners_linked_to_it(system: SystemUnderTest) -> None:
    learner = new_learner()
    uln = learner["uln"]
    registering, stranger, guessing, operator_linked = _provider(), _provider(), _provider(), _provider()
    async with await system.client("validation", registering) as client:
        assert (await client.post("/v1/learners", json=_registration(learner))).status_code == 201
    report = {"uln": uln, "qualification_number": GCSE_A_TO_G, "grade": "B"}

    async def answers(provider: str) -> tuple[int, int, str | None]:
        async with await system.client("plr-projector", provider) as client:
            read = await client.get(f"/v1/learners/{uln}/plr")
            reported = await client.post("/v1/centre/achievements", json=report)
        code = read.json().get("code") if read.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE) else None
        return read.status_code, reported.status_code, code

    async def linked(provider: str) -> bool | None:
        return await answers(provider) == (200, 202, None) or None

    assert await eventually(partial(linked, registering), within=30, what="the registering provider's link")
    assert await answers(stranger) == (403, 403, "PROVIDER_NOT_LINKED")
    async with await system.client("plr-projector", stranger) as client:
        unregistered = await client.get(f"/v1/learners/{random_uln()}/plr")
    _assert_problem(unregistered, 403)  # the same answer: a provider cannot probe which ULNs exist
    assert unregistered.json()["code"] == "PROVIDER_NOT_LINKED"

    # a provider not linked to the learner learns nothing of their details by registering them again: the right
    # date of birth and a wrong one get the same answer, and neither links it
    async with await system.client("validation", guessing) as client:
        again = await client.post("/v1/learners", json=_registration(learner))
        guessed = await client.post("/v1/learners", json=_registration(learner, date_of_birth="1990-01-01"))
    for answer in (again, guessed):
        _assert_problem(answer, 409)
        assert answer.json()["code"] == "LEARNER_ALREADY_REGISTERED"
    assert again.json()["detail"] == guessed.json()["detail"]
    async with await system.client("validation", "operator:tests") as operator:
        link = await operator.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": operator_linked.split(":")[1]})
    assert link.status_code == 204, link.text
    assert await eventually(partial(linked, operator_linked), within=30, what="the operator's link")
    assert await answers(guessing) == (403, 403, "PROVIDER_NOT_LINKED")
    assert await answers(stranger) == (403, 403, "PROVIDER_NOT_LINKED")


async def test_no_provider_is_linked_to_an_erased_learner(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    async with await system.client("validation", "operator:dpo") as operator:
        erased = await operator.post(
            f"/v1/admin/learners/{learner['uln']}/erasure", json={"reason": "test learner loaded in error"}
        )
        assert erased.status_code == 201, erased.text
        link = await operator.post(f"/v1/admin/learners/{learner['uln']}/providers", json={"ukprn": "10004567"})
    _assert_problem(link, 410)
