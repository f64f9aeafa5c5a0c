"""Learner rows never deadlock (validation `_MERGES_LOCK`): every learner file's import holds the merges lock
exclusively, merging or not, so an import that merges (its file's rows, then the master it names) and one that does
not (its rows) take turns instead of each locking its rows in its own order. The interleaving the review found is
forced with a second connection holding one row: the merging import waits on it, then the other import starts; once
the row is let go, both complete. Before, the second import locked the master and waited on the first's row, which
then waited on the master: PostgreSQL ended one with `deadlock detected`, the operator's import a 5xx."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database
from tests.support.learners import random_uln
from tests.support.waiting import eventually

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry, RegistryImport

pytestmark = pytest.mark.integration

FILE = "operator:ops (learner file)"


async def test_an_import_that_merges_and_one_that_does_not_take_turns(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=4)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        master_uln, merged_uln = sorted([random_uln(), random_uln()])
        master = Learner(master_uln, "Amelia", "Realperson", date(2004, 3, 2), 2, AbilityToShare.SHARES)
        merged = replace(master, uln=merged_uln)
        await store.register_learners([master, merged], imported_by=FILE)

        async def waiting_on_locks(count: int) -> bool:
            waiting: int = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return waiting == count

        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT 1 FROM validation.learners WHERE uln = $1 FOR UPDATE", merged_uln)
        merging = asyncio.create_task(
            store.register_learners([replace(merged, master_uln=master_uln)], imported_by=FILE)
        )
        await eventually(lambda: waiting_on_locks(1), within=10, what="the merging import waiting on the held row")
        not_merging = asyncio.create_task(store.register_learners([master, merged], imported_by=FILE))
        await eventually(lambda: waiting_on_locks(2), within=10, what="the other import waiting too")
        await holding.commit()

        done = await asyncio.gather(merging, not_merging, return_exceptions=True)

        assert list(done) == [
            RegistryImport(new=0, updated=0, unchanged=1, merged=1),
            RegistryImport(new=0, updated=0, unchanged=2, merged=0),
        ]
        assert (
            await pool.fetchval("SELECT master_uln FROM validation.learners WHERE uln = $1", merged_uln) == master_uln
        )
    finally:
        await holder.close()
        await pool.close()
