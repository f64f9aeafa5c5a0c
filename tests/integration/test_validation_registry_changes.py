"""The registry says whether it changed since a snapshot: what a batch judged chunk by chunk relies on (decision 0085)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

MASTER, MERGED = "9000000043", "9000000051"


def _learner(uln: str) -> Learner:
    return Learner(uln, "Ada", "Lovelace", date(2000, 1, 1), 2, 1)


async def test_a_registry_change_committed_after_a_snapshot_is_seen_and_none_other(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))

        before = await store.registry_snapshot()
        assert not await store.registry_changed_since(before)
        await store.register_learners([_learner(MASTER), _learner(MERGED)], imported_by="operator:test")
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
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        merged = Learner(MERGED, "Ada", "Lovelace", date(2000, 1, 1), 2, 1, master_uln=MASTER)

        first = await store.register_learners([_learner(MASTER), merged], imported_by="operator:test")
        queued = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
        again = await store.register_learners([_learner(MASTER), merged], imported_by="operator:test")

        assert (first.new, first.updated, first.unchanged, first.merged) == (2, 0, 0, 1)
        assert (again.new, again.updated, again.unchanged, again.merged) == (0, 0, 2, 0)
        assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox") == queued

        renamed = Learner(MASTER, "Ada", "King", date(2000, 1, 1), 2, 1)
        changed = await store.register_learners(
            [renamed, merged, renamed], imported_by="operator:test"
        )  # named twice: once
        assert (changed.new, changed.updated, changed.unchanged, changed.merged) == (0, 1, 1, 0)
        assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox") == queued + 1
        assert await pool.fetchval("SELECT family_name FROM validation.learners WHERE uln = $1", MASTER) == "King"
    finally:
        await pool.close()


async def _sharing(pool: asyncpg.Pool, uln: str) -> tuple[int, list[tuple[int, str]]]:
    ability = await pool.fetchval("SELECT ability_to_share FROM validation.learners WHERE uln = $1", uln)
    changes = await pool.fetch(
        "SELECT ability_to_share, changed_by FROM validation.sharing_changes WHERE uln = $1 ORDER BY change_id", uln
    )
    return ability, [(row["ability_to_share"], row["changed_by"]) for row in changes]


async def _queued_events(pool: asyncpg.Pool) -> list[tuple[str, int | None]]:
    rows = await pool.fetch(
        "SELECT convert_from(envelope, 'UTF8')::jsonb -> 'data' AS data FROM validation.learner_outbox ORDER BY id"
    )
    return [(data["event_type"], data.get("ability_to_share")) for data in (json.loads(row["data"]) for row in rows)]


async def test_a_learner_file_never_undoes_an_opt_out_and_notes_each_change_of_sharing_it_makes(
    fresh_database_url: str,
) -> None:
    """Decision 0180: the same file again leaves the learner's own choice; a file saying something new applies it,
    noted as the importer's, but never removes an opt-out; an opt-out under a merged ULN is kept at the master."""
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        importer = "operator:ops (learner file)"
        await store.register_learners([_learner(MASTER), _learner(MERGED)], imported_by=importer)
        await store.change_sharing(MASTER, AbilityToShare.UNABLE_TO_SHARE, f"learner:{MASTER}")
        queued = len(await _queued_events(pool))

        again = await store.register_learners([_learner(MASTER), _learner(MERGED)], imported_by=importer)
        assert (again.updated, again.unchanged) == (0, 2)
        assert await _sharing(pool, MASTER) == (2, [(2, f"learner:{MASTER}")])
        assert len(await _queued_events(pool)) == queued

        # the register flags an opt-out for the other learner: applied, noted, and announced with it
        flagged = replace(_learner(MERGED), ability_to_share=2)
        changed = await store.register_learners([_learner(MASTER), flagged], imported_by=importer)
        assert (changed.updated, changed.unchanged) == (1, 1)
        assert await _sharing(pool, MERGED) == (2, [(2, importer)])
        assert (await _queued_events(pool))[queued:] == [("lrs.learner.registered.v2", 2)]

        # a file saying "shares" where the learner opted out never removes it
        await store.register_learners([_learner(MASTER), _learner(MERGED)], imported_by=importer)
        assert (await _sharing(pool, MERGED))[0] == 2
        assert (await _sharing(pool, MASTER))[0] == 2

        # an opt-out the file flags under a ULN merged already is kept where every read looks: the master
        await store.change_sharing(MASTER, AbilityToShare.SHARES, f"learner:{MASTER}")
        await store.change_sharing(MERGED, AbilityToShare.SHARES, f"learner:{MASTER}")
        await store.merge(MASTER, MERGED)
        await store.register_learners([_learner(MASTER), _learner(MERGED)], imported_by=importer)
        assert await pool.fetchval("SELECT ability_to_share FROM validation.learners WHERE uln = $1", MASTER) == 1
        queued = len(await _queued_events(pool))
        await store.register_learners([_learner(MASTER), flagged], imported_by=importer)
        assert await _sharing(pool, MASTER) == (
            2,
            [(2, f"learner:{MASTER}"), (1, f"learner:{MASTER}"), (2, importer)],
        )
        assert (await _queued_events(pool))[queued:] == [
            ("lrs.learner.registered.v2", 2),
            ("lrs.learner.sharing.changed.v1", 2),
        ]
    finally:
        await pool.close()


async def test_the_same_learner_file_again_leaves_an_opt_in_made_at_the_master_after_its_opt_out_was_kept(
    fresh_database_url: str,
) -> None:
    """Decision 0180: an opt-out the file flags under a merged ULN is kept at the master once, when the file says
    it anew; the learner's opt-in there since is left as it is by every import of the same file."""
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        importer = "operator:ops (learner file)"
        await store.register_learners([_learner(MASTER), _learner(MERGED)], imported_by=importer)
        await store.merge(MASTER, MERGED)
        flagged = replace(_learner(MERGED), ability_to_share=2)
        await store.register_learners([_learner(MASTER), flagged], imported_by=importer)
        assert (await _sharing(pool, MASTER))[0] == 2
        await store.change_sharing(MASTER, AbilityToShare.SHARES, f"learner:{MASTER}")
        queued = len(await _queued_events(pool))

        again = await store.register_learners([_learner(MASTER), flagged], imported_by=importer)

        assert (again.new, again.updated, again.unchanged, again.merged) == (0, 0, 2, 0)
        assert await _sharing(pool, MASTER) == (1, [(2, importer), (1, f"learner:{MASTER}")])
        assert len(await _queued_events(pool)) == queued
    finally:
        await pool.close()


async def test_a_learner_file_that_merges_a_uln_it_flagged_before_keeps_its_opt_out_at_the_master(
    fresh_database_url: str,
) -> None:
    """Decision 0164: the merge a file makes keeps the opt-out under the ULN merged, though the file said it before."""
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        importer = "operator:ops (learner file)"
        flagged = replace(_learner(MERGED), ability_to_share=2)
        await store.register_learners([_learner(MASTER), flagged], imported_by=importer)
        assert (await _sharing(pool, MASTER))[0] == 1

        merging = await store.register_learners(
            [_learner(MASTER), replace(flagged, master_uln=MASTER)], imported_by=importer
        )

        assert merging.merged == 1
        assert await _sharing(pool, MASTER) == (2, [(2, f"merge of {MERGED}")])
    finally:
        await pool.close()
