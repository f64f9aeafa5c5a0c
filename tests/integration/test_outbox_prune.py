"""An outbox's published rows go a week after publishing (nothing reads them: readers read the topic, kept forever);
unpublished rows and recent ones stay. One replica's relay publishes at a time, in id order."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import asyncpg
import pytest
from tests.support.databases import throwaway_database

from lrs_platform import outbox as outbox_module
from lrs_platform.database import advisory_lock_key
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
                outbox, pruned = Outbox("probe.outbox", "lrs.probe.v1"), 0
                # as the relay prunes: a statement at a time, again while one deleted all it may
                while (deleted := await outbox.prune_some(pool)) == outbox_module.PRUNED_AT_ONCE:
                    pruned += deleted
                pruned += deleted
            finally:
                await pool.close()
            left = [
                row["partition_key"]
                for row in await connection.fetch("SELECT partition_key FROM probe.outbox ORDER BY id")
            ]
        finally:
            await connection.close()
    assert (pruned, left) == (3, ["k0", "k4", "k5"])


class _Sent:
    """A producer that records what it was given to send."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.keys.append(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_one_relay_at_a_time_publishes_so_a_replica_never_overtakes_the_other() -> None:
    """With two replicas, one skipped the rows the other held mid-send and published a learner's later row first."""
    async with throwaway_database(os.environ["DATABASE_URL"], "outbox_relay") as url:
        connection = await asyncpg.connect(url)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            await connection.execute(
                "CREATE SCHEMA probe; CREATE TABLE probe.outbox (id bigserial PRIMARY KEY, partition_key text NOT NULL,"
                " envelope bytea NOT NULL, published_at timestamptz)"
            )
            await connection.executemany(
                "INSERT INTO probe.outbox (partition_key, envelope) VALUES ($1, 'x')", [("first",), ("later",)]
            )
            outbox, producer = Outbox("probe.outbox", "lrs.probe.v1", batch_size=1), _Sent()
            async with connection.transaction():  # the other replica's relay, mid-send of the first row
                await connection.execute(
                    "SELECT pg_try_advisory_xact_lock($1)", advisory_lock_key("outbox-relay:probe.outbox")
                )
                await connection.execute("SELECT id FROM probe.outbox ORDER BY id LIMIT 1 FOR UPDATE")
                assert await outbox.relay_once(pool, producer) == 0
            assert producer.keys == []
            assert await outbox.relay_once(pool, producer) == 1
            assert await outbox.relay_once(pool, producer) == 1
        finally:
            await pool.close()
            await connection.close()
    assert producer.keys == [b"first", b"later"]
