"""The batches one API key sent (after a key leaked, `lrs batch list --key-id`): that key's only, of every AO to an
operator, newest first and counted the same, one page after another by `next`; read from `batches_by_key`
(migration 0125), not from every batch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.repository import BatchRepository

pytestmark = pytest.mark.integration

AO, OTHER_AO = "RN5133", "RN9093"
LEAKED, OTHER_KEY = "0123456789abcdef", "fedcba9876543210"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def _received(pool: asyncpg.Pool, minute: int, key_id: str | None, ao_id: str = AO) -> uuid.UUID:
    batch_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at, submitted_by, submitted_with_key)"
        " VALUES ($1, $2, 'completed', $3, $4, $5)",
        batch_id,
        ao_id,
        START + timedelta(minutes=minute),
        f"ao:{ao_id}",
        key_id,
    )
    return batch_id


async def test_a_key_lists_the_batches_it_sent_and_no_others(pool: asyncpg.Pool) -> None:
    batches = BatchRepository(pool)
    first = await _received(pool, 1, LEAKED)
    second = await _received(pool, 2, LEAKED)
    await _received(pool, 3, OTHER_KEY)
    await _received(pool, 4, None)  # sent before keys were kept
    elsewhere = await _received(pool, 5, LEAKED, ao_id=OTHER_AO)  # key ids are the store's: never two AOs' in truth

    page = await batches.history(ao_id=None, limit=2, submitted_with_key=LEAKED)
    assert page.next is not None
    rest = await batches.history(ao_id=None, limit=2, submitted_with_key=LEAKED, after=page.next)
    the_aos = await batches.history(ao_id=AO, limit=10, submitted_with_key=LEAKED, submitted_by=f"ao:{AO}")

    assert [row["batch_id"] for row in [*page.rows, *rest.rows]] == [elsewhere, second, first]
    assert (page.total, rest.next) == (3, None)
    assert ([row["batch_id"] for row in the_aos.rows], the_aos.total) == ([second, first], 2)


async def test_every_aos_list_of_a_key_is_read_from_its_index(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.execute("SET enable_seqscan = off")  # the plan that would be chosen over a large table
        plan = await connection.fetch(
            "EXPLAIN (FORMAT TEXT) SELECT * FROM ingest.batches WHERE submitted_with_key = $1"
            " ORDER BY received_at DESC, batch_id DESC LIMIT 51",
            LEAKED,
        )
        await connection.execute("RESET enable_seqscan")
    assert "batches_by_key" in " ".join(line[0] for line in plan)
