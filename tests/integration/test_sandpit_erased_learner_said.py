"""In the Sandpit as live (docs/privacy.md, decision 0157): once the Sandpit has copied a learner's erasure, an AO's
Sandpit record for them says the learner was erased only to an AO whose Sandpit holds an achievement of theirs; any
other AO's reads as a record whose details do not match. A Sandpit key costs an AO nothing live, so it must not be
a way to probe ULNs for erasures either."""

from __future__ import annotations

import asyncpg
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, record_outcomes, register, submit_and_wait
from tests.integration.test_sandpit import sandpit, sandpit_inbox, sandpit_knows  # noqa: F401 - the Sandpit's fixtures
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.waiting import eventually

from lrs_domain.rules import details_do_not_match
from validation.personal import ERASED_LEARNER

pytestmark = pytest.mark.integration

AQA, PEARSON = "RN9008", "RN9093"
OPERATOR = "operator:dpo-tests"


async def test_a_sandpit_record_of_an_erased_learner_says_erased_only_to_an_ao_holding_theirs_there(
    system: SystemUnderTest,
    sandpit: SystemUnderTest,  # noqa: F811 - the fixture imported above
) -> None:
    erased, others = new_learner(), [new_learner() for _ in range(3)]
    await register(system, [erased, *others])
    await sandpit_knows(sandpit, [learner["uln"] for learner in (erased, *others)])
    recorded = await submit_and_wait(sandpit, AQA, json_batch(AQA, [json_record(erased, "100/5001/2", "C")]))
    assert recorded["counts"]["accepted"] == 1, recorded
    async with await system.client("validation", OPERATOR) as client:
        erasure = await client.post(f"/v1/admin/learners/{erased['uln']}/erasure", json={"reason": "test learner"})
    assert erasure.status_code == 201, erasure.text
    connection = await asyncpg.connect(sandpit.database_url)
    try:

        async def copied() -> bool:
            erased_at = await connection.fetchval(
                "SELECT erased_at FROM validation.learners WHERE uln = $1", erased["uln"]
            )
            return erased_at is not None

        await eventually(copied, within=60, what="the Sandpit's registry to copy the erasure")
    finally:
        await connection.close()

    said: dict[str, list[tuple[str, str]]] = {}
    for ao_id, qualification, grade, award_date in (
        (AQA, "100/5002/4", "B", "2024-08-22"),
        (PEARSON, "500/0002/0", "Distinction", "2013-07-02"),
    ):
        records = [json_record(learner, qualification, grade, awardDate=award_date) for learner in (*others, erased)]
        view = await submit_and_wait(sandpit, ao_id, json_batch(ao_id, records))
        assert (view["counts"]["accepted"], view["counts"]["rejected"]) == (3, 1), (ao_id, view)
        outcomes = await record_outcomes(sandpit, ao_id, view["batch_id"])
        [rejected] = [outcome for outcome in outcomes if codes_of(outcome)]
        said[ao_id] = [(error["code"], error["message"]) for error in rejected["errors"]]

    assert said == {
        AQA: [("RV004", ERASED_LEARNER)],
        PEARSON: [("RV004", details_do_not_match(erased["uln"]))],
    }
