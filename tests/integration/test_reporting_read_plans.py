"""A report of some months reads about those months' rows, not every month's, planned for its values
or, once prepared, generically (migration 0004)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from reporting.store import ReportingStore

pytestmark = pytest.mark.integration

MONTHS = 120
BATCHES_A_MONTH = 100
MONTH = "2029-01"  # the 61st of the 120 months from 2024-01


@pytest.fixture
async def connection(fresh_database_url: str) -> Any:
    async with migrated_connection(fresh_database_url, "reporting", "reporting.migrations") as connection:
        # 100 batches a month for ten years, of five AOs: each with 3 chunks of 2 rejection codes and 5
        # qualifications written to the PLR; 20,000 challenges over the same months (~170 a month)
        await connection.execute(
            "INSERT INTO reporting.batch_facts (batch_id, ao_id, period, completed, records_total, records_accepted,"
            " records_rejected, results_issued)"
            " SELECT md5(n::text)::uuid, 'RN' || (n % 5), to_char(date '2024-01-01' + (n / $1::int) * interval '1 month',"
            " 'YYYY-MM'), true, 100, 90, 10, date '2024-01-01' + (n / $1::int) * interval '1 month'"
            " FROM generate_series(0, $1::int * $2::int - 1) AS n",
            BATCHES_A_MONTH,
            MONTHS,
        )
        await connection.execute(
            "INSERT INTO reporting.rejection_codes SELECT batch_id, chunk, code, 5 FROM reporting.batch_facts,"
            " generate_series(0, 2) AS chunk, unnest(ARRAY['RV004', 'RV009']) AS code"
        )
        await connection.execute(
            "INSERT INTO reporting.plr_writes SELECT batch_id, '6000000' || q, ao_id,"
            " results_issued + interval '2 days' FROM reporting.batch_facts, generate_series(1, 5) AS q"
        )
        await connection.execute(
            "INSERT INTO reporting.challenges (challenge_id, ao_id, raised_at)"
            " SELECT gen_random_uuid(), 'RN' || (n % 5), timestamptz '2024-01-01' + n * interval '4 hours 20 minutes'"
            " FROM generate_series(1, 20000) AS n"
        )
        await connection.execute("ANALYZE")
        yield connection


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("ao_id", [None, "RN3"], ids=["every AO", "one AO"])
async def test_a_months_report_reads_that_months_rows(
    connection: asyncpg.Connection, generic: bool, ao_id: str | None
) -> None:
    def counting(table: str) -> tuple[RowCounter, ReportingStore]:
        counter = RowCounter(connection, table, generic=generic)
        return counter, ReportingStore(counter)

    codes, store = counting("rejection_codes")
    rejections = await store.rejections(MONTH, MONTH, ao_id)
    await store.aggregates(MONTH, ao_id)
    writes, store = counting("plr_writes")
    timeliness = await store.plr_timeliness(MONTH, MONTH, ao_id, timedelta(seconds=60))
    raised, store = counting("challenges")
    challenges = await store.challenges(MONTH, MONTH, ao_id)

    periods = {row.period for row in rejections} | {row.period for row in timeliness}
    assert periods | {row.period for row in challenges} == {MONTH}
    # a month: 100 batches (6 codes, 5 writes each), ~170 challenges; twice what a month holds at most
    month_codes, month_writes, month_challenges = 6 * BATCHES_A_MONTH, 5 * BATCHES_A_MONTH, 180
    assert codes.rows_read <= 2 * 2 * month_codes, codes.rows_read  # two reports read the codes
    assert writes.rows_read <= 2 * month_writes, writes.rows_read
    assert raised.rows_read <= 2 * month_challenges, raised.rows_read
