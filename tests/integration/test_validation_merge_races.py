"""Erasures and merges of learners take turns, on real PostgreSQL: an erasure erases every ULN merged with
the learner even when the merge was under way, two erasures of one merged learner never deadlock, and two
merges at once never make the cycle each alone would have been refused.

Each race is played in its worst order, not retried: one side is held on an event inside its transaction,
at the point where it has read what the other is about to change, while the other side runs as far as it
can; then the held side goes on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import asyncpg
import httpx
import pytest
from tests.support.learners import new_learner
from tests.support.waiting import eventually

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import ERASED, KEYRING_KEY_VARIABLE, Keyring, keyring_key_from, migrate
from validation.api import router
from validation.learner_registry import EndedByMerge, ErasedLearnerError, Erasure, LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo"


@dataclass
class Hold:
    """Where a call waits: `reached` is set when it gets there, and it goes on once `release` is set."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_here(self) -> None:
        self.reached.set()
        await self.release.wait()


class _HeldAfterErasedCheck:
    """A merge's connection that holds the merge once it has read whether the two learners were erased."""

    def __init__(self, connection: asyncpg.Connection, hold: Hold) -> None:
        self._connection = connection
        self._hold = hold

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._connection.fetch(query, *args)
        if "erased_at" in query:
            await self._hold.wait_here()
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class HeldRegistry(LearnerRegistry):
    """The registry, whose next merge (`hold_merge`) or erasure (`hold_erasure`) waits on a `Hold`."""

    hold_merge: Hold | None = None
    hold_erasure: Hold | None = None
    hold_keys: Hold | None = None

    async def _keys_of(self, ulns: Any) -> Any:
        """Held once an import has the learners' keys (none erased yet), before its transaction."""
        keys = await super()._keys_of(ulns)
        hold, self.hold_keys = self.hold_keys, None
        if hold is not None:
            await hold.wait_here()
        return keys

    async def _merge(
        self, connection: asyncpg.Connection, master_uln: str, merged_uln: str, **options: Any
    ) -> EndedByMerge:
        hold, self.hold_merge = self.hold_merge, None
        if hold is not None:
            connection = cast(asyncpg.Connection, _HeldAfterErasedCheck(connection, hold))
        return await super()._merge(connection, master_uln, merged_uln, **options)

    async def _erase_one(self, connection: asyncpg.Connection, erasure: Erasure) -> bool:
        """Held once the ULN named is erased, before the learner's other ULNs are looked for."""
        erased = await super()._erase_one(connection, erasure)
        hold, self.hold_erasure = self.hold_erasure, None
        if hold is not None:
            await hold.wait_here()
        return erased


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Validation's database as it makes it at start: the registry's schema and the learner key store."""
    created = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=6)
    assert created is not None
    async with created.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(created)
    yield created
    await created.close()


def _keyring(pool: asyncpg.Pool) -> Keyring:
    return Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE]))


@pytest.fixture
def registry(pool: asyncpg.Pool) -> HeldRegistry:
    return HeldRegistry(pool, _keyring(pool))


async def _registered(registry: LearnerRegistry, count: int) -> list[str]:
    learners = [new_learner() for _ in range(count)]
    await registry.register_learners([_learner(learner["uln"]) for learner in learners], imported_by="operator:test")
    return [learner["uln"] for learner in learners]


def _learner(uln: str, master_uln: str | None = None) -> Learner:
    return Learner(uln, "Bea", "Test", None, 0, 1, master_uln)


async def _merge(registry: LearnerRegistry, master: str, merged: str, merged_by: str) -> None:
    """`merged` merged into `master` by an operator's merge, or by a learner file that says so."""
    if merged_by == "merge":
        await registry.merge(master, merged)
    else:
        await registry.register_learners([_learner(merged, master_uln=master)], imported_by="operator:test")


async def _waiting_or_done(pool: asyncpg.Pool, task: asyncio.Task[Any]) -> bool:
    """Whether `task` has finished, or its database session waits for a lock another one holds."""
    if task.done():
        return True
    waiting: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock')"
    )
    return waiting


