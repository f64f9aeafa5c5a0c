"""An outbox's published rows go a week after publishing (nothing reads them: readers read the topic, kept forever);
unpublished rows and recent ones stay."""

from __future__ import annotations

import os
from datetime import timedelta

import asyncpg
import pytest
from tests.support.databases import throwaway_database

from lrs_platform import outbox as outbox_module
from lrs_platform.outbox import Outbox

pytestmark = pytest.mark.integration


async def test_rows_published_over_a_week_ago_go_and_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "PRUNED_AT_ONCE", 2)  # several statements, as on a large table
    async with throwaway_database(os.environ["DATABASE_URL"], "outbox_prune") as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "CREATE SCHEMA probe; CREATE TABLE probe.outbox (id bigserial PRIMARY KEY, partition_key text NOT NULL,"
                " envelope bytea NOT NULL, published_at timestamptz)"
            )
            ages = [None, timedelta(days=8), timedelta(days=30), timedelta(days=9), timedelta(days=6), None]
            await connection.executemany(
                "INSERT INTO probe.outbox (partition_key, envelope, published_at)"
                " VALUES ($1, 'x', CASE WHEN $2::interval IS NULL THEN NULL ELSE now() - $2::interval END)",
                [(f"k{n}", age) for n, age in enumerate(ages)],
            )
            pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
            try:
                pruned = await Outbox("probe.outbox", "lrs.probe.v1").prune(pool)
            finally:
                await pool.close()
            left = [
                row["partition_key"]
                for row in await connection.fetch("SELECT partition_key FROM probe.outbox ORDER BY id")
            ]
        finally:
            await connection.close()
    assert (pruned, left) == (3, ["k0", "k4", "k5"])
