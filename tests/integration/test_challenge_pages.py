"""`GET /v1/challenges` a page at a time: an AO's open challenges however many, in order, each once,
with nothing of another AO's or another learner's on any page (decision 0118)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import challenges_app, random_ao  # noqa: F401 - fixture
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln

pytestmark = pytest.mark.integration

RAISED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def challenges_of(pool: asyncpg.Pool, ao_id: str, states: list[tuple[str, str]]) -> dict[str, str]:
    """A challenge of `ao_id` per (ULN, state), two a minute (pairs raised at the same moment), as raising
    leaves them; their ULNs by their ids, newest first as the list orders them."""
    rows = [
        (uuid.uuid4(), uuid.uuid4(), ao_id, uln, f"reason {n}", state, RAISED_AT + timedelta(minutes=n // 2))
        for n, (uln, state) in enumerate(states)
    ]
    await pool.executemany(
        "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )
    newest_first = sorted(rows, key=lambda row: (-row[6].timestamp(), str(row[0])))
    return {str(row[0]): row[3] for row in newest_first}


async def every_page(client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        response = await client.get("/v1/challenges", params={**params, "after": after or ""}, headers=headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        pages.append([item["challenge_id"] for item in answer["items"]])
        if (after := answer["next"]) is None:
            return pages


async def test_an_aos_open_challenges_come_a_page_at_a_time_each_once_in_order(
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    ao, other_ao = random_ao(), random_ao()
    as_ao = await bearer(pool, f"ao:{ao}")
    learners = [random_uln() for _ in range(3)]
    states = [(learners[n % 3], ("raised", "resolved", "acknowledged", "resolved")[n % 4]) for n in range(23)]
    ours = await challenges_of(pool, ao, states)
    await challenges_of(pool, other_ao, [(learners[0], "raised")] * 5)
    everything = [item for page in await every_page(challenges_app, as_ao, {"limit": 100}) for item in page]
    assert everything == list(ours)

    open_pages = await every_page(challenges_app, as_ao, {"state": ["raised", "acknowledged"], "limit": 5})
    listed = (await challenges_app.get("/v1/challenges", params={"limit": 100}, headers=as_ao)).json()["items"]
    open_ones = [item["challenge_id"] for item in listed if item["state"] != "resolved"]

    assert [len(page) for page in open_pages] == [5, 5, 2]
    assert [item for page in open_pages for item in page] == open_ones
    one_learner = await every_page(challenges_app, as_ao, {"uln": [learners[1]], "limit": 3})
    assert [item for page in one_learner for item in page] == [
        item["challenge_id"] for item in listed if item["uln"] == learners[1]
    ]
    two_learners = await every_page(challenges_app, as_ao, {"uln": learners[:2], "state": "resolved", "limit": 4})
    assert [item for page in two_learners for item in page] == [
        item["challenge_id"] for item in listed if item["uln"] in learners[:2] and item["state"] == "resolved"
    ]


async def test_a_page_position_shows_nobody_more_than_their_own_and_a_made_up_one_is_refused(
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    ao, other_ao = random_ao(), random_ao()
    learner, other_learner = random_uln(), random_uln()
    ours = await challenges_of(pool, ao, [(learner, "raised"), (other_learner, "raised")] * 3)
    theirs = await challenges_of(pool, other_ao, [(learner, "raised")] * 3)
    first = (
        await challenges_app.get("/v1/challenges", params={"limit": 2}, headers=await bearer(pool, f"ao:{ao}"))
    ).json()
    assert first["next"]

    # the same position in another AO's list, and in a learner's, shows only what they may see
    for principal, expected in [
        (f"ao:{other_ao}", theirs),
        (f"learner:{learner}", [c for c, uln in (ours | theirs).items() if uln == learner]),
        (f"learner:{other_learner}", [c for c, uln in ours.items() if uln == other_learner]),
    ]:
        pages = await every_page(challenges_app, await bearer(pool, principal), {"limit": 100})
        seen = {item for page in pages for item in page}
        assert seen == set(expected), principal
        continued = await challenges_app.get(
            "/v1/challenges", params={"after": first["next"]}, headers=await bearer(pool, principal)
        )
        assert set(item["challenge_id"] for item in continued.json()["items"]) <= seen, principal
    # a learner naming another learner's ULN is refused, as other services refuse what is not the caller's
    foreign = await challenges_app.get(
        "/v1/challenges", params={"uln": other_learner}, headers=await bearer(pool, f"learner:{learner}")
    )
    assert foreign.status_code == 403 and "sees only the challenges they raised" in foreign.json()["detail"]

    for made_up in ["yesterday", "MjAyNi0xMi0wMQ", "x" * 201]:
        refused = await challenges_app.get(
            "/v1/challenges", params={"after": made_up}, headers=await bearer(pool, f"ao:{ao}")
        )
        assert refused.status_code == 422, (made_up, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_open_challenges_are_counted_for_each_as_they_would_list_them(
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    ao, other_ao = random_ao(), random_ao()
    learner, other_learner = random_uln(), random_uln()
    states = ["raised", "acknowledged", "resolved", "raised", "resolved"]
    await challenges_of(pool, ao, [(learner, state) for state in states] + [(other_learner, "acknowledged")])
    await challenges_of(pool, other_ao, [(learner, "raised")] * 4)

    async def counts(principal: str, **params: Any) -> dict[str, int]:
        response = await challenges_app.get(
            "/v1/challenges/open-counts", params=params, headers=await bearer(pool, principal)
        )
        assert response.status_code == 200, response.text
        answer: dict[str, int] = response.json()
        return answer

    async def refused_count(principal: str, **params: Any) -> int:
        response = await challenges_app.get(
            "/v1/challenges/open-counts", params=params, headers=await bearer(pool, principal)
        )
        return response.status_code

    assert await counts(f"ao:{ao}") == {"open": 4, "raised": 2, "acknowledged": 2}
    assert await counts(f"ao:{ao}", uln=[learner]) == {"open": 3, "raised": 2, "acknowledged": 1}
    assert await refused_count(f"ao:{ao}", ao_id=other_ao) == 403  # not "none": they are not its to count
    assert await counts(f"learner:{learner}") == {"open": 7, "raised": 6, "acknowledged": 1}
    assert await refused_count(f"learner:{learner}", uln=[other_learner]) == 403
    assert await counts("operator:ops", ao_id=other_ao) == {"open": 4, "raised": 4, "acknowledged": 0}
    refused = await challenges_app.get("/v1/challenges/open-counts", headers=await bearer(pool, "provider:10004567"))
    assert refused.status_code == 403
    some_challenge = next(iter(await challenges_of(pool, ao, [(learner, "raised")])))
    one = await challenges_app.get(f"/v1/challenges/{some_challenge}", headers=await bearer(pool, "provider:10004567"))
    assert (one.status_code, one.json()["detail"]) == (
        403,
        "Challenges are open to learners, awarding organisations and operators: a provider reads none.",
    )