async def _run_while_held(pool: asyncpg.Pool, hold: Hold, held: asyncio.Task[Any], other: Any) -> list[Any]:
    """Runs `other` once `held` has reached its hold, and as far as it goes (to its end, or to a lock it
    waits for); then lets `held` go on. The outcomes of both, an exception for one that raised."""
    await asyncio.wait_for(hold.reached.wait(), timeout=30)
    running = asyncio.ensure_future(other)
    await eventually(partial(_waiting_or_done, pool, running), within=30, what="the other call waiting or done")
    hold.release.set()
    return list(await asyncio.gather(held, running, return_exceptions=True))


async def _assert_erased(pool: asyncpg.Pool, ulns: list[str], reason: str) -> None:
    rows = await pool.fetch(
        "SELECT uln, given_name, erased_at IS NOT NULL AS erased FROM validation.learners WHERE uln = ANY($1::text[])",
        ulns,
    )
    assert {row["uln"]: (row["given_name"], row["erased"]) for row in rows} == dict.fromkeys(ulns, (None, True))
    audit = await pool.fetch("SELECT uln, reason FROM validation.erasures WHERE uln = ANY($1::text[])", ulns)
    assert sorted((row["uln"], row["reason"]) for row in audit) == sorted((uln, reason) for uln in ulns)
    assert await _keyring(pool).find(ulns) == dict.fromkeys(ulns, ERASED)


@pytest.mark.parametrize("merged_by", ["merge", "import"])
@pytest.mark.parametrize("erased", ["master", "merged"])
async def test_an_erasure_during_a_merge_erases_both_ulns(
    pool: asyncpg.Pool, registry: HeldRegistry, merged_by: str, erased: str
) -> None:
    master, merged = await _registered(registry, 2)
    hold = registry.hold_merge = Hold()
    merging = asyncio.create_task(_merge(registry, master, merged, merged_by))

    named = master if erased == "master" else merged
    merge_outcome, erasure_outcome = await _run_while_held(
        pool, hold, merging, registry.erase(named, OPERATOR, "a test learner")
    )

    assert not isinstance(merge_outcome, BaseException), merge_outcome  # the merge went first
    erasure, erased_now = erasure_outcome
    assert (erasure.uln, erased_now) == (named, True)
    await _assert_erased(pool, [master, merged], "a test learner")


async def test_two_erasures_of_one_merged_learner_at_once_take_turns(
    pool: asyncpg.Pool, registry: HeldRegistry
) -> None:
    master, merged = await _registered(registry, 2)
    await registry.merge(master, merged)
    hold = registry.hold_erasure = Hold()
    first = asyncio.create_task(registry.erase(master, OPERATOR, "first"))

    first_outcome, second_outcome = await _run_while_held(pool, hold, first, registry.erase(merged, OPERATOR, "second"))

    assert not isinstance(first_outcome, BaseException), first_outcome
    assert not isinstance(second_outcome, BaseException), second_outcome
    (first_erasure, first_erased_now), (second_erasure, second_erased_now) = first_outcome, second_outcome
    assert (first_erased_now, second_erased_now) == (True, False)
    # the second reports the first's erasure of the ULN it named
    assert (second_erasure.uln, second_erasure.reason, second_erasure.erased_at) == (
        merged,
        "first",
        first_erasure.erased_at,
    )
    await _assert_erased(pool, [master, merged], "first")


