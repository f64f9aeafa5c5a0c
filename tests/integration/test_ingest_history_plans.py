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

    listed = await BatchRepository(counter).history(ao_id="RN5003", limit=PAGE, offset=PAGE)
    page, total = listed.rows, listed.total

    assert total == 2_000
    assert len(page) == PAGE and {row["ao_id"] for row in page} == {"RN5003"}
    assert [row["received_at"] for row in page] == sorted((row["received_at"] for row in page), reverse=True)
    # the page (the offset's and its own rows, and one more to tell whether another follows), and the count of
    # the AO's 2,000 in their index
    assert counter.rows_read <= 2 * PAGE + 1 + 2_000, counter.rows_read


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_everyones_page_reads_a_page(connection: asyncpg.Connection, generic: bool) -> None:
    counter = RowCounter(connection, "batches", generic=generic)

    listed = await BatchRepository(counter).history(ao_id=None, limit=PAGE, offset=0)

    assert listed.total == 20_000 and len(listed.rows) == PAGE
    assert counter.rows_read <= PAGE + 1 + 20_000, counter.rows_read  # the count reads them all, once


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_an_aos_page_after_a_position_reads_from_there(connection: asyncpg.Connection, generic: bool) -> None:
    """Deep in the list, a page after a position starts its scan there: it does not read the rows before it, as
    an offset does."""
    repository = BatchRepository(connection)
    position = None
    for _ in range(20):  # 1,000 batches in
        position = (await repository.history(ao_id="RN5003", limit=PAGE, after=position)).next
    counter = RowCounter(connection, "batches", generic=generic)

    listed = await BatchRepository(counter).history(ao_id="RN5003", limit=PAGE, after=position)

    assert listed.total == 2_000 and len(listed.rows) == PAGE and {row["ao_id"] for row in listed.rows} == {"RN5003"}
    assert position is not None and listed.rows[0]["received_at"] < position.at
    # its own rows and the position's, and the count; an offset would read the 1,000 before them too. Generic,
    # the planner may take everyone's newest from the position and pass over the other AOs' batches between
    # the AO's (nine in ten here), as a page of challenges may (decision 0118)
    passed_over = 10 if generic else 1
    assert counter.rows_read - 2_000 <= passed_over * (PAGE + 2), counter.rows_read
