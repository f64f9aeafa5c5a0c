"""A statement asyncpg prepares once keeps PostgreSQL's generic plan, made for its tables as they were
then. The projector's look-up of a poll's learners was planned while `plr.learners` was nearly empty, as
a scan comparing every row with every ULN, and kept that plan while registrations filled the table: 706 ms
a poll at 50,000 learners (decision 0090). Plans are read here as PostgreSQL's `auto_explain` reports them."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from lrs_platform.database import apply_migrations, create_pool
from plr_projector.projection import Needs
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration


async def test_the_projectors_learner_look_up_is_planned_for_the_table_as_it_is_now(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)
    model = ReadModel(LIVE_SCHEMA)
    learners = f'"{LIVE_SCHEMA}".learners'
    needs = Needs(frozenset(), frozenset(f"{n:010d}" for n in range(60_000, 62_400)), frozenset())
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
            await connection.execute(f"INSERT INTO {learners} VALUES ('0000000001', true, 1, NULL)")
            await connection.execute(f"ANALYZE {learners}")
            for _ in range(10):  # PostgreSQL keeps a generic plan after five executions if it looks no dearer
                async with connection.transaction():
                    await model.load_snapshot(connection, needs, {})
            # the table grows faster than autovacuum analyses it, as when learners are registered in bulk
            await connection.execute(
                f"INSERT INTO {learners} SELECT lpad(n::text, 10, '0'), true, 1, NULL FROM generate_series(2, 50000) n"
            )
            plans = await _plans_of(connection, lambda: model.load_snapshot(connection, needs, {}))
    finally:
        await pool.close()
    [plan] = [plan for plan in plans if f"FROM {learners}" in plan]
    assert "= ANY ($1)" not in plan, plan  # planned with the poll's ULNs, for the table as it is now


async def _plans_of(connection: asyncpg.Connection, work: Any) -> list[str]:
    """The plans of the statements `work` runs, in a transaction, as auto_explain logs them."""
    plans: list[str] = []

    def listen(_connection: Any, message: Any) -> None:
        plans.append(message.message)

    connection.add_log_listener(listen)
    try:
        await connection.execute("LOAD 'auto_explain'")
        async with connection.transaction():
            await connection.execute(
                "SET LOCAL auto_explain.log_min_duration = 0; SET LOCAL auto_explain.log_level = 'notice'"
            )
            await work()
    finally:
        connection.remove_log_listener(listen)
    return plans
