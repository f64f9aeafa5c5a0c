"""A service's PostgreSQL sessions say which service they are: every service logs in as one role locally, and
`pg_stat_activity` showed 25 unnamed connections, none attributable without `ss -tnp`."""

from __future__ import annotations

import pytest
import structlog

from lrs_platform.database import create_pool

pytestmark = pytest.mark.integration


async def test_a_pools_sessions_are_named_after_the_service_its_logs_name(fresh_database_url: str) -> None:
    with structlog.contextvars.bound_contextvars(service="notifier"):
        pool = await create_pool(fresh_database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            named = await connection.fetchval(
                "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            )
            jit = await connection.fetchval("SHOW jit")
    finally:
        await pool.close()
    assert (named, jit) == ("notifier", "off")
