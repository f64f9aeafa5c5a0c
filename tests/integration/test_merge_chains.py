"""Chained learner merges end to end: A merged into B, then B into C, is one learner with one PLR."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, plr, record_outcomes, register, submit_and_wait
from tests.support.learners import json_batch, json_record, new_learner
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
