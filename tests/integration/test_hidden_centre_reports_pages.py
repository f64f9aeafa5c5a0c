"""`GET /v1/admin/centre-reports/hidden` a page at a time, against PostgreSQL: it had a `limit` and no way past the
first page (`more` only said there were others), so an operator could not see them. Read `limit` at a time from
`next` (passed back as `after`), the pages together are the whole list, each link once: a learner listed under the
first ULN of theirs whose link ended is not listed again under another on the next page. The position names no ULN
(the list masks them)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.projector import uln_for

from lrs_platform.database import create_pool
from plr_projector.store import MIGRATIONS, HiddenCentreReports, HiddenReportsPosition, ReadModel

pytestmark = pytest.mark.integration

SCHEMA = "hidden_pages"
FIRST, SECOND = "10000001", "10000002"  # providers, by UKPRN
U1, U2, U3, U4, U5 = sorted(uln_for(number) for number in range(101, 106))


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_connection(fresh_database_url, SCHEMA, MIGRATIONS):
        pass
    made = await create_pool(fresh_database_url, max_size=2)
    try:
        async with made.acquire() as connection:
            await _ended_links(connection)
        yield made
    finally:
        await made.close()


async def _ended_links(connection: asyncpg.Connection) -> None:
    """FIRST's links ended under U1, U2, U3 (U3 merged into U2: one learner) and U4 (linked again since); SECOND's
    under U4 and U5. Each learner has one centre report of each provider."""
    await connection.executemany(
        f"INSERT INTO {SCHEMA}.learners (uln, registered, ability_to_share, master_uln) VALUES ($1, true, 1, $2)",
        [(U1, None), (U2, None), (U3, U2), (U4, None), (U5, None)],
    )
    await connection.executemany(
        f"INSERT INTO {SCHEMA}.provider_links_ended (uln, provider_ukprn) VALUES ($1, $2)",
        [(U1, FIRST), (U2, FIRST), (U3, FIRST), (U4, FIRST), (U4, SECOND), (U5, SECOND)],
    )
    await connection.execute(f"INSERT INTO {SCHEMA}.provider_links (uln, provider_ukprn) VALUES ($1, $2)", U4, FIRST)
    await connection.executemany(
        f"INSERT INTO {SCHEMA}.centre_achievements (uln, provider_ukprn, qualification_number, report_id, event_id,"
        " reported_at) VALUES ($1, $2, '6001167X', $3, $3, now())",
        [(uln, ukprn, uuid.uuid4()) for uln in (U1, U3, U4, U5) for ukprn in (FIRST, SECOND)],
    )


async def _pages(
    connection: asyncpg.Connection, limit: int, **only: str
) -> list[tuple[list[HiddenCentreReports], HiddenReportsPosition | None]]:
    model, pages = ReadModel(SCHEMA), []
    after: HiddenReportsPosition | None = None
    while True:
        found, after = await model.hidden_centre_reports(connection, limit=limit, after=after, **only)
        pages.append((found, after))
        if after is None:
            return pages
        after = HiddenReportsPosition.of_token(after.token())  # as the route hands it out and reads it back


def _links(found: list[HiddenCentreReports]) -> list[tuple[str, str, str, int]]:
    return [(each.provider_ukprn, each.uln, each.master_uln, each.hidden_reports) for each in found]


WHOLE = [(FIRST, U1, U1, 1), (FIRST, U2, U2, 1), (SECOND, U4, U4, 1), (SECOND, U5, U5, 1)]


async def test_the_pages_together_are_the_whole_list_each_link_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        whole, following = await ReadModel(SCHEMA).hidden_centre_reports(connection, limit=1000)
        assert (_links(whole), following) == (WHOLE, None)

        for limit in (1, 2, 3):
            pages = await _pages(connection, limit)
            assert [link for found, _ in pages for link in _links(found)] == WHOLE, limit
            assert all(len(found) == limit for found, _ in pages[:-1])
            assert [following is None for _, following in pages] == [False] * (len(pages) - 1) + [True]


async def test_a_learner_listed_on_one_page_is_not_listed_again_on_the_next_under_another_ulns(
    pool: asyncpg.Pool,
) -> None:
    """A page ending at U2 (FIRST's second ended link): the next starts at U3, the same learner, passed over."""
    async with pool.acquire() as connection:
        model = ReadModel(SCHEMA)
        first, following = await model.hidden_centre_reports(connection, limit=2)
        assert (_links(first), following) == (WHOLE[:2], HiddenReportsPosition(FIRST, 2))
        after, following = await model.hidden_centre_reports(connection, limit=1, after=following)
        assert (_links(after), following) == (WHOLE[2:3], HiddenReportsPosition(SECOND, 1))

        pages = await _pages(connection, 1, ukprn=FIRST)  # nothing after U2 to list: no page after it
    assert [(_links(found), following) for found, following in pages] == [
        ([WHOLE[0]], HiddenReportsPosition(FIRST, 1)),
        ([WHOLE[1]], None),
    ]


async def test_one_learners_list_pages_too(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        assert [_links(found) for found, _ in await _pages(connection, 1, uln=U3)] == [[WHOLE[1]]]
        assert [_links(found) for found, _ in await _pages(connection, 1, uln=U4)] == [[WHOLE[2]]]


async def test_a_position_names_no_uln(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        pages = await _pages(connection, 1)
    tokens = [following.token() for _, following in pages if following is not None]
    said = [base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode() for token in tokens]
    assert said == [f"{FIRST}|1", f"{FIRST}|2", f"{SECOND}|1"]
    assert not [uln for uln in (U1, U2, U3, U4, U5) for token in tokens + said if uln in token]
