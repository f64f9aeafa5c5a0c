"""What every service's PostgreSQL session asks of the server (decision 0090), and what a pooled
connection's return to the pool resets (decision 0110)."""

from __future__ import annotations

import asyncpg

from lrs_platform.database import create_pool

_LOCK = 7_110_110


async def test_service_sessions_never_jit_compile_and_keep_their_own_settings(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1, server_settings={"application_name": "lrs-test"})
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW jit") == "off"
            assert await connection.fetchval("SHOW application_name") == "lrs-test"
        async with pool.acquire() as connection:  # startup parameters outlive a return to the pool
            assert await connection.fetchval("SHOW jit") == "off"
    finally:
        await pool.close()


async def test_service_sessions_are_probed_so_a_vanished_replica_releases_its_locks(fresh_database_url: str) -> None:
    """Over TCP the server probes an idle session after a minute, so a backend whose client vanished (its locks
    held) ends within two minutes, not the operating system's two hours (on a Unix socket they read 0)."""
    pool = await create_pool(fresh_database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            over_tcp = await connection.fetchval("SELECT inet_server_addr() IS NOT NULL")
            probing = [
                await connection.fetchval(f"SHOW tcp_keepalives_{name}") for name in ("idle", "interval", "count")
            ]
        assert probing == (["60", "10", "6"] if over_tcp else ["0", "0", "0"])
    finally:
        await pool.close()


async def _last_statement(observer: asyncpg.Connection, pid: int) -> str:
    query: str = await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
    return query


async def test_a_connection_returns_to_the_pool_without_a_statement_unless_it_took_a_session_lock(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)
    observer = await asyncpg.connect(fresh_database_url)
    try:
        async with pool.acquire() as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
            await connection.execute("SELECT 'the last statement'")
        assert await _last_statement(observer, pid) == "SELECT 'the last statement'"

        async with pool.acquire() as connection:
            await connection.execute("SELECT pg_advisory_lock($1)", _LOCK)
            assert not await observer.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)
        assert "pg_advisory_unlock_all" in await _last_statement(observer, pid)
        assert await observer.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)  # released with the connection
        await observer.execute("SELECT pg_advisory_unlock($1)", _LOCK)

        async with pool.acquire() as connection:  # and the next user of the connection is not unlocked again
            await connection.execute("SELECT 'after the lock'")
        assert await _last_statement(observer, pid) == "SELECT 'after the lock'"
    finally:
        await observer.close()
        await pool.close()


async def test_a_lock_tried_and_read_with_fetchval_is_released_with_the_connection(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)
    observer = await asyncpg.connect(fresh_database_url)
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)
            assert not await observer.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)
        assert await observer.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)
        await observer.execute("SELECT pg_advisory_unlock($1)", _LOCK)

        async with pool.acquire() as connection:
            assert await connection.fetchrow("SELECT pg_try_advisory_lock($1) AS taken", _LOCK) is not None
        assert await observer.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)
    finally:
        await observer.close()
        await pool.close()


async def test_a_transaction_left_open_is_rolled_back_when_the_connection_returns(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            await connection.execute("CREATE TABLE kept (n int)")
            await connection.execute("BEGIN")
            await connection.execute("INSERT INTO kept VALUES (1)")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT count(*) FROM kept") == 0
    finally:
        await pool.close()
