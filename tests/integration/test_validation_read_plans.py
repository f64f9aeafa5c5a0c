"""The registry look-up of a batch is planned for its names on every execution (decision 0112): a generic
plan, which PostgreSQL would choose after five executions on a connection, cannot hash the names and
looks each one up in the primary key instead, at about twice the server's CPU."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support.databases import prepare_validation_database
from tests.support.projector import uln_for

from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.reference_store import ReferenceStore

pytestmark = pytest.mark.integration


async def test_the_look_up_is_planned_for_its_names_however_often_a_connection_runs_it(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, max_size=1)  # one connection: every execution on it
    try:
        await prepare_validation_database(pool)
        store = ReferenceStore(pool, Keyring(pool, KeyringKey.generate()))
        ulns = [uln_for(9_300 + number) for number in range(12)]
        await store.register_learners([Learner(uln, "Ada", "Lovelace", date(2000, 1, 1), 2, 1) for uln in ulns])
        await store.merge(ulns[0], ulns[1])

        for count in range(1, 9):
            learners = await store.learners_for(ulns[1 : count + 1])
            assert set(learners) == {ulns[0], *ulns[1 : count + 1]}

        plans = await pool.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH RECURSIVE linked(uln)%'"
        )
    finally:
        await pool.close()
    assert plans is not None
    assert (plans["generic_plans"], plans["custom_plans"]) == (0, 8)
