"""A page of challenges reads about its own rows, whatever the filters and however many challenges
there are, planned for its values or, once prepared, generically (migration 0006)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from challenges.domain import Challenge, ChallengeState
from challenges.store import ChallengeStore
from lrs_platform.paging import PagePosition

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


OPEN = frozenset((ChallengeState.RAISED, ChallengeState.ACKNOWLEDGED))
# A page after a position reads its rows and those it passes over: an hour's ties beside it, or, where the
# planner takes everyone's newest near the list's end, other AOs' rows (half of them are RN5000's here).
# An offset would read every row before the page (6,000 for the deepest here).
BEYOND_A_PAGE = 4 * PAGE + 10


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_each_filter_reads_about_a_page(connection: asyncpg.Connection, generic: bool) -> None:
    await connection.execute("ANALYZE challenges.challenges")
    pages: dict[str, dict[str, Any]] = {
        "an AO's": {"ao_id": "RN5000"},
        "an AO's raised": {"ao_id": "RN5000", "states": {ChallengeState.RAISED}},
        "an AO's open": {"ao_id": "RN5000", "states": OPEN},
        "a learner's": {"ulns": {"0000000042"}},
        "a merged learner's": {"ulns": {"0000000042", "0000000043"}},
        "a learner's with one AO": {"ulns": {"0000000042"}, "ao_id": "RN5000"},
        "everyone's": {},
        "everyone's raised": {"states": {ChallengeState.RAISED}},
        "everyone's open": {"states": OPEN},
    }
    for name, filters in pages.items():
        counter = RowCounter(connection, "challenges", generic=generic)

        page = await ChallengeStore(counter).list(limit=PAGE, **filters)

        assert page, name
        assert [c.raised_at for c in page] == sorted((c.raised_at for c in page), reverse=True), name
        assert all(c.ao_id == filters.get("ao_id", c.ao_id) for c in page), name
        assert all(c.uln in filters.get("ulns", {c.uln}) for c in page), name
        assert all(c.state in filters.get("states", {c.state}) for c in page), name
        # a learner has 5 challenges here; everyone's raised are every third of the newest
        assert counter.rows_read <= 3 * PAGE + 10, (name, counter.rows_read)


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_a_page_deep_in_a_list_reads_about_its_own_rows_and_the_pages_make_the_list(
    connection: asyncpg.Connection, generic: bool
) -> None:
    # ties on the raising time, which the id breaks
    await connection.execute("UPDATE challenges.challenges SET raised_at = date_trunc('hour', raised_at)")
    await connection.execute("ANALYZE challenges.challenges")
    whole = await ChallengeStore(connection).list(ao_id="RN5000", states=OPEN, limit=10_000)
    assert len(whole) == 6_666  # the even n of 1-20,000 that 3 does not divide twice over

    paged: list[Challenge] = []
    after: PagePosition | None = None
    for _ in range(20):
        counter = RowCounter(connection, "challenges", generic=generic)
        page = await ChallengeStore(counter).list(ao_id="RN5000", states=OPEN, after=after, limit=PAGE)
        assert counter.rows_read <= BEYOND_A_PAGE, (len(paged), counter.rows_read)
        paged += page
        after = PagePosition(page[-1].raised_at, page[-1].challenge_id)
    counter = RowCounter(connection, "challenges", generic=generic)
    deep = await ChallengeStore(counter).list(
        ao_id="RN5000", states=OPEN, after=PagePosition(whole[6_000].raised_at, whole[6_000].challenge_id), limit=PAGE
    )

    assert [c.challenge_id for c in paged] == [c.challenge_id for c in whole[: 20 * PAGE]]
    assert [c.challenge_id for c in deep] == [c.challenge_id for c in whole[6_001 : 6_001 + PAGE]]
    assert counter.rows_read <= BEYOND_A_PAGE, counter.rows_read


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_a_page_of_an_aos_open_challenges_passes_over_none_of_its_resolved(
    connection: asyncpg.Connection, generic: bool
) -> None:
    # as an AO's challenges are once it has worked through them: all but one in twenty resolved
    await connection.execute(
        "UPDATE challenges.challenges SET state = 'resolved'"
        " WHERE ao_id = 'RN5000' AND state <> 'resolved' AND get_byte(uuid_send(challenge_id), 0) >= 13"
    )
    await connection.execute("ANALYZE challenges.challenges")
    counter = RowCounter(connection, "challenges", generic=generic)

    page = await ChallengeStore(counter).list(ao_id="RN5000", states=OPEN, limit=PAGE)
    open_ones = await connection.fetchval(
        "SELECT count(*) FROM challenges.challenges WHERE ao_id = 'RN5000' AND state <> 'resolved'"
    )
    # On a table this small one sequential scan may rightly cost the planner less than fetching ~370 rows
    # scattered over every page (it chose one in a CI run); what the count must have is an index holding the
    # open ones alone, which a plan without sequential scans shows (without one it would still scan them all).
    await connection.execute("SET enable_seqscan = off")
    counting = RowCounter(connection, "challenges", generic=generic)
    counts = await ChallengeStore(counting).open_counts(ao_id="RN5000")
    await connection.execute("RESET enable_seqscan")

    assert len(page) == PAGE and {c.state for c in page} <= OPEN
    assert counter.rows_read <= PAGE + 1, counter.rows_read  # migration 0007's index holds the open ones alone
    assert sum(counts.values()) == open_ones and set(counts) <= OPEN
    assert counting.rows_read <= open_ones, counting.rows_read
