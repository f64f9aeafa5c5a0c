"""What the service desk asks of ingest's store, on PostgreSQL: a batch's messages parked in ingest's dead letters
are read with the batch, in one statement, over the parked table's key index; the batch list bounded by when the
batches were received, or by the start of their id, reads those batches (an AO's of its own), not the table."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.databases import ingest_pool
from tests.support.plans import RowCounter

from ingest.outcomes import CONSUMER
from ingest.repository import BatchRepository, id_range

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 50


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        # 20,000 batches of ten AOs, a minute apart, and 5,000 parked messages of other keys
        await pool.execute(
            "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at)"
            " SELECT gen_random_uuid(), 'RN' || (5000 + n % 10), 'completed',"
            " $1::timestamptz + n * interval '1 minute' FROM generate_series(1, 20000) AS n",
            START,
        )
        await pool.execute(
            'INSERT INTO ingest_parked.parked_messages (consumer, topic, partition, "offset", message_key, reason)'
            " SELECT $1, 'lrs.batch.outcomes.v1', 0, n, convert_to(gen_random_uuid()::text, 'UTF8'), 'error'"
            " FROM generate_series(1, 5000) AS n",
            CONSUMER,
        )
        await pool.execute("ANALYZE ingest.batches")
        await pool.execute("ANALYZE ingest_parked.parked_messages")
        yield pool


class Explained:
    """Stands in for the pool: runs each read, and keeps its plan."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.plans: list[dict[str, Any]] = []

    async def fetchrow(self, query: str, *args: Any) -> Any:
        plan = await self._pool.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
        self.plans.append(json.loads(plan)[0]["Plan"])
        return await self._pool.fetchrow(query, *args)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def _batch(pool: asyncpg.Pool, status: str = "accepted", ao_id: str = "RN9008") -> uuid.UUID:
    batch_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at) VALUES ($1, $2, $3, now())",
        batch_id,
        ao_id,
        status,
    )
    return batch_id


async def _park(pool: asyncpg.Pool, batch_id: uuid.UUID, offset: int, reason: str, at: datetime) -> None:
    await pool.execute(
        'INSERT INTO ingest_parked.parked_messages (consumer, topic, partition, "offset", message_key, reason,'
        " parked_at) VALUES ($1, 'lrs.batch.outcomes.v1', 3, $2, $3, $4, $5)",
        CONSUMER,
        offset,
        str(batch_id).encode(),
        reason,
        at,
    )


async def test_a_batch_reads_its_parked_messages_with_it_over_the_key_index(pool: asyncpg.Pool) -> None:
    held, clear = await _batch(pool), await _batch(pool)
    first = datetime(2026, 12, 7, 2, 52, tzinfo=UTC)
    await _park(pool, held, 70_001, "error", first)
    for n in range(3):
        await _park(pool, held, 70_002 + n, "blocked", first + timedelta(seconds=n + 1))
    explained = Explained(pool)
    batches = BatchRepository(explained)  # a pool's fetchrow, explained

    row = await batches.get(held, ao_id="RN9008")
    assert row is not None
    assert (row["held_in_dead_letters"], row["held_in_dead_letters_since"]) == (4, first)
    assert row["status"] == "accepted"  # the batch's columns beside them, as before

    row = await batches.get(clear, ao_id=None)
    assert row is not None and row["held_in_dead_letters"] == 0 and row["held_in_dead_letters_since"] is None

    assert await batches.get(held, ao_id="RN9093") is None  # another AO's batch is not found, parked or not
    for plan in explained.plans:
        scans = {node.get("Index Name") for node in _nodes(plan)}
        assert "parked_messages_by_key" in scans, plan
        assert not any(
            node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "parked_messages" for node in _nodes(plan)
        ), plan


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("ao_id", ["RN5003", None], ids=["ao", "operator"])
async def test_a_time_bounded_list_reads_the_batches_of_that_time(
    pool: asyncpg.Pool, generic: bool, ao_id: str | None
) -> None:
    received_from = START + timedelta(minutes=10_000)
    received_to = received_from + timedelta(hours=2)  # 120 batches of every AO, 12 of each
    async with pool.acquire() as connection:
        counter = RowCounter(connection, "batches", generic=generic)

        listed = await BatchRepository(counter).history(
            ao_id=ao_id, limit=PAGE, received_from=received_from, received_to=received_to
        )

    expected = 12 if ao_id else 120
    assert listed.total == expected
    assert len(listed.rows) == min(expected, PAGE)
    assert all(received_from <= row["received_at"] < received_to for row in listed.rows)
    assert ao_id is None or {row["ao_id"] for row in listed.rows} == {ao_id}
    # the window's rows (the count's and the page's), not the 20,000; generic, an AO's page may pass over the
    # other AOs' batches of the window
    assert counter.rows_read <= 2 * 120 + PAGE + 2, counter.rows_read


@pytest.mark.parametrize("ao_id", ["RN5003", None], ids=["ao", "operator"])
async def test_a_prefix_lists_the_batches_whose_id_starts_so(pool: asyncpg.Pool, ao_id: str | None) -> None:
    wanted = await _batch(pool, ao_id="RN5003")
    prefix = str(wanted)[:8]
    ids = id_range(prefix)
    async with pool.acquire() as connection:
        counter = RowCounter(connection, "batches")

        listed = await BatchRepository(counter).history(ao_id=ao_id, limit=PAGE, ids=ids)

    assert wanted in [row["batch_id"] for row in listed.rows]
    assert all(str(row["batch_id"]).startswith(prefix) for row in listed.rows)
    assert listed.total == len(listed.rows)
    assert counter.rows_read <= 10, counter.rows_read  # the primary key's range: one in four billion of the ids

    other = await BatchRepository(pool).history(ao_id="RN5004", limit=PAGE, ids=ids)
    assert wanted not in [row["batch_id"] for row in other.rows]  # an AO's list is of its own batches only


async def test_bounds_and_positions_go_together(pool: asyncpg.Pool) -> None:
    """`after` (the next page) and the bounds take their parameters in turn: every page of a bounded list is of it."""
    batches = BatchRepository(pool)
    received_from = START + timedelta(minutes=5_000)
    received_to = received_from + timedelta(minutes=300)
    seen: list[uuid.UUID] = []
    listed = await batches.history(
        ao_id="RN5007", limit=7, received_from=received_from, received_to=received_to, status="completed"
    )
    while True:
        seen += [row["batch_id"] for row in listed.rows]
        assert all(received_from <= row["received_at"] < received_to for row in listed.rows)
        assert listed.total == 30
        if listed.next is None:
            break
        listed = await batches.history(
            ao_id="RN5007",
            limit=7,
            after=listed.next,
            received_from=received_from,
            received_to=received_to,
            status="completed",
        )
    assert len(seen) == len(set(seen)) == 30
