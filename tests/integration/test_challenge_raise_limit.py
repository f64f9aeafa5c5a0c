"""How often an achievement may be challenged, and which key answered a challenge, against real Kafka and PostgreSQL.

A learner raising and withdrawing the same achievement in a loop sent the AO's challenge contact two emails a turn and
added one a turn to the AO's MI count of challenges raised (walk report "challenges", finding 1): now a raise beyond
3 raises of one achievement within 24 hours is refused 429 `CHALLENGE_RAISED_TOO_OFTEN` (problem+json, nothing
written), `Retry-After` the seconds until the oldest of those raises is 24 hours old. The raises are counted under the
achievement's lock, in the raise's transaction: raises sent at once are counted one after another.

A challenge keeps the API key (its id) that acknowledged and that resolved or withdrew it beside the principal, as a
batch keeps `submitted_with_key` (finding 2): operators read it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import (  # noqa: F401 - the fixture imported
    challenges_app,
    on_the_log,
    raise_once_known,
    random_ao,
)
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln
from tests.support.projector import LEARNERS, Events, merged, produce, record
from tests.support.waiting import eventually

from lrs_platform.credential_store import key_id_of

pytestmark = pytest.mark.integration

DAY = 24 * 3600


def _key_of(headers: dict[str, str]) -> str | None:
    return key_id_of(headers["Authorization"].removeprefix("Bearer "))


async def _raised_count(pool: asyncpg.Pool, achievement_id: uuid.UUID) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM challenges.challenges WHERE achievement_id = $1", achievement_id
    )
    return count


async def test_a_fourth_raise_of_an_achievement_in_a_day_is_refused_until_the_oldest_is_a_day_old(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - the fixture imported
    pool: asyncpg.Pool,
) -> None:
    ao, uln = random_ao(), random_uln()
    learner = await bearer(pool, f"learner:{uln}")
    achievement_id = await on_the_log(kafka_bootstrap, ao, uln)
    body = {"achievement_id": str(achievement_id), "reason": "The grade is wrong"}

    raised_ids = []
    for turn in range(3):  # raise and withdraw, three times: each taken
        raised = await raise_once_known(challenges_app, {**body, "reason": f"turn {turn}"}, learner)
        assert raised.status_code == 201, raised.text
        raised_ids.append(uuid.UUID(raised.json()["challenge_id"]))
        withdrawn = await challenges_app.post(f"/v1/challenges/{raised_ids[-1]}/withdraw", headers=learner)
        assert withdrawn.status_code == 200, withdrawn.text

    refused = await challenges_app.post("/v1/challenges", json=body, headers=learner)

    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert (problem["status"], problem["code"]) == (429, "CHALLENGE_RAISED_TOO_OFTEN")
    oldest = await pool.fetchval("SELECT raised_at FROM challenges.challenges WHERE challenge_id = $1", raised_ids[0])
    expected = (oldest + timedelta(seconds=DAY) - datetime.now(UTC)).total_seconds()
    retry_after = int(refused.headers["Retry-After"])
    assert expected - 5 <= retry_after <= expected + 5
    assert problem["retry_after"] == retry_after
    assert await _raised_count(pool, achievement_id) == 3  # nothing written

    # several at once, 3 raises already stored: each is refused (one learner's raises take its lock one at a time;
    # the achievement's lock is what two ULNs of one learner need: the merged learner's test below)
    at_once = await asyncio.gather(
        *(challenges_app.post("/v1/challenges", json=body, headers=learner) for _ in range(5))
    )
    assert [answer.status_code for answer in at_once] == [429] * 5
    assert await _raised_count(pool, achievement_id) == 3

    # the oldest raise leaves the window: one more is taken, and the next waits for the second oldest
    await pool.execute(
        "UPDATE challenges.challenges SET raised_at = raised_at - interval '24 hours' WHERE challenge_id = $1",
        raised_ids[0],
    )
    again = await challenges_app.post("/v1/challenges", json=body, headers=learner)
    assert again.status_code == 201, again.text
    withdrawn = await challenges_app.post(f"/v1/challenges/{again.json()['challenge_id']}/withdraw", headers=learner)
    assert withdrawn.status_code == 200, withdrawn.text
    second = await pool.fetchval("SELECT raised_at FROM challenges.challenges WHERE challenge_id = $1", raised_ids[1])
    refused_again = await challenges_app.post("/v1/challenges", json=body, headers=learner)
    assert refused_again.status_code == 429, refused_again.text
    expected = (second + timedelta(seconds=DAY) - datetime.now(UTC)).total_seconds()
    assert expected - 5 <= int(refused_again.headers["Retry-After"]) <= expected + 5


async def test_parallel_raises_and_withdrawals_never_pass_the_limit(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - the fixture imported
    pool: asyncpg.Pool,
) -> None:
    """Raises and withdrawals sent at once, turn after turn: whatever order they land in, at most 3 raises are taken."""
    ao, uln = random_ao(), random_uln()
    learner = await bearer(pool, f"learner:{uln}")
    achievement_id = await on_the_log(kafka_bootstrap, ao, uln)
    body = {"achievement_id": str(achievement_id), "reason": "The grade is wrong"}
    first = await raise_once_known(challenges_app, body, learner)
    assert first.status_code == 201, first.text

    for _ in range(6):
        open_ids = await pool.fetch(
            "SELECT challenge_id FROM challenges.challenges WHERE achievement_id = $1 AND state <> 'resolved'",
            achievement_id,
        )
        answers = await asyncio.gather(
            *(
                challenges_app.post(f"/v1/challenges/{row['challenge_id']}/withdraw", headers=learner)
                for row in open_ids
            ),
            *(challenges_app.post("/v1/challenges", json=body, headers=learner) for _ in range(3)),
        )
        assert {answer.status_code for answer in answers} <= {200, 201, 409, 429}

    assert await _raised_count(pool, achievement_id) == 3


# The raises blocked at their outbox row (the outbox locked) or at the achievement's lock, as pg_stat_activity says.
_RAISES_WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    " AND (query LIKE 'INSERT INTO challenges.outbox%' OR query LIKE '%hashtext(''challenges.achievement|''%')"
)


async def test_two_ulns_of_one_merged_learner_raising_at_once_are_counted_one_after_the_other(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - the fixture imported
    pool: asyncpg.Pool,
) -> None:
    """The case the achievement's lock is for (review1, finding 5): the master and the merged ULN take different
    learner locks, so only the achievement's lock puts one raise after the other. 2 raises in the window, two more
    at once, each held in its transaction (the outbox locked) until both are in it: one is taken, and the other
    finds it open (409). Without the lock both passed the checks before either was stored: 201 twice, 4 raises."""
    ao, master, merged_uln = random_ao(), random_uln(), random_uln()
    events = Events(ao_id=ao)
    await produce(
        kafka_bootstrap,
        "",
        [record(merged(master, merged_uln), master, topic=LEARNERS), record(events.recorded(merged_uln), merged_uln)],
    )
    achievement_id = events.achievement_id(merged_uln)
    body = {"achievement_id": str(achievement_id), "reason": "The grade is wrong"}
    as_merged, as_master = await bearer(pool, f"learner:{merged_uln}"), await bearer(pool, f"learner:{master}")
    for headers in (as_merged, as_master):  # two raises, withdrawn, in the window; the merge known to the service
        raised = await raise_once_known(challenges_app, body, headers)
        assert raised.status_code == 201, raised.text
        withdrawn = await challenges_app.post(
            f"/v1/challenges/{raised.json()['challenge_id']}/withdraw", headers=headers
        )
        assert withdrawn.status_code == 200, withdrawn.text

    async with pool.acquire() as holder:
        hold = holder.transaction()
        await hold.start()
        try:
            await holder.execute("LOCK TABLE challenges.outbox IN EXCLUSIVE MODE")  # reads go on; no row is written
            at_once = [
                asyncio.create_task(challenges_app.post("/v1/challenges", json=body, headers=headers))
                for headers in (as_merged, as_master)
            ]

            async def both_in_their_transactions() -> bool:
                return bool(await pool.fetchval(_RAISES_WAITING) == 2)

            await eventually(both_in_their_transactions, within=30, what="both raises waiting in their transactions")
        finally:
            await hold.rollback()
        answers = await asyncio.gather(*at_once)

    codes = sorted(answer.status_code for answer in answers)
    assert codes[0] == 201 and codes[1] in (409, 429), [answer.text for answer in answers]
    assert await _raised_count(pool, achievement_id) == 3


async def test_operators_read_the_key_that_acknowledged_and_the_key_that_resolved(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - the fixture imported
    pool: asyncpg.Pool,
) -> None:
    ao, uln = random_ao(), random_uln()
    learner, as_ao = await bearer(pool, f"learner:{uln}"), await bearer(pool, f"ao:{ao}")
    operator = await bearer(pool, "operator:desk")
    achievement_id = await on_the_log(kafka_bootstrap, ao, uln)
    raised = await raise_once_known(
        challenges_app, {"achievement_id": str(achievement_id), "reason": "The grade is wrong"}, learner
    )
    assert raised.status_code == 201, raised.text
    challenge_id = raised.json()["challenge_id"]

    acknowledged = await challenges_app.post(f"/v1/challenges/{challenge_id}/acknowledge", headers=as_ao)
    assert acknowledged.status_code == 200, acknowledged.text
    resolved = await challenges_app.post(
        f"/v1/challenges/{challenge_id}/resolve",
        json={"resolution": "rejected", "note": "This is an appeal: contact the awarding organisation."},
        headers=operator,
    )
    assert resolved.status_code == 200, resolved.text

    row = await pool.fetchrow(
        "SELECT acknowledged_by, acknowledged_with_key, resolved_by, resolved_with_key FROM challenges.challenges"
        " WHERE challenge_id = $1",
        uuid.UUID(challenge_id),
    )
    assert dict(row) == {
        "acknowledged_by": f"ao:{ao}",
        "acknowledged_with_key": _key_of(as_ao),
        "resolved_by": "operator:desk",
        "resolved_with_key": _key_of(operator),
    }

    def keys(answer: httpx.Response) -> tuple[str | None, str | None]:
        said = answer.json()
        return (said["acknowledged_with_key"], said["resolved_with_key"])

    url = f"/v1/challenges/{challenge_id}"
    assert keys(await challenges_app.get(url, headers=operator)) == (_key_of(as_ao), _key_of(operator))
    assert keys(await challenges_app.get(url, headers=as_ao)) == (_key_of(as_ao), None)  # its own key only
    assert keys(await challenges_app.get(url, headers=learner)) == (None, None)
