"""Chained learner merges end to end: A merged into B, then B into C, is one learner with one PLR."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, plr, record_outcomes, register, submit_and_wait
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.projector import (
    LEARNERS,
    Events,
    caught_up,
    create_topics,
    ends_of_records,
    merged,
    new_prefix,
    produce,
    record,
    registered,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"  # NQF, AQA, grades A*..G, U, X


async def _merge(system: SystemUnderTest, master: dict[str, str], merged: dict[str, str]) -> None:
    async with await system.client("validation", "operator:tests") as client:
        response = await client.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
    assert response.status_code == 204, response.text


async def _only_outcome(system: SystemUnderTest, view: dict[str, Any]) -> dict[str, Any]:
    [outcome] = await record_outcomes(system, AQA, view["batch_id"])
    return outcome


async def test_a_chain_of_merges_keeps_one_achievement_whichever_uln_a_record_names(system: SystemUnderTest) -> None:
    a, b, c = new_learner(), new_learner(), new_learner()
    await register(system, [a, b, c])
    created = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(a, GCSE_A_TO_G, "C")]))
    achievement_id = (await _only_outcome(system, created))["achievement_id"]
    assert achievement_id is not None
    await _merge(system, b, a)
    await _merge(system, c, b)

    updated = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(a, GCSE_A_TO_G, "A", action="Update")]))
    outcome = await _only_outcome(system, updated)
    assert (outcome["status"], codes_of(outcome)) == ("accepted", []), outcome
    assert outcome["achievement_id"] == achievement_id

    again = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(c, GCSE_A_TO_G, "A")]))
    outcome = await _only_outcome(system, again)
    assert (outcome["status"], outcome["achievement_id"]) == ("no_op", achievement_id), outcome

    async def merged_plr() -> list[dict[str, Any]] | None:
        view = await plr(system, c["uln"], after_batch=updated["batch_id"])
        merged = sorted(view.get("ulns", [])) == sorted(learner["uln"] for learner in (a, b, c))
        return view["learning_events"] if merged else None

    events = await eventually(merged_plr, what="C's PLR showing the ULNs merged into it")
    assert [(event["id"], event["uln"], event["grade"]) for event in events] == [(achievement_id, a["uln"], "A")]


async def test_the_registry_refuses_a_merge_that_would_make_a_cycle(system: SystemUnderTest) -> None:
    a, b, c, d = (new_learner() for _ in range(4))
    await register(system, [a, b, c, d])
    await _merge(system, b, a)
    await _merge(system, c, b)  # a -> b -> c

    async with await system.client("validation", "operator:tests") as client:
        for master, merged_learner in ((a, c), (b, c), (a, b)):
            response = await client.post(
                f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged_learner["uln"]}
            )
            assert response.status_code == 409, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["title"] == "Merge would make a cycle"
    await _merge(system, a, d)  # into the chain's start: no cycle, accepted


async def test_a_merge_cycle_reads_as_one_plr_with_one_master(fresh_database_url: str, kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    first, second = sorted(uln_for(uuid.uuid4().int % 1_000_000 + offset) for offset in (0, 1))
    records = [
        record(registered(first), first, topic=LEARNERS),
        record(registered(second), second, topic=LEARNERS),
        record(Events().recorded(second), second, sequence=1),
        record(merged(first, second), first, topic=LEARNERS, sequence=2),  # second into first,
        record(merged(second, first), second, topic=LEARNERS, sequence=3),  # then first into second
    ]
    positions = await produce(kafka_bootstrap, prefix, records)
    ends = ends_of_records(records, positions)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        await eventually(partial(caught_up, fresh_database_url, ends), what="both merges projected")
        documents = [(await app.get(f"learner:{uln}", f"/v1/learners/{uln}/plr")).json() for uln in (first, second)]
    assert [(document["master_uln"], document["ulns"]) for document in documents] == [(first, [first, second])] * 2
    assert [[event["uln"] for event in document["learning_events"]] for document in documents] == [[second], [second]]
