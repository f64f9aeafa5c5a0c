"""A page of challenges reads about its own rows, whatever the filters and however many challenges
there are, planned for its values or, once prepared, generically (migration 0006)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from challenges.domain import ChallengeState
from challenges.store import ChallengeStore

pytestmark = pytest.mark.integration

PAGE = 50


@pytest.fixture
async def connection(fresh_database_url: str) -> Any:
    async with migrated_connection(fresh_database_url, "challenges", "challenges.migrations") as connection:
        # 20,000 challenges, half of them one AO's, of 4,000 learners; every third one still raised
        await connection.execute(
            "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at)"
            " SELECT gen_random_uuid(), gen_random_uuid(), CASE WHEN n % 2 = 0 THEN 'RN5000' ELSE 'RN' || (n % 7) END,"
            " lpad((n % 4000)::text, 10, '0'), 'reason',"
            " CASE n % 3 WHEN 0 THEN 'raised' WHEN 1 THEN 'acknowledged' ELSE 'resolved' END,"
            " timestamptz '2026-01-01' + n * interval '1 minute' FROM generate_series(1, 20000) AS n"
        )
        yield connection


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_each_filter_reads_about_a_page(connection: asyncpg.Connection, generic: bool) -> None:
    await connection.execute("ANALYZE challenges.challenges")
    pages: dict[str, dict[str, Any]] = {
        "an AO's": {"ao_id": "RN5000"},
        "an AO's raised": {"ao_id": "RN5000", "state": ChallengeState.RAISED},
        "a learner's": {"uln": "0000000042"},
        "a learner's with one AO": {"uln": "0000000042", "ao_id": "RN5000"},
        "everyone's": {},
        "everyone's raised": {"state": ChallengeState.RAISED},
    }
    for name, filters in pages.items():
        counter = RowCounter(connection, "challenges", generic=generic)

        page = await ChallengeStore(counter).list(limit=PAGE, **filters)

        assert page, name
        assert [c.raised_at for c in page] == sorted((c.raised_at for c in page), reverse=True), name
        for column, value in filters.items():
            assert {getattr(c, column) for c in page} == {value}, name
        # a learner has 5 challenges here; everyone's raised are every third of the newest
        assert counter.rows_read <= 3 * PAGE + 5, (name, counter.rows_read)