def _api(registry: LearnerRegistry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def test_two_merges_the_other_way_round_at_once_make_no_cycle(pool: asyncpg.Pool, registry: HeldRegistry) -> None:
    a, b = await _registered(registry, 2)
    hold = registry.hold_merge = Hold()
    async with _api(registry) as api:
        b_into_a = asyncio.create_task(api.post(f"/v1/learners/{a}/merge", json={"merged_uln": b}))
        first, second = await _run_while_held(
            pool, hold, b_into_a, api.post(f"/v1/learners/{b}/merge", json={"merged_uln": a})
        )

    assert first.status_code == 204, first.text
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert (second.json()["title"], second.json()["detail"]) == (
        "Merge would make a cycle",
        "The master ULN is already merged, directly or through other ULNs, into the ULN to merge: both"
        " already belong to one learner, whose records land on the end of that chain.",
    )
    masters = await pool.fetch("SELECT uln, master_uln FROM validation.learners WHERE uln = ANY($1::text[])", [a, b])
    assert {row["uln"]: row["master_uln"] for row in masters} == {a: None, b: a}


@pytest.mark.parametrize("merged_by", ["merge", "import"])
async def test_a_uln_is_merged_once_and_merging_it_again_into_its_master_publishes_nothing(
    pool: asyncpg.Pool, registry: HeldRegistry, merged_by: str
) -> None:
    """Two merges of one ULN travel under their masters' keys, on two partitions, and readers could apply them in
    either order (decision 0158): the second master is refused, the same one is nothing new."""
    a, b, c = await _registered(registry, 3)
    await _merge(registry, a, b, merged_by)
    published = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")

    await _merge(registry, a, b, merged_by)
    async with _api(registry) as api:
        again = await api.post(f"/v1/learners/{c}/merge", json={"merged_uln": b})

    assert again.status_code == 409, again.text
    assert again.json()["code"] == "LEARNER_MERGED_ALREADY"
    assert f"******{b[-4:]} is merged into ******{a[-4:]} already" in again.json()["detail"]
    masters = await pool.fetch("SELECT uln, master_uln FROM validation.learners WHERE uln = ANY($1::text[])", [a, b, c])
    assert {row["uln"]: row["master_uln"] for row in masters} == {a: None, b: a, c: None}
    assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox") == published


async def test_an_import_whose_learner_is_erased_while_it_runs_is_refused_whole(
    pool: asyncpg.Pool, registry: HeldRegistry
) -> None:
    """Not counted "unchanged" (201): the erasure that committed meanwhile left the row as it was."""
    [uln] = await _registered(registry, 1)
    hold = registry.hold_keys = Hold()
    changed = Learner(uln, "Bea", "Renamed", None, 0, 1, None)
    importing = asyncio.create_task(registry.register_learners([changed], imported_by="operator:test"))

    outcomes = await _run_while_held(pool, hold, importing, registry.erase(uln, OPERATOR, "the learner asked"))

    assert isinstance(outcomes[0], ErasedLearnerError), outcomes
    assert await pool.fetchval("SELECT erased_at IS NOT NULL FROM validation.learners WHERE uln = $1", uln)


async def test_a_learner_file_whose_learners_name_each_other_as_master_is_refused_whole(
    pool: asyncpg.Pool, registry: HeldRegistry
) -> None:
    """The cycle the API's merge refuses, refused in a file too: neither merge is kept, nothing registered."""
    a, b = await _registered(registry, 2)
    published = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
    rows = "".join(f"{uln},Bea,Test,,0,1,{master}\n" for uln, master in ((a, b), (b, a)))
    async with _api(registry) as api:
        refused = await api.post(
            "/v1/learners/import",
            content=f"ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n{rows}",
            headers={"Content-Type": "text/csv"},
        )

    assert refused.status_code == 409, refused.text
    assert refused.json()["title"] == "Merge would make a cycle"
    assert refused.json()["detail"].endswith("Nothing in the file was registered.")
    masters = await pool.fetch("SELECT uln, master_uln FROM validation.learners WHERE uln = ANY($1::text[])", [a, b])
    assert {row["uln"]: row["master_uln"] for row in masters} == {a: None, b: None}
    assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox") == published


async def test_a_learner_file_that_only_merges_says_it_merged_rather_than_nothing_changed(
    pool: asyncpg.Pool, registry: HeldRegistry
) -> None:
    """A row with the details held and a new MasterULN changes no details, but the merge is made and published."""
    master, merged = await _registered(registry, 2)
    async with _api(registry) as api:
        answered = await api.post(
            "/v1/learners/import",
            content=f"ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n{merged},Bea,Test,,0,1,"
            f"{master}\n",
            headers={"Content-Type": "text/csv"},
        )

    assert answered.status_code == 201, answered.text
    assert answered.json() == {
        "registered": 0,
        "updated": 0,
        "unchanged": 1,
        "merged": 1,
        "provider_links_ended": 0,
        "sharing_choices_reset": 0,
    }
    row = await pool.fetchrow("SELECT master_uln FROM validation.learners WHERE uln = $1", merged)
    assert row is not None and row["master_uln"] == master
