"""What every service's PostgreSQL session asks of the server (decision 0090)."""

from __future__ import annotations

import asyncpg

from lrs_platform.database import create_pool

_LOOK_UP = "SELECT uln FROM learners WHERE uln = ANY($1::text[])"


async def test_service_sessions_never_jit_compile_and_keep_their_own_settings(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1, server_settings={"application_name": "lrs-test"})
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW jit") == "off"
            assert await connection.fetchval("SHOW application_name") == "lrs-test"
    finally:
        await pool.close()


async def test_a_look_up_used_while_its_table_was_small_is_planned_for_the_table_it_reads_later(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            await connection.execute("CREATE TABLE learners (uln text PRIMARY KEY)")
            await connection.execute("INSERT INTO learners SELECT g::text FROM generate_series(1, 5) g")
            await connection.execute("ANALYZE learners")
            await connection.execute(f"PREPARE look_up (text[]) AS {_LOOK_UP}")
            for _ in range(10):  # PostgreSQL's own cache keeps a generic plan after five executions
                await connection.execute("EXECUTE look_up ('{1,2}')")
            # grown, and not analysed yet: in the benchmark autovacuum had not come by between two polls
            await connection.execute("INSERT INTO learners SELECT g::text FROM generate_series(6, 50000) g")
            plan = await _plan(connection, "EXPLAIN EXECUTE look_up ('{1,2}')")
    finally:
        await pool.close()
    assert "Index" in plan and "$1" not in plan, plan


async def _plan(connection: asyncpg.Connection, explain: str) -> str:
    return "\n".join(row[0] for row in await connection.fetch(explain))
