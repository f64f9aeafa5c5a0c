"""The registry look-up a batch is judged against: the learners named and every learner linked to one of
them by merges, whichever way and however far, erased learners followed but never returned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database
from tests.support.projector import uln_for

from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

A, B, C, D, E, F, G, K, X, Y = (uln_for(9_100 + number) for number in range(10))
UNKNOWN = uln_for(9_200)


@pytest.fixture
async def registry(fresh_database_url: str) -> AsyncIterator[LearnerRegistry]:
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        await store.register_learners(
            [Learner(uln, "Ada", "Lovelace", date(2000, 1, 1), 2, 1) for uln in (A, B, C, D, E, F, G, K, X, Y)],
            imported_by="operator:test",
        )
        for master, merged in ((A, B), (B, C), (A, D), (Y, X), (G, F), (K, G)):
            await store.merge(master, merged)
        # X merged into Y, then Y into X: a cycle the merge API and learner files refuse, which a learner file
        # could make before they did (decision 0031): look-ups still cope with one
        await pool.execute("UPDATE validation.learners SET master_uln = $1 WHERE uln = $2", X, Y)
        await _erased_alone(pool, G)
        yield store
    finally:
        await pool.close()


async def _erased_alone(pool: asyncpg.Pool, uln: str) -> None:
    """Erased without the learners merged with it (an erasure erases them all): only its row changes."""
    await pool.execute(
        "UPDATE validation.learners SET erased_at = now(), given_name = NULL, family_name = NULL,"
        " date_of_birth = NULL, gender = NULL WHERE uln = $1",
        uln,
    )


@pytest.mark.parametrize(
    ("named", "found"),
    [
        ([C], {A, B, C, D}),  # up the chain to its master, and down to every learner merged into it
        ([D], {A, B, C, D}),
        ([A], {A, B, C, D}),
        ([E], {E}),  # in no merge
        ([X], {X, Y}),  # a cycle
        ([F], {F, K}),  # through an erased learner, who is not returned
        ([UNKNOWN], set()),
        ([C, E, X, UNKNOWN], {A, B, C, D, E, X, Y}),
        ([C, "12,34"], {A, B, C, D}),  # a value with a comma: the names go as an array, not joined
        ([], set()),
    ],
)
async def test_a_look_up_finds_the_learners_named_and_everyone_merged_with_them(
    registry: LearnerRegistry, named: list[str], found: set[str]
) -> None:
    learners = await registry.learners_for(named)

    assert set(learners) == found
    assert all(learner.uln == uln for uln, learner in learners.items())


async def test_a_learner_found_says_whom_it_was_merged_into(registry: LearnerRegistry) -> None:
    learners = await registry.learners_for([C])

    assert {uln: learner.master_uln for uln, learner in learners.items()} == {A: None, B: A, C: B, D: A}
