"""A challenge whose achievement the AO withdraws afterwards still reads `raised`, and says the achievement is
withdrawn now (`achievement_withdrawn`), to the learner as to the AO; a reinstatement undoes it. From the challenges
service's own copy of the PLR log, against real Kafka and PostgreSQL."""

from __future__ import annotations

from functools import partial

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import challenges_app, on_the_log, raise_once_known, random_ao  # noqa: F401
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln
from tests.support.projector import Events, produce, record
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_a_challenge_says_when_its_achievement_is_withdrawn_and_reinstated(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - the fixture imported
    pool: asyncpg.Pool,
) -> None:
    ao, uln = random_ao(), random_uln()
    learner, as_ao = await bearer(pool, f"learner:{uln}"), await bearer(pool, f"ao:{ao}")
    achievement_id = await on_the_log(kafka_bootstrap, ao, uln)
    raised = await raise_once_known(
        challenges_app, {"achievement_id": str(achievement_id), "reason": "Grade should be 8"}, learner
    )
    assert raised.status_code == 201, raised.text
    challenge_id = raised.json()["challenge_id"]
    assert raised.json()["achievement_withdrawn"] is False

    async def withdrawn_said(headers: dict[str, str], withdrawn: bool) -> dict[str, object] | None:
        listed = await challenges_app.get("/v1/challenges", headers=headers)
        one = await challenges_app.get(f"/v1/challenges/{challenge_id}", headers=headers)
        [item] = [item for item in listed.json()["items"] if item["challenge_id"] == challenge_id]
        said = {item["achievement_withdrawn"], one.json()["achievement_withdrawn"]}
        return item if said == {withdrawn} else None

    events = Events(ao_id=ao)
    await produce(kafka_bootstrap, "", [record(events.withdrawn(uln), uln)])
    for headers in (learner, as_ao):
        item = await eventually(partial(withdrawn_said, headers, True), within=60, what="the withdrawal said")
        assert item["state"] == "raised"  # still the AO's to answer

    await produce(kafka_bootstrap, "", [record(events.reinstated(uln), uln)])
    await eventually(partial(withdrawn_said, learner, False), within=60, what="the reinstatement said")
