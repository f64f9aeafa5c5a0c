"""An opt-out sent while the learner's ULN is being merged is kept where every read looks: the end of the merge
chain (decision 0164; DESIGN §5 invariant 6).

`POST /v1/learners/{uln}/sharing` and a merge are sent together, on real PostgreSQL, in the order that lost the
opt-out: the merge first, the opt-out while the merge is under way. A third connection holds the registry row the
merge writes, only to make that order certain: the merge waits on it holding the merges lock, and the opt-out is
sent once the merge waits, and runs until it waits too (on the merges lock, or on the same row); then the row is
let go. Without the merges lock, the opt-out had resolved the end of the chain before the merge committed, and
wrote its choice under a ULN merged by then, which no read applies.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial

import asyncpg
import httpx
import pytest
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner
from tests.support.waiting import eventually

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, KeyringKey
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:support"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Validation's database as it makes it at start; room for the holder, the merge, the opt-out and the probes."""
    created = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=6)
    assert created is not None
    await prepare_validation_database(created)
    yield created
    await created.close()


@pytest.fixture
def registry(pool: asyncpg.Pool) -> LearnerRegistry:
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


def _api(registry: LearnerRegistry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def _registered(registry: LearnerRegistry, count: int) -> list[str]:
    ulns = [new_learner()["uln"] for _ in range(count)]
    await registry.register_learners([Learner(uln, "Bea", "Test", None, 0, 1) for uln in ulns], imported_by=OPERATOR)
    return ulns


async def _waiting_for_locks(pool: asyncpg.Pool, sessions: int) -> bool:
    """Whether at least `sessions` sessions of this database wait for a lock another one holds."""
    waiting: int = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return waiting >= sessions


async def _sharing_queued(pool: asyncpg.Pool) -> list[tuple[str, str, int]]:
    """The sharing changes on the learner outbox: partition key, ULN and choice, in order."""
    rows = await pool.fetch(
        "SELECT partition_key, convert_from(envelope, 'UTF8')::jsonb -> 'data' AS data"
        " FROM validation.learner_outbox ORDER BY id"
    )
    return [
        (row["partition_key"], data["uln"], data["ability_to_share"])
        for row, data in ((row, json.loads(row["data"])) for row in rows)
        if data["event_type"] == "lrs.learner.sharing.changed.v1"
    ]


@pytest.mark.parametrize("merging", ["the uln named", "the end of its chain"])
async def test_an_opt_out_sent_while_the_uln_is_merged_is_kept_at_the_end_of_the_chain(
    pool: asyncpg.Pool, registry: LearnerRegistry, merging: str
) -> None:
    """`the uln named`: the opt-out names M while M is merged into X. `the end of its chain`: M was merged into X
    before, and the opt-out names M while X is merged into Y. Either way the chain ends somewhere else once the
    merge commits, and the opt-out must be kept there."""
    named, master, *more = await _registered(registry, 3 if merging == "the end of its chain" else 2)
    if more:  # M already merged into X; the merge under way is X into Y
        await registry.merge(master, named)
        merged, master = master, more[0]
    else:
        merged = named
    published = len(await _sharing_queued(pool))

    async with _api(registry) as api, pool.acquire() as holder:
        held = holder.transaction()
        await held.start()
        try:
            await holder.execute("SELECT 1 FROM validation.learners WHERE uln = $1 FOR UPDATE", merged)
            merge = asyncio.create_task(api.post(f"/v1/learners/{master}/merge", json={"merged_uln": merged}))
            await eventually(partial(_waiting_for_locks, pool, 1), within=30, what="the merge waiting on the row")
            opt_out = asyncio.create_task(api.post(f"/v1/learners/{named}/sharing", json={"ability_to_share": 2}))
            await eventually(partial(_waiting_for_locks, pool, 2), within=30, what="the opt-out waiting too")
        finally:
            await held.rollback()  # the merge goes on first, then the opt-out
        merged_answer, opt_out_answer = await asyncio.gather(merge, opt_out)
        read = await api.get(f"/v1/learners/{named}/sharing")

    assert merged_answer.status_code == 204, merged_answer.text
    assert opt_out_answer.status_code == 204, opt_out_answer.text
    end = await pool.fetchrow("SELECT ability_to_share, master_uln FROM validation.learners WHERE uln = $1", master)
    assert end is not None and (end["ability_to_share"], end["master_uln"]) == (2, None)  # the end of the chain
    assert read.status_code == 200, read.text
    assert read.json()["ability_to_share"] == 2  # as every read takes it
    changes = await pool.fetch("SELECT uln, changed_by FROM validation.sharing_changes WHERE ability_to_share = 2")
    assert [(row["uln"], row["changed_by"]) for row in changes] == [(master, OPERATOR)]
    # published under the ULN it was kept under, keyed as the merge is: readers of the log apply it there
    assert (await _sharing_queued(pool))[published:] == [(master, master, 2)]


async def test_an_opt_out_that_goes_before_a_merge_is_kept_by_the_merge(
    pool: asyncpg.Pool, registry: LearnerRegistry
) -> None:
    """The other order: the opt-out holds the merges lock shared and waits on the row, the merge waits for the
    lock; the opt-out lands under M, and the merge then keeps it at X (decision 0164). Nobody deadlocks."""
    merged, master = await _registered(registry, 2)

    async with _api(registry) as api, pool.acquire() as holder:
        held = holder.transaction()
        await held.start()
        try:
            await holder.execute("SELECT 1 FROM validation.learners WHERE uln = $1 FOR UPDATE", merged)
            opt_out = asyncio.create_task(api.post(f"/v1/learners/{merged}/sharing", json={"ability_to_share": 2}))
            await eventually(partial(_waiting_for_locks, pool, 1), within=30, what="the opt-out waiting on the row")
            merge = asyncio.create_task(api.post(f"/v1/learners/{master}/merge", json={"merged_uln": merged}))
            await eventually(partial(_waiting_for_locks, pool, 2), within=30, what="the merge waiting too")
        finally:
            await held.rollback()
        opt_out_answer, merged_answer = await asyncio.gather(opt_out, merge)
        read = await api.get(f"/v1/learners/{merged}/sharing")

    assert opt_out_answer.status_code == 204, opt_out_answer.text
    assert merged_answer.status_code == 204, merged_answer.text
    changes = await pool.fetch("SELECT uln, changed_by FROM validation.sharing_changes ORDER BY change_id")
    assert [(row["uln"], row["changed_by"]) for row in changes] == [(merged, OPERATOR), (master, f"merge of {merged}")]
    assert read.json()["ability_to_share"] == 2
