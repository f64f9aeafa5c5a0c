"""`advisory_locked`'s bounds against PostgreSQL (the chaos walk, finding 1: a notifier frozen by SIGSTOP while
holding an email's lock kept its session and the lock for as long as it was frozen, and the other replica, waiting
on it with no timeout, sent no email at all meanwhile). The waiter gives up after its wait; a frozen holder's
session is ended by the server after the idle bound, while a holder whose process runs keeps its lock however long
its block takes."""

from __future__ import annotations

import time

import asyncpg
import pytest
from tests.integration.frozen_lock_holder import holding
from tests.support.waiting import eventually

from lrs_platform.database import AdvisoryLockBusy, advisory_lock_key, advisory_locked, create_pool

pytestmark = pytest.mark.integration


async def holder_of(observer: asyncpg.Connection, name: str) -> int | None:
    """The backend holding the advisory lock `name`, None when none holds it."""
    pid: int | None = await observer.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        " AND ((classid::int8 << 32) | objid::int8) = $1",
        advisory_lock_key(name),
    )
    return pid


async def backend_alive(observer: asyncpg.Connection, pid: int) -> bool:
    return bool(await observer.fetchval("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid))


async def test_a_lock_held_elsewhere_is_waited_for_within_the_bound_and_the_connection_goes_back_as_it_came(
    fresh_database_url: str,
) -> None:
    name = "bounds: waited for"
    pool = await create_pool(fresh_database_url, max_size=1)
    observer = await asyncpg.connect(fresh_database_url)
    try:
        await observer.execute("SELECT pg_advisory_lock($1)", advisory_lock_key(name))  # held as a frozen replica
        started = time.monotonic()
        with pytest.raises(AdvisoryLockBusy):
            async with advisory_locked(pool, name, wait_seconds=0.3, idle_seconds=60.0):
                pass
        assert time.monotonic() - started < 10, "waited past its bound"
        async with pool.acquire() as connection:  # the pool's only connection: the settings ended with the lock
            assert await connection.fetchval("SHOW lock_timeout") == "0"
            assert await connection.fetchval("SHOW idle_in_transaction_session_timeout") == "0"
            assert not connection.is_in_transaction()

        await observer.execute("SELECT pg_advisory_unlock($1)", advisory_lock_key(name))
        async with advisory_locked(pool, name, wait_seconds=0.3, idle_seconds=60.0):
            assert await holder_of(observer, name) is not None
        assert await holder_of(observer, name) is None
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW lock_timeout") == "0"
            assert await connection.fetchval("SHOW idle_in_transaction_session_timeout") == "0"
    finally:
        await observer.close()
        await pool.close()


async def test_a_holder_whose_process_runs_keeps_its_lock_past_the_idle_bound(fresh_database_url: str) -> None:
    """Its work is done on other connections (an SMTP conversation): the lock's session, idle all along, would have
    been ended after the bound, the lock taken by another replica mid-send."""
    name = "bounds: kept while running"
    pool = await create_pool(fresh_database_url, max_size=1)
    observer = await asyncpg.connect(fresh_database_url)
    try:
        async with advisory_locked(pool, name, wait_seconds=1.0, idle_seconds=2.0):
            pid = await holder_of(observer, name)
            assert pid is not None

            async def held_three_bounds_long() -> bool:
                assert await holder_of(observer, name) == pid, "the lock was lost while its holder ran"
                return bool(
                    await observer.fetchval(
                        "SELECT now() - xact_start > interval '6 s' FROM pg_stat_activity WHERE pid = $1", pid
                    )
                )

            await eventually(held_three_bounds_long, within=60, what="the lock held three idle bounds long")
        assert await holder_of(observer, name) is None
    finally:
        await observer.close()
        await pool.close()


async def test_a_frozen_holders_session_is_ended_by_the_server_after_the_idle_bound(fresh_database_url: str) -> None:
    name = "bounds: frozen holder"
    observer = await asyncpg.connect(fresh_database_url)
    try:
        async with holding(fresh_database_url, name, idle_seconds=2.0) as holder:
            pid = await holder_of(observer, name)
            assert pid is not None
            holder.freeze()

            async def taken_here() -> bool:
                return bool(await observer.fetchval("SELECT pg_try_advisory_lock($1)", advisory_lock_key(name)))

            await eventually(taken_here, within=30, what="the frozen holder's lock let go")
            assert not await backend_alive(observer, pid), "its session ended by the server"

            holder.wake()  # finishes its block without the lock, and says so
            said = await holder.end_its_block()
            assert "advisory_lock_lost" in said, said
            assert said.rstrip().endswith("released"), said
            assert await holder_of(observer, name) == await observer.fetchval("SELECT pg_backend_pid()")
    finally:
        await observer.close()
