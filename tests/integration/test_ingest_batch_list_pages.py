"""An AO's batch list read a page at a time while batches arrive neither repeats nor misses one when it follows
`next` (keyset pages, decision 0118): numbered pages shift as each new batch moves every batch down. The count
is read with the page, in one snapshot, and a position never reaches past the caller's own list."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.repository import BatchRepository
from lrs_platform.paging import PagePosition

pytestmark = pytest.mark.integration

AO, OTHER_AO = "RN5133", "RN9093"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def _received(pool: asyncpg.Pool, minute: int, ao_id: str = AO, batch_id: uuid.UUID | None = None) -> uuid.UUID:
    batch_id = batch_id or uuid.uuid4()
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at) VALUES ($1, $2, 'completed', $3)",
        batch_id,
        ao_id,
        START + timedelta(minutes=minute),
    )
    return batch_id


async def test_following_next_while_batches_arrive_lists_each_batch_once(pool: asyncpg.Pool) -> None:
    batches = BatchRepository(pool)
    there = [await _received(pool, minute) for minute in range(7)]
    # two received in the same instant: the id orders them, so neither is repeated nor passed over
    there += [await _received(pool, 3, batch_id=uuid.UUID(int=1)), await _received(pool, 3, batch_id=uuid.UUID(int=2))]
    await _received(pool, 0, ao_id=OTHER_AO)

    seen: list[uuid.UUID] = []
    listed = await batches.history(ao_id=AO, limit=2)
    while True:
        seen += [row["batch_id"] for row in listed.rows]
        await _received(pool, 100 + len(seen))  # a batch arrives between every two pages
        if listed.next is None:
            break
        listed = await batches.history(ao_id=AO, limit=2, after=listed.next)

    assert sorted(seen) == sorted(there) and len(seen) == len(there)
    assert len(set(seen)) == len(seen)


async def test_numbered_pages_still_work_and_say_where_the_next_page_starts(pool: asyncpg.Pool) -> None:
    batches = BatchRepository(pool)
    newest_first = [await _received(pool, minute) for minute in range(5)][::-1]

    second = await batches.history(ao_id=AO, limit=2, offset=2)
    last = await batches.history(ao_id=AO, limit=2, offset=4)

    assert [row["batch_id"] for row in second.rows] == newest_first[2:4] and second.total == 5
    assert second.next is not None
    after = await batches.history(ao_id=AO, limit=2, after=second.next)
    assert [row["batch_id"] for row in after.rows] == newest_first[4:] and after.next is None
    assert [row["batch_id"] for row in last.rows] == newest_first[4:] and last.next is None
    beyond = await batches.history(ao_id=AO, limit=2, offset=10)
    assert (beyond.rows, beyond.total, beyond.next) == ([], 5, None)


async def test_a_position_shows_nothing_beyond_the_callers_own_list(pool: asyncpg.Pool) -> None:
    """A position made up from another AO's batch is only a place in this AO's list."""
    batches = BatchRepository(pool)
    own = await _received(pool, 1)
    await _received(pool, 2, ao_id=OTHER_AO)
    theirs_older = await _received(pool, 0, ao_id=OTHER_AO)

    listed = await batches.history(ao_id=AO, limit=10, after=PagePosition(START + timedelta(minutes=5), uuid.uuid4()))

    assert [row["batch_id"] for row in listed.rows] == [own] and theirs_older not in {
        r["batch_id"] for r in listed.rows
    }
    assert listed.total == 1
