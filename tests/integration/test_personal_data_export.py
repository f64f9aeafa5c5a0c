"""A learner's subject access request (decision 0191), end to end on the running system: validation's
`GET /v1/admin/learners/{uln}/personal-data` answers a merged learner under every ULN of theirs (master first) with
their registered details, sharing, provider links and merge, and an erased learner with what was erased and none of
their details; `lrs learners personal-data` gathers that, their PLR and their challenges into one 0600 JSON file, as
an operator whose key may read all three (a key with the erasure scope alone writes nothing)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import record_outcomes, register, submit_and_wait
from tests.integration.test_cli_against_services import LRS
from tests.support.learners import corrupt_check_digit, json_batch, json_record, new_learner
from tests.support.waiting import eventually

from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo-tests"
PROVIDER = "10004567"
AO = "RN9008"
REASON = "This grade is not the one on my certificate"


async def _scoped_key(system: SystemUnderTest, *scopes: str) -> str:
    pool = await create_pool(system.database_url, max_size=1)
    try:
        principal = Principal.parse(OPERATOR, frozenset(scopes))
        return (await CredentialStore(pool).issue(principal, label="tests")).token
    finally:
        await pool.close()


async def _lrs(system: SystemUnderTest, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LRS_API_KEY": key,
        **{
            f"LRS_{name.upper().replace('-', '_')}_URL": system.url(name)
            for name in ("ingest", "validation", "plr-projector", "challenges", "notifier", "reporting")
        },
    }
    return await asyncio.to_thread(
        subprocess.run, [LRS, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


async def _personal_data(system: SystemUnderTest, uln: str, principal: str = OPERATOR) -> httpx.Response:
    async with await system.client("validation", principal) as client:
        return await client.get(f"/v1/admin/learners/{uln}/personal-data")


async def _raise_challenge(system: SystemUnderTest, uln: str, achievement_id: str) -> str:
    async with await system.client("challenges", f"learner:{uln}") as client:

        async def answered() -> httpx.Response | None:
            response = await client.post("/v1/challenges", json={"achievement_id": achievement_id, "reason": REASON})
            return None if response.status_code == 503 else response

        created = await eventually(answered, within=60, what="the challenge raised")
    assert created.status_code == 201, created.text
    return str(created.json()["challenge_id"])


@pytest.fixture(scope="module")
async def merged(system: SystemUnderTest) -> dict[str, Any]:
    """A learner registered by a provider (so linked to it), with a second ULN an operator's file registered and
    merged into the first, an achievement and a challenge raised on it."""
    master = new_learner()
    # the same person under a second ULN: a file naming other details would end the provider's link (decision 0121)
    other = new_learner(**{field: master[field] for field in ("given_name", "family_name", "date_of_birth")})
    async with await system.client("validation", f"provider:{PROVIDER}") as client:
        registered = await client.post(
            "/v1/learners",
            json={
                "uln": master["uln"],
                "given_name": master["given_name"],
                "family_name": master["family_name"],
                "date_of_birth": master["date_of_birth"],
                "gender": 2,
            },
        )
    assert registered.status_code == 201, registered.text
    await register(system, [other])
    async with await system.client("validation", OPERATOR) as client:
        merge = await client.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": other["uln"]})
        assert merge.status_code == 204, merge.text
        shared = await client.post(f"/v1/learners/{master['uln']}/sharing", json={"ability_to_share": 1})
        assert shared.status_code == 204, shared.text
    view = await submit_and_wait(system, AO, json_batch(AO, [json_record(master, "100/5001/2", "C")]))
    assert (view["status"], view["counts"]["accepted"]) == ("completed", 1), view
    [outcome] = await record_outcomes(system, AO, view["batch_id"])
    achievement_id = str(outcome["achievement_id"])
    challenge_id = await _raise_challenge(system, master["uln"], achievement_id)
    return {"master": master, "other": other, "achievement_id": achievement_id, "challenge_id": challenge_id}


async def test_a_merged_learner_is_answered_under_every_uln_master_first(
    system: SystemUnderTest, merged: dict[str, Any]
) -> None:
    master, other = merged["master"], merged["other"]

    answer = await _personal_data(system, other["uln"])

    assert answer.status_code == 200, answer.text
    held = answer.json()
    assert (held["uln"], held["ulns"], held["erased"]) == (other["uln"], [master["uln"], other["uln"]], False)
    assert [
        (row["uln"], row["given_name"], row["family_name"], row["date_of_birth"], row["merged_into"])
        for row in held["registered_details"]
    ] == [
        (master["uln"], master["given_name"], master["family_name"], master["date_of_birth"], None),
        (other["uln"], other["given_name"], other["family_name"], other["date_of_birth"], master["uln"]),
    ]
    assert held["registered_details"][0]["gender"] == 2
    assert held["ability_to_share"] == 1
    assert [
        (change["uln"], change["ability_to_share"], change["changed_by"]) for change in held["sharing_changes"]
    ] == [(master["uln"], 1, OPERATOR)]
    assert [(link["uln"], link["ukprn"], link["linked_by"]) for link in held["providers"]] == [
        (master["uln"], PROVIDER, f"provider:{PROVIDER}")
    ]
    assert held["merges"] == [{"merged_uln": other["uln"], "master_uln": master["uln"]}]
    assert (held["erasures"], held["what_was_erased"]) == ([], None)


async def test_it_is_refused_to_anyone_but_an_operator_and_for_a_uln_never_held_or_mistyped(
    system: SystemUnderTest, merged: dict[str, Any]
) -> None:
    uln = merged["master"]["uln"]
    for principal in (f"ao:{AO}", f"learner:{uln}", f"provider:{PROVIDER}"):
        refused = await _personal_data(system, uln, principal)
        assert refused.status_code == 403, refused.text
        assert merged["master"]["family_name"] not in refused.text
    async with httpx.AsyncClient(
        base_url=system.url("validation"),
        headers={"Authorization": f"Bearer {await _scoped_key(system, 'support')}"},
    ) as client:
        unscoped = await client.get(f"/v1/admin/learners/{uln}/personal-data")
    assert (unscoped.status_code, unscoped.json()["code"]) == (403, "OPERATOR_SCOPE_MISSING")

    never = await _personal_data(system, new_learner()["uln"])
    assert (never.status_code, never.json()["code"]) == (404, "LEARNER_NOT_REGISTERED")
    mistyped = await _personal_data(system, corrupt_check_digit(uln))
    assert (mistyped.status_code, mistyped.json()["code"]) == (422, "RV002")


async def test_an_erased_learner_is_answered_with_what_was_erased_and_none_of_their_details(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learner = new_learner(given_name="Quenivere", family_name="Zdravkowitzka")
    await register(system, [learner])
    async with await system.client("validation", OPERATOR) as client:
        erasure = await client.post(
            f"/v1/admin/learners/{learner['uln']}/erasure", json={"reason": "asked by the learner"}
        )
    assert erasure.status_code == 201, erasure.text

    answer = await _personal_data(system, learner["uln"])

    assert answer.status_code == 200, answer.text
    held = answer.json()
    assert (held["erased"], held["ability_to_share"]) == (True, None)
    assert held["erased_at"] == held["erasures"][0]["erased_at"]
    assert "given name, family name, date of birth and gender" in held["what_was_erased"]
    [row] = held["registered_details"]
    assert (row["given_name"], row["family_name"], row["date_of_birth"], row["gender"]) == (None, None, None, None)
    assert [(erasure["erased_by"], erasure["reason"]) for erasure in held["erasures"]] == [
        (OPERATOR, "asked by the learner")
    ]
    for personal in (learner["given_name"], learner["family_name"], learner["date_of_birth"]):
        assert personal not in answer.text

    target = tmp_path / "erased.json"
    written = await _lrs(
        system, await system.key_for(OPERATOR), "learners", "personal-data", learner["uln"], "--output", str(target)
    )
    assert written.returncode == 0, written.stderr
    assert ", erased to " in written.stdout
    exported = target.read_text()
    assert json.loads(exported)["learner"]["erased"] is True
    for personal in (learner["given_name"], learner["family_name"], learner["date_of_birth"]):
        assert personal not in exported


async def test_the_cli_writes_the_learners_data_into_one_private_json_file(
    system: SystemUnderTest, merged: dict[str, Any], tmp_path: Path
) -> None:
    master, other = merged["master"], merged["other"]
    target = tmp_path / "subject-access.json"
    key = await _scoped_key(system, "erasure", "support")  # a DPO's key: the registry's, the PLR's, the challenges'

    written = await _lrs(system, key, "learners", "personal-data", other["uln"], "--output", str(target))

    assert written.returncode == 0, written.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert written.stdout.startswith(f"wrote the personal data held about learner {other['uln']} and 1 ULN merged")
    assert master["family_name"] not in written.stdout + written.stderr
    document = json.loads(target.read_text())
    assert set(document) == {"learner", "plr", "challenges", "generated_at", "sources", "not_included"}
    assert document["learner"]["ulns"] == [master["uln"], other["uln"]]
    assert document["learner"]["registered_details"][0]["given_name"] == master["given_name"]
    assert [event["id"] for event in document["plr"]["learning_events"]] == [merged["achievement_id"]]
    [challenge] = document["challenges"]
    assert (challenge["challenge_id"], challenge["reason"], challenge["uln"]) == (
        merged["challenge_id"],
        REASON,
        master["uln"],
    )
    assert document["sources"]["challenges"]["service"] == "challenges"
    assert any("lrs.batch.submitted.v1" in item for item in document["not_included"])


async def test_a_key_that_cannot_read_every_source_writes_nothing(
    system: SystemUnderTest, merged: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "subject-access.json"
    key = await _scoped_key(system, "erasure")  # the registry's answer, but not the PLR's (support)

    refused = await _lrs(system, key, "learners", "personal-data", merged["master"]["uln"], "--output", str(target))

    assert refused.returncode == 5  # the key refused
    assert "OPERATOR_SCOPE_MISSING" in refused.stderr and "Nothing was written" in refused.stderr
    assert not target.exists()
