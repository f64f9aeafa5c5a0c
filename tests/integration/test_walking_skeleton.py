"""A batch flows end to end: ingest -> Kafka -> validation -> the PLR log -> projector -> PLR API."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import log_events_of, plr, register, submit_and_wait
from tests.support.catalogue import Pick, pick
from tests.support.learners import corrupt_check_digit, json_batch, json_record, new_learner

pytestmark = pytest.mark.integration

VOCATIONAL = "Vocationally-Related Qualification"


def _vocational_pick() -> Pick:
    return pick(qualification_type=VOCATIONAL)


def _batch_of(pick: Pick, learners: list[dict[str, str]], bad_ulns: int) -> dict[str, Any]:
    records = []
    for index, learner in enumerate(learners):
        uln = corrupt_check_digit(learner["uln"]) if index < bad_ulns else learner["uln"]
        records.append(json_record({**learner, "uln": uln}, pick.qualification_number, pick.passing_grade))
    return json_batch(pick.ao_id, records)


async def test_batch_reaches_the_plr_through_the_event_log(system: SystemUnderTest) -> None:
    pick = _vocational_pick()
    learners = [new_learner() for _ in range(20)]
    await register(system, learners)

    view = await submit_and_wait(system, pick.ao_id, _batch_of(pick, learners, bad_ulns=0))

    assert view["status"] == "completed"
    assert view["counts"]["accepted"] == 20
    batch_id = view["batch_id"]
    plr_ids: dict[str, str] = {}
    for learner in learners:
        events = (await plr(system, learner["uln"], after_batch=batch_id))["learning_events"]
        assert len(events) == 1
        assert events[0]["grade"] == pick.passing_grade
        plr_ids[learner["uln"]] = events[0]["id"]

    seen = {payload.key.uln: str(payload.achievement_id) for _, payload in await log_events_of(system, batch_id)}
    assert seen == plr_ids


@pytest.mark.parametrize(("bad", "expected"), [(31, "failed"), (30, "completed")])
async def test_rejection_threshold_is_thirty_percent(system: SystemUnderTest, bad: int, expected: str) -> None:
    pick = _vocational_pick()
    learners = [new_learner() for _ in range(100)]
    await register(system, learners)

    view = await submit_and_wait(system, pick.ao_id, _batch_of(pick, learners, bad_ulns=bad))

    assert view["status"] == expected
    assert view["counts"]["rejected"] == bad
    good_learner = learners[-1]["uln"]
    if expected == "failed":
        assert view["failure_code"] == "RS005"
        assert await log_events_of(system, view["batch_id"]) == []
        for learner in learners:
            assert (await plr(system, learner["uln"]))["learning_events"] == []
    else:
        assert len((await plr(system, good_learner, after_batch=view["batch_id"]))["learning_events"]) == 1
