"""The challenges service's copy of the PLR log says which challenged achievements are withdrawn now, in one
statement for a page: the latest word on withdrawn, an update leaving it as it was and a reinstatement undoing it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.databases import throwaway_database

from challenges.plr_log import AchievementFacts, RecordChanges
from challenges.record_store import PlrRecord
from lrs_platform.database import apply_migrations

pytestmark = pytest.mark.integration

AO, ULN = "RN5133", "1000000043"


@pytest.fixture
async def record() -> AsyncIterator[PlrRecord]:
    async with throwaway_database(os.environ["DATABASE_URL"], "challenged_withdrawn") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, "challenges", "challenges.migrations")
            yield PlrRecord(pool)
        finally:
            await pool.close()


def poll(*changes: AchievementFacts) -> RecordChanges:
    folded = RecordChanges()
    for change in changes:
        folded.add(change)
    return folded


async def test_the_record_says_which_achievements_are_withdrawn_now(record: PlrRecord) -> None:
    live, withdrawn, reinstated, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await record.apply(
        poll(
            AchievementFacts(live, ULN, AO, False),
            AchievementFacts(withdrawn, ULN, AO, False),
            AchievementFacts(reinstated, ULN, AO, False),
        )
    )
    await record.apply(poll(AchievementFacts(withdrawn, ULN, AO, True), AchievementFacts(reinstated, ULN, AO, True)))
    await record.apply(poll(AchievementFacts(withdrawn, ULN, AO, None), AchievementFacts(reinstated, ULN, AO, False)))

    assert await record.withdrawn_among([live, withdrawn, reinstated, unknown, withdrawn]) == {withdrawn}
    assert await record.withdrawn_among([]) == frozenset()
