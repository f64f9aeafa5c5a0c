"""Issue #9, defect 9: a challenge is checked against the PLR log, never against what the learner sent.

The whole system runs: achievements reach the log through real batches, and the challenges service
learns of them (and of merges) from its own copy of `lrs.plr.events.v1` and `lrs.learner.events.v1`.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import record_outcomes, register, submit_and_wait
from tests.support.learners import json_batch, json_record, new_learner, random_uln
from tests.support.projector import Events, envelope_bytes
from tests.support.waiting import eventually

from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.kafka import make_producer
from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"


async def _achievements(system: SystemUnderTest, records: list[dict[str, Any]]) -> list[str]:
    """Submits the records as one AQA batch and returns their achievement ids, in record order."""
    view = await submit_and_wait(system, AQA, json_batch(AQA, records))
    assert view["counts"]["accepted"] == len(records), view
    outcomes = sorted(await record_outcomes(system, AQA, view["batch_id"]), key=lambda outcome: outcome["line"])
    return [str(outcome["achievement_id"]) for outcome in outcomes]


async def _raise(system: SystemUnderTest, uln: str, achievement_id: str, **body: Any) -> httpx.Response:
    async with await system.client("challenges", f"learner:{uln}") as client:
        return await client.post(
            "/v1/challenges", json={"achievement_id": achievement_id, "reason": "The grade is wrong", **body}
        )


async def _challenged_achievements(system: SystemUnderTest, ao_id: str) -> set[str]:
    async with await system.client("challenges", f"ao:{ao_id}") as client:
        response = await client.get("/v1/challenges", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return {item["achievement_id"] for item in response.json()["items"]}


def _assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    return problem


async def test_a_learner_challenges_only_achievements_on_their_own_plr(system: SystemUnderTest) -> None:
    learner, other = new_learner(), new_learner()
    await register(system, [learner, other])
    own, theirs = await _achievements(
        system, [json_record(learner, GCSE_A_TO_G, "C"), json_record(other, GCSE_A_TO_G, "D")]
    )

    # right after the batch completed: the service waits for its copy of the log instead of refusing
    created = await _raise(system, learner["uln"], own, ao_id=AQA)
    assert created.status_code == 201, created.text
    assert (created.json()["ao_id"], created.json()["uln"]) == (AQA, learner["uln"])

    spammed_ao = f"RN{uuid.uuid4().int % 10**7}"
    someone_elses = _assert_problem(await _raise(system, learner["uln"], theirs, ao_id=AQA), 404)
    made_up = _assert_problem(await _raise(system, learner["uln"], str(uuid.uuid4()), ao_id=spammed_ao), 404)
    assert someone_elses == made_up  # one cannot tell them apart
    assert someone_elses["code"] == "ACHIEVEMENT_NOT_ON_RECORD"

    challenged = await _challenged_achievements(system, AQA)
    assert own in challenged
    assert theirs not in challenged
    assert await _challenged_achievements(system, spammed_ao) == set()


async def test_the_ao_is_the_one_on_the_log_and_naming_another_is_refused(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    [achievement] = await _achievements(system, [json_record(learner, GCSE_A_TO_G, "B")])

    wrong = _assert_problem(await _raise(system, learner["uln"], achievement, ao_id="RN5133"), 422)
    assert wrong["title"] == "Wrong awarding organisation"
    assert wrong["code"] == "ACHIEVEMENT_OF_ANOTHER_AO"
    named = await _raise(system, learner["uln"], achievement, ao_id=AQA)
    assert named.status_code == 201, named.text
    assert named.json()["ao_id"] == AQA


async def test_a_withdrawn_achievement_cannot_be_challenged(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    [achievement] = await _achievements(system, [json_record(learner, GCSE_A_TO_G, "E")])
    [withdrawn] = await _achievements(system, [json_record(learner, GCSE_A_TO_G, "E", action="Withdraw")])
    assert withdrawn == achievement
    # A 404 is answered only once the service has applied the whole log as it was: the withdrawal too.
    _assert_problem(await _raise(system, learner["uln"], str(uuid.uuid4())), 404)

    problem = _assert_problem(await _raise(system, learner["uln"], achievement, ao_id=AQA), 409)
    assert problem["title"] == "Achievement withdrawn"


async def test_a_merged_learner_challenges_achievements_recorded_under_either_uln(system: SystemUnderTest) -> None:
    old, master = new_learner(), new_learner()
    await register(system, [old, master])
    [before_merge] = await _achievements(system, [json_record(old, GCSE_A_TO_G, "C")])
    async with await system.client("validation", "operator:tests") as operator:
        merged = await operator.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": old["uln"]})
    assert merged.status_code == 204, merged.text
    [after_merge] = await _achievements(system, [json_record(old, GCSE_A_TO_G, "A", awardDate="2023-08-24")])

    # the merge reached the challenges service a moment ago at best: it waits for its copy of the log
    by_master = await _raise(system, master["uln"], before_merge, ao_id=AQA)
    by_old_uln = await _raise(system, old["uln"], after_merge, ao_id=AQA)
    assert by_master.status_code == 201, by_master.text
    assert by_old_uln.status_code == 201, by_old_uln.text
    outsider = new_learner()
    _assert_problem(await _raise(system, outsider["uln"], before_merge, ao_id=AQA), 404)


async def test_a_challenge_the_service_cannot_check_yet_answers_503_then_succeeds(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    holder = await asyncpg.connect(system.database_url)
    try:
        # Holds the service's copy of the log still (reads go on, writes wait): the consumer is behind.
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("LOCK TABLE challenges.achievements_on_record IN EXCLUSIVE MODE")
        [achievement] = await _achievements(system, [json_record(learner, GCSE_A_TO_G, "C")])
        pending = await _raise(system, learner["uln"], achievement)
        await transaction.rollback()
    finally:
        await holder.close()
    problem = _assert_problem(pending, 503)
    assert problem["code"] == "PROJECTION_PENDING"
    assert pending.headers["retry-after"] == "1"

    async def accepted() -> httpx.Response | None:
        response = await _raise(system, learner["uln"], achievement)
        return response if response.status_code != 503 else None

    created = await eventually(accepted, within=30, what="the challenge accepted once the service caught up")
    assert created.status_code == 201, created.text


async def test_an_aborted_transaction_at_the_end_of_the_log_does_not_hold_answers_back(
    system: SystemUnderTest,
) -> None:
    # What a decider killed mid-batch leaves: records of a transaction that never commits, then its
    # abort marker, and nothing readable after them on any PLR partition.
    uln = random_uln()
    producer = make_producer(system.kafka_bootstrap, transactional_id=f"tests-aborted-{uuid.uuid4().hex}")
    await producer.start()
    try:
        await producer.begin_transaction()
        for partition in range(PLR_EVENTS.partitions):
            event = envelope_bytes(Events(ao_id=AQA).recorded(uln), sequence=partition)
            await producer.send_and_wait(PLR_EVENTS.name, event, key=uln.encode(), partition=partition)
        await producer.abort_transaction()
    finally:
        await producer.stop()

    _assert_problem(await _raise(system, uln, str(uuid.uuid4())), 404)
