"""The portal's checked files waiting to be submitted, in PostgreSQL: a person has at most a few waiting, so one
session checking 6 MB files over and over cannot fill the database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.databases import throwaway_database

from lrs_platform.database import apply_migrations
from portal.store import MIGRATIONS, SCHEMA, UPLOADS_WAITING_A_PERSON, UploadStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def uploads() -> AsyncIterator[UploadStore]:
    async with throwaway_database(os.environ["DATABASE_URL"], "portal_uploads") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, SCHEMA, MIGRATIONS)
                await connection.executemany(  # an upload is an account's
                    "INSERT INTO portal.accounts (username, display_name, role, ao_id, password_hash)"
                    " VALUES ($1, $1, 'ao', 'RN9093', 'x')",
                    [("ao.demo",), ("ao.other",)],
                )
            yield UploadStore(pool)
        finally:
            await pool.close()


async def test_a_persons_checked_files_beyond_the_newest_few_go(uploads: UploadStore) -> None:
    kept = [await uploads.keep("ao.demo", f"results-{n}.csv", "text/csv", b"x" * 1_000) for n in range(5)]
    someone_else = await uploads.keep("ao.other", "theirs.csv", "text/csv", b"y")

    waiting = [await uploads.get("ao.demo", each.upload_id, each.key) for each in kept]

    assert [upload.filename if upload else None for upload in waiting] == [
        None,
        None,
        *(f"results-{n}.csv" for n in range(5 - UPLOADS_WAITING_A_PERSON, 5)),
    ]
    assert await uploads.get("ao.other", someone_else.upload_id, someone_else.key) is not None
