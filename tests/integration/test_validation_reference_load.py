"""Validation instances that start together on an empty database load the reference data once: the
others wait for the load and find it there, where each used to load it and all but one failed on the
primary key (their pods restarted)."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.databases import prepare_validation_database

from lrs_platform.database import create_pool
from validation.reference_store import ReferenceFiles, ReferenceStore

pytestmark = pytest.mark.integration


async def test_instances_starting_together_load_the_reference_data_once(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await prepare_validation_database(pool)
        stores = [ReferenceStore(pool) for _ in range(3)]
        files = ReferenceFiles.read()
        assert all([await store.is_empty() for store in stores])

        loaded = await asyncio.gather(*(store.load_first(files) for store in stores))

        loads = await pool.fetchval("SELECT count(*) FROM validation.reference_loads")
        organisations = await pool.fetchval("SELECT count(*) FROM validation.awarding_organisations")
        again = await stores[0].load_first(files)
    finally:
        await pool.close()
    assert sorted(loaded) == [False, False, True]
    assert loads == 1
    assert organisations > 0
    assert again is False


async def test_reloads_by_operators_never_interleave(fresh_database_url: str) -> None:
    """Two reloads at once each replace the whole catalogue in turn; without the lock the second's
    delete missed the first's new rows and its copy failed on the primary key."""
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await prepare_validation_database(pool)
        store = ReferenceStore(pool)
        files = ReferenceFiles.read()
        first, second = await asyncio.gather(store.load(files), store.load(files))
        organisations = await pool.fetchval("SELECT count(*) FROM validation.awarding_organisations")
        loads = await pool.fetchval("SELECT count(*) FROM validation.reference_loads")
    finally:
        await pool.close()
    assert first == second
    assert organisations == first[0]
    assert loads == 2
