"""A page of an AO's batch history reads that AO's batches, not every AO's, planned for its values or,
once prepared, generically (decision 0117)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from ingest.repository import BatchRepository

pytestmark = pytest.mark.integration

PAGE = 50


@pytest.fixture
async def connection(fresh_database_url: str) -> Any:
    async with migrated_connection(fresh_database_url, "ingest", "ingest.migrations") as connection:
        # 20,000 batches of ten AOs, a minute apart
        await connection.execute(
            "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at)"
            " SELECT gen_random_uuid(), 'RN' || (5000 + n % 10), 'completed',"
            " timestamptz '2026-01-01' + n * interval '1 minute' FROM generate_series(1, 20000) AS n"
        )
        await connection.execute("ANALYZE ingest.batches")
        yield connection


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_an_aos_page_reads_its_own_batches(connection: asyncpg.Connection, generic: bool) -> None:
    counter = RowCounter(connection, "batches", generic=generic)

    page, total = await BatchRepository(counter).history(ao_id="RN5003", limit=PAGE, offset=PAGE)

    assert total == 2_000
    assert len(page) == PAGE and {row["ao_id"] for row in page} == {"RN5003"}
    assert [row["received_at"] for row in page] == sorted((row["received_at"] for row in page), reverse=True)
    # the page (the offset's and its own rows), and the count of the AO's 2,000 in their index
    assert counter.rows_read <= 2 * PAGE + 2_000, counter.rows_read


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_everyones_page_reads_a_page(connection: asyncpg.Connection, generic: bool) -> None:
    counter = RowCounter(connection, "batches", generic=generic)

    page, total = await BatchRepository(counter).history(ao_id=None, limit=PAGE, offset=0)

    assert total == 20_000 and len(page) == PAGE
    assert counter.rows_read <= PAGE + 20_000, counter.rows_read  # the count reads them all, once
