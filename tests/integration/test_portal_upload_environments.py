"""The portal's checked files in PostgreSQL are each of the environment they were checked in: live's submit does not
find a file checked in the Sandpit (a hand-made POST sent one to live), nor the Sandpit's one checked live, whether
it waits or was submitted already."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.databases import throwaway_database

from lrs_contracts.environments import Environment
from lrs_platform.database import apply_migrations
from portal.store import MIGRATIONS, SCHEMA, UploadStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def uploads() -> AsyncIterator[UploadStore]:
    async with throwaway_database(os.environ["DATABASE_URL"], "portal_upload_environments") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, SCHEMA, MIGRATIONS)
                await connection.execute(
                    "INSERT INTO portal.accounts (username, display_name, role, ao_id, password_hash)"
                    " VALUES ('ao.demo', 'ao.demo', 'ao', 'RN9093', 'x')"
                )
            yield UploadStore(pool)
        finally:
            await pool.close()


@pytest.mark.parametrize(
    ("checked_in", "other"), [(Environment.SANDPIT, Environment.LIVE), (Environment.LIVE, Environment.SANDPIT)]
)
async def test_a_file_checked_in_one_environment_is_found_only_there(
    uploads: UploadStore, checked_in: Environment, other: Environment
) -> None:
    kept = await uploads.keep("ao.demo", "results.csv", "text/csv", b"header\n", environment=checked_in)

    elsewhere = await uploads.get("ao.demo", kept.upload_id, kept.key, environment=other)
    there = await uploads.get("ao.demo", kept.upload_id, kept.key, environment=checked_in)
    batch_id = uuid.uuid4()
    await uploads.submitted(kept.upload_id, batch_id)

    assert elsewhere is None
    assert there is not None and there.content == b"header\n"
    assert await uploads.submitted_batch("ao.demo", kept.upload_id, environment=other) is None
    assert await uploads.submitted_batch("ao.demo", kept.upload_id, environment=checked_in) == batch_id
