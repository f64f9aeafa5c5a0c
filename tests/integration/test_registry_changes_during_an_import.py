"""A change of sharing, a merge or an erasure asked while a learner file is imported (the import holds the registry's
merges lock exclusively for its whole length: 53 s for 800,000 learners) waits for it at most
`REQUEST_LOCK_WAIT_MS`, then answers 503 `LEARNER_IMPORT_UNDER_WAY` with `Retry-After`, its transaction rolled back:
nothing of it is recorded, then or once the import ends, and the same request sent again afterwards goes through.
Before, it waited for the whole import, holding one of validation's 8 database connections (the decider's too), and
the caller met the Ingress's 504 or its own timeout. The import itself is never given up: it waits for the lock as
long as it takes. The import is played by a second connection holding the lock; the waits are read from `pg_locks`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner, random_uln
from tests.support.waiting import eventually

from lrs_contracts.learner import AbilityToShare, LearnerSharingChanged
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import (
    _MERGES_LOCK,
    REQUEST_LOCK_WAIT_MS,
    LearnerImportUnderWayError,
    LearnerRegistry,
    RegistryImport,
)

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops"
SHARES, OPTED_OUT = int(AbilityToShare.SHARES), int(AbilityToShare.UNABLE_TO_SHARE)
# what the test waits for an answer at most: the request's own wait and a margin; without the bound it never comes
ANSWERED_WITHIN = REQUEST_LOCK_WAIT_MS / 1000 + 10


async def _waiting_for_the_merges_lock(connection: asyncpg.Connection) -> int:
    """How many transactions wait for the merges lock (an advisory lock on one bigint key: its high and low halves)."""
    waiting: int = await connection.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
        (_MERGES_LOCK >> 32) & 0xFFFFFFFF,
        _MERGES_LOCK & 0xFFFFFFFF,
    )
    return waiting


async def _holding_the_merges_lock(database_url: str) -> tuple[asyncpg.Connection, asyncpg.transaction.Transaction]:
    """A connection holding the merges lock as a learner file's import holds it, until its transaction ends."""
    holder = await asyncpg.connect(database_url)
    holding = holder.transaction()
    await holding.start()
    await holder.execute("SELECT pg_advisory_xact_lock($1)", _MERGES_LOCK)
    return holder, holding


async def _while_an_import_holds_the_lock(
    system: SystemUnderTest, asking: Callable[[httpx.AsyncClient], Coroutine[Any, Any, httpx.Response]]
) -> tuple[httpx.Response, float, int]:
    """`asking`'s answer while the lock is held, how long it took once it was seen waiting, and how many still waited
    for the lock when it came (the holder still holding it)."""
    holder, holding = await _holding_the_merges_lock(system.database_url)
    try:
        async with await system.client("validation", OPERATOR) as client:
            asked = asyncio.create_task(asking(client))
            await eventually(lambda: _waiting_for_the_merges_lock(holder), within=30, what="the request waiting")
            seen_waiting = time.monotonic()
            answer = await asyncio.wait_for(asked, timeout=ANSWERED_WITHIN)
            took = time.monotonic() - seen_waiting
        return answer, took, await _waiting_for_the_merges_lock(holder)
    finally:
        await holding.rollback()
        await holder.close()


