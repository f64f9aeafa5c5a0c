"""The read model's indexes against the statements that need them: each read of the PLR views and of
the projection's snapshot is planned as an index scan, a learner's merges are followed in a few rows
however many learners are merged, a poll's ids are looked for among those from before marks only for
batches of that time (decision 0117), and a schema made before migration 0002 loses the achievement
indexes no statement reads (decision 0086)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from lrs_platform.database import apply_migrations
from plr_projector.projection import Needs
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration

_TABLES = (
    "achievements",
    "achievement_history",
    "processed_events",
    "centre_achievements",
    "learners",
    "provider_links",
    "provider_links_ended",
    "challenges",
    "parked",
)


class Planner:
    """Stands in for a connection: plans each read the read model makes (EXPLAIN with the same
    arguments) instead of running it, and answers as if nothing were stored."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self.plans: list[tuple[str, str]] = []

    async def _plan(self, query: str, args: tuple[Any, ...]) -> None:
        rows = await self._connection.fetch(f"EXPLAIN {query}", *args)
        self.plans.append((query, "\n".join(row[0] for row in rows)))

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        await self._plan(query, args)
        return []

    async def fetchval(self, query: str, *args: Any) -> Any:
        await self._plan(query, args)
        return 0

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._connection.execute(query, *args)  # a setting, not a read
        return status


@pytest.fixture
async def connection(fresh_database_url: str) -> Any:
    async with migrated_connection(fresh_database_url, LIVE_SCHEMA, MIGRATIONS) as connection:
        yield connection


async def test_every_read_of_a_learner_or_batch_is_an_index_scan(connection: asyncpg.Connection) -> None:
    await connection.execute("SET enable_seqscan = off")  # a read with no index to use still scans the table
    model = ReadModel(LIVE_SCHEMA)
    planner = Planner(connection)
    ulns = ["1234567890", "2345678901"]
    key = ("1234567890", "AO1", "60011662", datetime.date(2024, 6, 1))
    await model.load_snapshot(
        planner,
        Needs(frozenset(ulns), frozenset(ulns), frozenset({uuid.uuid4()}), frozenset({key})),
        {},
    )
    await model.achievements(planner, ulns, "AO1")
    await model.achievements(planner, ulns)
    await model.history(planner, ulns, "AO1")
    await model.centre(planner, ulns)
    await model.challenged(planner, [uuid.uuid4()])
    await model.parked_count_of_learner(planner, ulns, [uuid.uuid4()])
    await model.batch_events_applied(planner, uuid.uuid4())
    await model.learner_group(planner, ulns[0], with_links=True)
    assert len(planner.plans) == 13  # the learner group's links among them (decision 0121)
    scanned = [
        (query, plan) for query, plan in planner.plans if any(f"Seq Scan on {table}" in plan for table in _TABLES)
    ]
    assert not scanned


async def test_a_schema_from_before_0002_loses_the_unread_achievement_indexes(connection: asyncpg.Connection) -> None:
    schema = f'"{LIVE_SCHEMA}"'
    await connection.execute(f"CREATE INDEX achievements_by_ao ON {schema}.achievements (ao_id, uln)")
    await connection.execute(f"CREATE INDEX achievements_by_id ON {schema}.achievements (achievement_id)")
    await connection.execute(f"DELETE FROM {schema}.schema_migrations WHERE version = 2")

    applied = await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)

    assert "0002_no_unread_achievement_indexes.sql" in applied
    indexes = await connection.fetch(
        "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'achievements'", LIVE_SCHEMA
    )
    assert [row["indexname"] for row in indexes] == ["achievements_pkey"]


async def test_the_snapshot_of_a_polls_keys_probes_the_primary_key_of_a_large_table(
    connection: asyncpg.Connection,
) -> None:
    schema = f'"{LIVE_SCHEMA}"'
    await connection.execute(
        f"INSERT INTO {schema}.achievements SELECT lpad(n::text, 10, '0'), 'AO1', '60011662', '2024-06-01',"
        " gen_random_uuid(), 'F', false, 1, NULL, 'Pass', NULL, NULL, NULL, 'Title', 'Type', NULL, 'RQF', 'kind',"
        " 'AO name', now(), now() FROM generate_series(1, 50000) AS n"
    )
    await connection.execute(f"ANALYZE {schema}.achievements")
    planner = Planner(connection)
    keys = frozenset((f"{n:010d}", "AO1", "60011662", datetime.date(2024, 6, 1)) for n in range(1, 10_001, 2))

    await ReadModel(LIVE_SCHEMA).load_snapshot(planner, Needs(frozenset(), frozenset(), frozenset(), keys), {})

    ((_, plan),) = planner.plans
    assert plan.startswith("Nested Loop"), plan  # not a hash or merge join over every row
    assert "Index Scan using achievements_pkey" in plan


async def test_a_learners_group_is_read_in_a_few_rows_however_many_learners_are_merged(
    connection: asyncpg.Connection,
) -> None:
    # 20,000 learners, every tenth merged into the next: a read that hashes every merged learner, or the
    # whole table, reads thousands of rows whatever the learner asked for
    await connection.execute(
        f"INSERT INTO \"{LIVE_SCHEMA}\".learners SELECT lpad(n::text, 10, '0'), true, 1,"
        " CASE WHEN n % 10 = 0 THEN lpad((n + 1)::text, 10, '0') END FROM generate_series(1, 20000) AS n"
    )
    # a chain of two merges, 3 into 4 into 5
    await connection.execute(
        f"UPDATE \"{LIVE_SCHEMA}\".learners SET master_uln = lpad((uln::bigint + 1)::text, 10, '0')"
        " WHERE uln IN ('0000000003', '0000000004')"
    )
    model = ReadModel(LIVE_SCHEMA)
    for analysed, generic in ((False, False), (True, False), (True, True)):
        if analysed:
            await connection.execute(f'ANALYZE "{LIVE_SCHEMA}".learners')
        counter = RowCounter(connection, "learners", generic=generic)

        chain = await model.learner_group(counter, "0000000003")
        alone = await model.learner_group(counter, "0000000007")
        merged_into = await model.learner_group(counter, "0000000011")

        assert (chain.master_uln, chain.ulns) == ("0000000005", ("0000000003", "0000000004", "0000000005"))
        assert (alone.master_uln, alone.ulns) == ("0000000007", ("0000000007",))
        assert (merged_into.master_uln, merged_into.ulns) == ("0000000011", ("0000000010", "0000000011"))
        assert counter.rows_read <= 20, (analysed, generic, counter.rows_read)


async def test_a_polls_event_ids_are_not_looked_for_among_the_ids_from_before_marks(
    connection: asyncpg.Connection,
) -> None:
    # an upgraded model: 100,000 achievement events applied before marks (migration 0003); a poll of
    # 5,000 learner events, of no batch from that time, need not read that table at all
    schema = f'"{LIVE_SCHEMA}"'
    await connection.execute(
        f"INSERT INTO {schema}.legacy_events SELECT gen_random_uuid() FROM generate_series(1, 100000)"
    )
    await connection.execute(f"ANALYZE {schema}.legacy_events")
    counter = RowCounter(connection, "legacy_events")
    event_ids = frozenset(uuid.uuid4() for _ in range(5_000))

    snapshot = await ReadModel(LIVE_SCHEMA).load_snapshot(counter, Needs(frozenset(), frozenset(), event_ids), {})

    assert snapshot.seen_event_ids == set()
    assert counter.rows_read == 0
