"""Decision 0157 end to end: an AO that holds nothing of a learner cannot tell, by sending deliberately bad records,
that the learner was erased. Ingest seals an erased learner's details under the batch's own key, and validation
judges them as a live learner's: the same findings, codes and messages, as for a live learner whose details the AO
has wrong."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import record_outcomes, register, submit_and_wait
from tests.support.learners import json_batch, json_record, new_learner

from lrs_domain.rules import details_do_not_match
from lrs_platform.database import create_pool
from lrs_platform.keyring import ERASED, KEYRING_KEY_VARIABLE, Keyring, batch_key_name, keyring_key_from

pytestmark = pytest.mark.integration

PEARSON = "RN9093"
PEARSON_DIPLOMA = "500/0002/0"
OPERATOR = "operator:dpo"


def _bad(learner: dict[str, str]) -> list[dict[str, Any]]:
    """Two records for the learner, each with a bad personal detail and a family name that is not theirs."""
    record = json_record(learner, PEARSON_DIPLOMA, "Distinction", awardDate="2013-07-02", familyName="Nobody")
    return [
        {**record, "givenName": None},
        {**record, "dateOfBirth": "2001-13-45", "misIdentifier": f"{record['misIdentifier']}-2"},
    ]


async def _said(system: SystemUnderTest, probed: dict[str, str]) -> tuple[str, list[list[tuple[str, str | None, str]]]]:
    """The batch in which Pearson sent two bad records for `probed`, among five good ones for other learners, and
    what it is told of each record."""
    others = [new_learner() for _ in range(5)]
    await register(system, others)
    good = [json_record(other, PEARSON_DIPLOMA, "Distinction", awardDate="2013-07-02") for other in others]
    view = await submit_and_wait(system, PEARSON, json_batch(PEARSON, [*_bad(probed), *good]))
    assert (view["counts"]["accepted"], view["counts"]["rejected"]) == (5, 2), view
    outcomes = sorted(await record_outcomes(system, PEARSON, view["batch_id"]), key=lambda outcome: outcome["line"])
    return view["batch_id"], [
        [(error["code"], error.get("field"), error["message"]) for error in outcome.get("errors", [])]
        for outcome in outcomes
    ]


async def test_an_erased_learners_bad_records_are_told_what_a_live_learners_with_other_details_are(
    system: SystemUnderTest,
) -> None:
    live, erased = new_learner(), new_learner()
    await register(system, [live, erased])
    async with await system.client("validation", OPERATOR) as client:
        erasure = await client.post(f"/v1/admin/learners/{erased['uln']}/erasure", json={"reason": "test learner"})
    assert erasure.status_code == 201, erasure.text

    _, said_live = await _said(system, live)
    batch_id, said_erased = await _said(system, erased)

    # each bad detail's own finding beside RV004's one message for details that do not match
    for findings in said_live[:2]:
        assert ("RV004", "uln", details_do_not_match(live["uln"])) in findings and len(findings) > 1
    assert said_live[2:] == [[]] * 5
    same_for_the_erased = [
        [
            (
                code,
                field,
                details_do_not_match(erased["uln"]) if message == details_do_not_match(live["uln"]) else message,
            )
            for code, field, message in findings
        ]
        for findings in said_live
    ]
    assert said_erased == same_for_the_erased

    # the batch's own key, issued for the erased learner's details, is destroyed once the batch is decided
    pool = await create_pool(system.database_url, max_size=1)
    try:
        name = batch_key_name(uuid.UUID(batch_id))
        assert await Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE])).find([name]) == {name: ERASED}
    finally:
        await pool.close()
