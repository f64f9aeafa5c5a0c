"""An AO's batch list narrowed to one BatchReference (`lrs batch list --reference`): the batches of that reference
exactly, of that AO only, counted the same; an operator's list of every AO's batches of it; one page after another
by `next` as any list."""

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
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def _received(pool: asyncpg.Pool, minute: int, reference: str | None, ao_id: str = AO) -> uuid.UUID:
    batch_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at, batch_reference)"
        " VALUES ($1, $2, 'completed', $3, $4)",
        batch_id,
        ao_id,
        START + timedelta(minutes=minute),
        reference,
    )
    return batch_id


async def test_a_reference_lists_that_aos_batches_of_it_exactly(pool: asyncpg.Pool) -> None:
    batches = BatchRepository(pool)
    first = await _received(pool, 1, "MIGRATION 0042")
    second = await _received(pool, 2, "MIGRATION 0042")
    third = await _received(pool, 3, "MIGRATION 0042")
    await _received(pool, 4, "migration 0042")  # case counts
    await _received(pool, 5, "MIGRATION 00421")  # no prefix match
    await _received(pool, 6, None)
    others = await _received(pool, 7, "MIGRATION 0042", ao_id=OTHER_AO)

    page = await batches.history(ao_id=AO, limit=2, reference="MIGRATION 0042")
    assert page.next is not None
    rest = await batches.history(ao_id=AO, limit=2, reference="MIGRATION 0042", after=page.next)
    everyone = await batches.history(ao_id=None, limit=10, reference="MIGRATION 0042")

    assert [row["batch_id"] for row in [*page.rows, *rest.rows]] == [third, second, first]
    assert (page.total, rest.total, rest.next) == (3, 3, None)
    assert [row["batch_id"] for row in everyone.rows] == [others, third, second, first]
    assert everyone.total == 4
