"""Validation's two reads of a batch are planned as decision 0112 measured them cheapest: the registry
look-up for its names on every execution (a generic plan, which PostgreSQL would choose after five
executions on a connection, cannot hash the names and looks each one up in the primary key instead), and
the achievement states a pair at a time through the primary key (a plan made for 10,000 pairs scanned,
sorted and merged the AO's achievements); and the look-up follows the merges of its names, not every
merge in the registry (decision 0117)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import cast

import pytest
from tests.support.databases import migrated_connection, prepare_validation_database
from tests.support.plans import RowCounter
from tests.support.projector import uln_for

from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus
from lrs_domain.achievements import AchievementState
from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from lrs_platform.paging import PagePosition
from validation.decision_store import DecisionStore
from validation.learner_registry import Erasure, LearnerRegistry

pytestmark = pytest.mark.integration

AO, OTHER_AO, QAN = "RN5133", "RN5134", "60012345"


async def test_the_look_up_is_planned_for_its_names_however_often_a_connection_runs_it(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)  # one connection: every execution on it
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        ulns = [uln_for(9_300 + number) for number in range(12)]
        await store.register_learners(
            [Learner(uln, "Ada", "Lovelace", date(2000, 1, 1), 2, 1) for uln in ulns], imported_by="operator:test"
        )
        await store.merge(ulns[0], ulns[1])

        for count in range(1, 9):
            learners = await store.learners_for(ulns[1 : count + 1])
            assert set(learners) == {ulns[0], *ulns[1 : count + 1]}

        plans = await pool.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'WITH RECURSIVE linked(uln)%'"
        )
    finally:
        await pool.close()
    assert plans is not None
    assert (plans["generic_plans"], plans["custom_plans"]) == (0, 8)


def _state(ao_id: str, uln: str, award_date: date, grade: str) -> AchievementState:
    return AchievementState(
        achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{ao_id}|{uln}|{award_date}"),
        key=AchievementKey(ao_id=ao_id, uln=uln, qualification_number=QAN, award_date=award_date),
        data=AchievementData(grade=grade),
        status=ResultStatus.PROVISIONAL,
        withdrawn=False,
    )


async def test_a_batchs_states_are_looked_up_pair_by_pair_in_the_primary_key(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)
    try:
        await prepare_validation_database(pool)
        store = DecisionStore(pool)
        ulns = [uln_for(20_000 + number) for number in range(10_000)]
        standing = [_state(AO, uln, date(2024, 8, 22), "A") for uln in ulns[:2_000]]
        again = _state(AO, ulns[0], date(2025, 1, 10), "B")  # the same qualification awarded twice
        elsewhere = _state(OTHER_AO, ulns[5_000], date(2024, 8, 22), "C")  # another AO's: never found
        await store.record(uuid.uuid4(), AO, False, [], [*standing, again, elsewhere])
        await pool.execute("ANALYZE validation.achievements")

        states = await store.existing_states(AO, [(uln, QAN) for uln in ulns])

        async with pool.acquire() as connection:
            name = await connection.fetchval(
                "SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT a.*%'"
            )
            await connection.execute("SET plan_cache_mode = force_custom_plan")
            plan = "\n".join(
                row[0]
                for row in await connection.fetch(
                    f"EXPLAIN EXECUTE \"{name}\"('{AO}', '{','.join(ulns)}', '{','.join([QAN] * len(ulns))}')"
                )
            )
    finally:
        await pool.close()
    assert set(states) == {(uln, QAN) for uln in ulns[:2_000]}
    assert states[(ulns[0], QAN)] in ([standing[0], again], [again, standing[0]])
    assert all(found == [state] for state in standing[1:] for found in [states[(state.key.uln, QAN)]])
    assert "Seq Scan" not in plan and "Index Scan using achievements_pkey" in plan, plan


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_the_look_up_reads_about_its_names_however_many_learners_are_merged(
    fresh_database_url: str, generic: bool
) -> None:
    async with migrated_connection(fresh_database_url, "validation", "validation.migrations") as connection:
        # 40,000 learners, every fourth merged into the next: a look-up that scans the merged learners
        # reads 10,000 rows whatever it was asked for
        await connection.execute("ALTER TABLE validation.learners DISABLE TRIGGER learners_changed")
        await connection.execute(
            "INSERT INTO validation.learners (uln, given_name, family_name, date_of_birth, master_uln)"
            " SELECT lpad(n::text, 10, '0'), 'Ada', 'Lovelace', date '2000-01-01',"
            " CASE WHEN n % 4 = 0 AND n < 40000 THEN lpad((n + 1)::text, 10, '0') END FROM generate_series(1, 40000) AS n"
        )
        await connection.execute("ANALYZE validation.learners")
        named = [f"{number:010d}" for number in range(7, 40_000, 397)]  # 101 learners, 25 of them merged
        counter = RowCounter(connection, "learners", generic=generic)

        learners = await LearnerRegistry(counter, cast(Keyring, None)).learners_for(named)

    merged = [uln for uln in named if int(uln) % 4 == 0]
    masters = [f"{int(uln) + 1:010d}" for uln in merged]
    merged_into_named = [f"{int(uln) - 1:010d}" for uln in named if int(uln) % 4 == 1]
    assert set(learners) == {*named, *masters, *merged_into_named}
    assert {uln: learners[uln].master_uln for uln in merged} == {uln: f"{int(uln) + 1:010d}" for uln in merged}
    assert counter.rows_read <= 6 * len(named), counter.rows_read


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_a_page_of_the_erasure_audit_reads_about_its_own_rows_however_deep(
    fresh_database_url: str, generic: bool
) -> None:
    async with migrated_connection(fresh_database_url, "validation", "validation.migrations") as connection:
        # 20,000 erasures over the years, ten a day erased at the same moment (ties the id breaks)
        await connection.execute(
            "INSERT INTO validation.erasures (erasure_id, uln, erased_by, reason, erased_at)"
            " SELECT gen_random_uuid(), lpad(n::text, 10, '0'), 'operator:dpo', 'created in error',"
            " timestamptz '2026-01-01' - (n / 10) * interval '1 day' FROM generate_series(1, 20000) AS n"
        )
        await connection.execute("ANALYZE validation.erasures")
        unpaged = LearnerRegistry(connection, cast(Keyring, None))
        whole = await unpaged.erasures(None)
        assert [e.erased_at for e in whole] == sorted((e.erased_at for e in whole), reverse=True)

        pages: list[list[Erasure]] = []
        after: PagePosition | None = None
        for at in (None, 12_345):
            after = PagePosition(whole[at].erased_at, whole[at].erasure_id) if at else None
            for _ in range(3):
                counter = RowCounter(connection, "erasures", generic=generic)
                page = await LearnerRegistry(counter, cast(Keyring, None)).erasures(None, after=after, limit=50)
                assert counter.rows_read <= 50 + 10, counter.rows_read  # an offset would read the 12,345 before
                pages.append(page)
                after = PagePosition(page[-1].erased_at, page[-1].erasure_id)
        one = await LearnerRegistry(connection, cast(Keyring, None)).erasures("0000012345", limit=50)

    ids = [e.erasure_id for page in pages for e in page]
    assert ids[:150] == [e.erasure_id for e in whole[:150]]
    assert ids[150:] == [e.erasure_id for e in whole[12_346 : 12_346 + 150]]
    assert [e.uln for e in one] == ["0000012345"]
