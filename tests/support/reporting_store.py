"""Reporting's store for a service a test starts: one that reads only what is produced after it starts."""

from __future__ import annotations

from tests.support.kafka import pin_group_at_end

from lrs_contracts.topics import Topic
from lrs_platform.database import apply_migrations, create_pool
from reporting.store import ReportingStore


async def reporting_reads_from_the_ends(
    bootstrap: str, database_url: str, app_id: str, topics: tuple[Topic, ...]
) -> None:
    """Pins reporting's group `app_id` at the ends of `topics` and marks its store on `database_url` begun, with
    nothing to catch up. A store that has not begun (a new database) moves its group back to the topics' beginnings
    on start, to read their history again (decision 0161, reporting.catch_up.begin): on the topics every test
    shares, that is every message the tests before left there, poison included, read while the test runs."""
    await pin_group_at_end(bootstrap, app_id, topics)
    pool = await create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, "reporting", "reporting.migrations")
        await ReportingStore(pool).begin_reading({})
    finally:
        await pool.close()
