"""What every service's PostgreSQL session asks of the server (decision 0090)."""

from __future__ import annotations

from lrs_platform.database import create_pool


async def test_service_sessions_never_jit_compile_and_keep_their_own_settings(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1, server_settings={"application_name": "lrs-test"})
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW jit") == "off"
            assert await connection.fetchval("SHOW application_name") == "lrs-test"
    finally:
        await pool.close()
