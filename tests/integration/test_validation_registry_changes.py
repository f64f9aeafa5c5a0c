"""The registry says whether it changed since a snapshot: what a batch judged chunk by chunk relies on (decision 0085)."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support.databases import prepare_validation_database

from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.reference_store import ReferenceStore

pytestmark = pytest.mark.integration

MASTER, MERGED = "9000000043", "9000000051"


def _learner(uln: str) -> Learner:
    return Learner(uln, "Ada", "Lovelace", date(2000, 1, 1), 2, 1)


async def test_a_registry_change_committed_after_a_snapshot_is_seen_and_none_other(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = ReferenceStore(pool, Keyring(pool, KeyringKey.generate()))

        before = await store.registry_snapshot()
        assert not await store.registry_changed_since(before)
        await store.register_learners([_learner(MASTER), _learner(MERGED)])
        assert await store.registry_changed_since(before)

        registered = await store.registry_snapshot()
        assert not await store.registry_changed_since(registered)
        await store.merge(MASTER, MERGED)
        assert await store.registry_changed_since(registered)

        async with pool.acquire() as writer:  # under way when the snapshot is taken, committed after it
            transaction = writer.transaction()
            await transaction.start()
            await writer.execute("UPDATE validation.learners SET ability_to_share = 2 WHERE uln = $1", MASTER)
            during = await store.registry_snapshot()
            await transaction.commit()
        assert await store.registry_changed_since(during)

        settled = await store.registry_snapshot()
        async with pool.acquire() as writer:
            transaction = writer.transaction()
            await transaction.start()
            await writer.execute("UPDATE validation.learners SET ability_to_share = 1 WHERE uln = $1", MASTER)
            await transaction.rollback()
        assert not await store.registry_changed_since(settled)
    finally:
        await pool.close()


async def test_importing_the_same_learners_again_changes_and_publishes_nothing(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = ReferenceStore(pool, Keyring(pool, KeyringKey.generate()))
        merged = Learner(MERGED, "Ada", "Lovelace", date(2000, 1, 1), 2, 1, master_uln=MASTER)

        first = await store.register_learners([_learner(MASTER), merged])
        queued = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
        again = await store.register_learners([_learner(MASTER), merged])

        assert (first.new, first.updated, first.unchanged, first.merged) == (2, 0, 0, 1)
        assert (again.new, again.updated, again.unchanged, again.merged) == (0, 0, 2, 0)
        assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox") == queued

        renamed = Learner(MASTER, "Ada", "King", date(2000, 1, 1), 2, 1)
        changed = await store.register_learners([renamed, merged, renamed])  # named twice: once
        assert (changed.new, changed.updated, changed.unchanged, changed.merged) == (0, 1, 1, 0)
        assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox") == queued + 1
        assert await pool.fetchval("SELECT family_name FROM validation.learners WHERE uln = $1", MASTER) == "King"
    finally:
        await pool.close()