def _given_up(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "10"
    problem = answer.json()
    assert problem["code"] == "LEARNER_IMPORT_UNDER_WAY"
    assert "learner file is being imported" in problem["detail"]
    assert "Send the same request again in 10 seconds." in problem["detail"]


async def _recorded(system: SystemUnderTest, uln: str) -> tuple[int, int, list[int], bool]:
    """The learner's ability to share, how many sharing changes are kept under the ULN, the choices queued to publish
    under it, and whether it is erased."""
    connection = await asyncpg.connect(system.database_url)
    try:
        row = await connection.fetchrow(
            "SELECT ability_to_share, erased_at IS NOT NULL AS erased FROM validation.learners WHERE uln = $1", uln
        )
        changes = await connection.fetchval("SELECT count(*) FROM validation.sharing_changes WHERE uln = $1", uln)
        envelopes = await connection.fetch(
            "SELECT envelope FROM validation.learner_outbox WHERE partition_key = $1 ORDER BY id", uln
        )
    finally:
        await connection.close()
    published = [decode(row["envelope"])[1] for row in envelopes]
    choices = [int(event.ability_to_share) for event in published if isinstance(event, LearnerSharingChanged)]
    return row["ability_to_share"], changes, choices, row["erased"]


async def test_a_change_of_sharing_during_an_import_is_503_within_the_wait_and_nothing_is_recorded(
    system: SystemUnderTest,
) -> None:
    learner = new_learner()
    await register(system, [learner])  # sharing (1)
    uln = learner["uln"]

    async def change(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": OPTED_OUT})

    answer, took, still_waiting = await _while_an_import_holds_the_lock(system, change)

    _given_up(answer)
    assert took < ANSWERED_WITHIN
    assert still_waiting == 0  # its transaction ended: nothing left to commit once the import ends
    assert await _recorded(system, uln) == (SHARES, 0, [], False)

    async with await system.client("validation", OPERATOR) as client:
        again = await change(client)
    assert again.status_code == 204, again.text
    assert await _recorded(system, uln) == (OPTED_OUT, 1, [OPTED_OUT], False)


async def test_a_merge_during_an_import_is_503_and_nothing_is_merged(system: SystemUnderTest) -> None:
    master = new_learner()
    merged = {**master, "uln": random_uln()}  # the same person under another ULN
    await register(system, [master, merged])

    async def merge(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})

    answer, _, still_waiting = await _while_an_import_holds_the_lock(system, merge)

    _given_up(answer)
    assert "nothing was merged." in answer.json()["detail"]
    assert still_waiting == 0
    async with await system.client("validation", OPERATOR) as client:
        assert (await client.get(f"/v1/admin/learners/{master['uln']}/erasure")).json()["erased_with"] == []
        again = await merge(client)
        assert again.status_code == 204, again.text
        assert (await client.get(f"/v1/admin/learners/{master['uln']}/erasure")).json()["erased_with"] == [
            merged["uln"]
        ]


async def test_an_erasure_during_an_import_is_503_and_nothing_is_erased(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    uln = learner["uln"]

    async def erase(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "asked by the learner"})

    answer, _, still_waiting = await _while_an_import_holds_the_lock(system, erase)

    _given_up(answer)
    assert "nothing was erased" in answer.json()["detail"]
    assert still_waiting == 0
    assert (await _recorded(system, uln))[3] is False
    async with await system.client("validation", OPERATOR) as client:
        assert (await client.get("/v1/admin/erasures", params={"uln": uln})).json()["erasures"] == []
        again = await erase(client)
    assert again.status_code == 201, again.text
    assert (await _recorded(system, uln))[3] is True


async def test_the_import_itself_waits_as_long_as_it_takes(fresh_database_url: str) -> None:
    """An import waiting for the lock outlasts a change of sharing that gave up meanwhile (a registry whose requests
    wait 100 ms), and completes once the lock is let go."""
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()), lock_wait_ms=100)
        learner = Learner(random_uln(), "Amelia", "Realperson", date(2004, 3, 2), 2, AbilityToShare.SHARES)
        await store.register_learners([learner], imported_by="operator:ops (learner file)")
        holder, holding = await _holding_the_merges_lock(fresh_database_url)
        try:
            importing = asyncio.create_task(
                store.register_learners([replace(learner, given_name="Amy")], imported_by="operator:ops (learner file)")
            )
            await eventually(lambda: _waiting_for_the_merges_lock(holder), within=30, what="the import waiting")
            with pytest.raises(LearnerImportUnderWayError):
                await asyncio.wait_for(
                    store.change_sharing(learner.uln, AbilityToShare.UNABLE_TO_SHARE, "learner:" + learner.uln),
                    timeout=ANSWERED_WITHIN,
                )
            assert not importing.done()
            assert await _waiting_for_the_merges_lock(holder) == 1  # the import, still waiting
        finally:
            await holding.rollback()
            await holder.close()

        assert await asyncio.wait_for(importing, timeout=30) == RegistryImport(new=0, updated=1, unchanged=0, merged=0)
        assert await store.sharing_changes([learner.uln]) == []
    finally:
        await pool.close()
