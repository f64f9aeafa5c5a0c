"""A learner file naming registered learners in another Unicode form or case (a re-export by a Mac, an MIS writing
capitals) changes nothing: they count unchanged, their stored row and its `updated_at` stay, and no LearnerRegistered
is queued again, as the same details sent to `POST /v1/learners` change nothing (decision 0167). Other details are
still replaced and announced."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

IMPORTER = "operator:ops (learner file)"
LEARNERS = [
    Learner("9000000040", "Siân Ŵyn", "ap Rhys", date(2001, 1, 1), 2, 1),
    Learner("9000000059", "Aoife", "Ní Bhriain", date(2001, 3, 12), 2, 1),
    Learner("9000000067", "芳", "王", None, 1, 0),
    Learner("9000000075", "Zoë", "Åse", date(2000, 5, 6), 1, 2),
]


def _nfd(learner: Learner) -> Learner:
    return replace(
        learner,
        given_name=unicodedata.normalize("NFD", learner.given_name),
        family_name=unicodedata.normalize("NFD", learner.family_name),
    )


async def _rows(pool: asyncpg.Pool) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in await pool.fetch(
            "SELECT uln, given_name, family_name, date_of_birth, gender, ability_to_share, updated_at"
            " FROM validation.learners ORDER BY uln"
        )
    ]


async def _queued(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
    return count


async def test_a_learner_file_in_another_unicode_form_or_case_is_unchanged(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        first = await store.register_learners(LEARNERS, imported_by=IMPORTER)
        assert (first.new, first.updated, first.unchanged) == (4, 0, 0)
        rows, queued = await _rows(pool), await _queued(pool)

        nfd = await store.register_learners([_nfd(learner) for learner in LEARNERS], imported_by=IMPORTER)
        assert (nfd.new, nfd.updated, nfd.unchanged) == (0, 0, 4)

        aoife = replace(_nfd(LEARNERS[1]), given_name="AOIFE")  # the walker's file: capitals, and Ní decomposed
        capitals = await store.register_learners([aoife], imported_by=IMPORTER)
        assert (capitals.new, capitals.updated, capitals.unchanged) == (0, 0, 1)

        # the single door says the same of the same details
        assert not await store.register_learner(aoife, None)

        assert await _rows(pool) == rows  # the spelling stored first, and when it was stored
        assert await _queued(pool) == queued  # nothing announced again

        # other details are replaced, and announced, as before
        renamed = replace(_nfd(LEARNERS[0]), family_name="Rhys")
        changed = await store.register_learners([renamed, *LEARNERS[1:]], imported_by=IMPORTER)
        assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 3)
        assert await _queued(pool) == queued + 1
        stored = await pool.fetchrow(
            "SELECT given_name, family_name FROM validation.learners WHERE uln = $1", renamed.uln
        )
        assert tuple(stored) == (renamed.given_name, "Rhys")  # a change stores the file's details as sent
    finally:
        await pool.close()
