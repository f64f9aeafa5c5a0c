"""A learner withdraws a challenge they raised by mistake (decision 0194), against real Kafka and PostgreSQL: it ends
resolved `withdrawn`, by the learner, on `lrs.challenge.resolved.v1`; the AO's list shows it so; the AO may not
resolve one as withdrawn; and the achievement may be challenged again at once (no CHALLENGE_ALREADY_OPEN)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import (  # noqa: F401 - the fixture imported
    TopicTail,
    challenges_app,
    on_the_log,
    raise_once_known,
    random_ao,
)
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln
from tests.support.waiting import eventually

from lrs_contracts.challenge import ChallengeResolved
from lrs_contracts.registry import decode

pytestmark = pytest.mark.integration


async def test_a_learner_withdraws_their_challenge_and_may_raise_a_corrected_one(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - the fixture imported
    pool: asyncpg.Pool,
) -> None:
    ao, uln = random_ao(), random_uln()
    learner, as_ao = await bearer(pool, f"learner:{uln}"), await bearer(pool, f"ao:{ao}")
    someone_else = await bearer(pool, f"learner:{random_uln()}")
    achievement_id = await on_the_log(kafka_bootstrap, ao, uln)
    body = {"achievement_id": str(achievement_id), "reason": "I think my grade should be higher: I appeal"}
    async with TopicTail(kafka_bootstrap) as tail:
        raised = await raise_once_known(challenges_app, body, learner)
        assert raised.status_code == 201, raised.text
        challenge_id = raised.json()["challenge_id"]
        withdraw_url = f"/v1/challenges/{challenge_id}/withdraw"
        corrected = {**body, "reason": "The award date is 20 May, not 20 June"}
        blocked = await challenges_app.post("/v1/challenges", json=corrected, headers=learner)
        assert (blocked.status_code, blocked.json()["code"]) == (409, "CHALLENGE_ALREADY_OPEN")

        # the AO answers with resolutions, never withdrawn; another learner finds no such challenge
        as_withdrawn = await challenges_app.post(
            f"/v1/challenges/{challenge_id}/resolve", json={"resolution": "withdrawn"}, headers=as_ao
        )
        assert (as_withdrawn.status_code, as_withdrawn.json()["code"]) == (422, "INVALID_REQUEST"), as_withdrawn.text
        assert "withdrawn only by the learner who raised it" in as_withdrawn.json()["detail"]
        assert (await challenges_app.post(withdraw_url, headers=as_ao)).status_code == 403
        assert (await challenges_app.post(withdraw_url, headers=someone_else)).status_code == 404

        withdrawn = await challenges_app.post(withdraw_url, headers=learner)
        assert withdrawn.status_code == 200, withdrawn.text
        said = withdrawn.json()
        assert (said["state"], said["resolution"], said["resolved_by"], said["note"]) == (
            "resolved",
            "withdrawn",
            "you",
            None,
        )
        again = await challenges_app.post(withdraw_url, headers=learner)
        assert (again.status_code, again.json()["code"], again.json()["state"]) == (
            409,
            "CHALLENGE_NOT_IN_THAT_STATE",
            "resolved",
        )

        listed = await challenges_app.get("/v1/challenges", params={"state": "resolved"}, headers=as_ao)
        [item] = [item for item in listed.json()["items"] if item["challenge_id"] == challenge_id]
        assert (item["state"], item["resolution"], item["resolved_by"]) == ("resolved", "withdrawn", "the learner")

        raised_again = await challenges_app.post("/v1/challenges", json=corrected, headers=learner)
        assert raised_again.status_code == 201, raised_again.text
        assert raised_again.json()["challenge_id"] != challenge_id

        async def resolution_published() -> ChallengeResolved | None:
            for key, value in await tail.poll():
                _, event = decode(value)
                if isinstance(event, ChallengeResolved) and str(event.challenge_id) == challenge_id:
                    assert key == str(achievement_id).encode()
                    return event
            return None

        event = await eventually(resolution_published, within=30, what="the withdrawal on the topic")
        assert (event.resolution, event.note_sealed, event.correcting_batch_id) == ("withdrawn", None, None)
