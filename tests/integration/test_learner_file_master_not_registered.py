"""A learner file whose row merges its ULN into a MasterULN no learner is registered under, on real PostgreSQL: the
file is refused whole (nothing registered), naming the ULN that is not registered (masked, as every message shows a
ULN) and the row's line, as every other refusal of a learner file names its line, not the row's own ULN; the merge
route names the ULN that is not registered too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.learners import new_learner
from tests.support.registry_api import operator_api, registry_over, validation_pool

from lrs_domain.identifiers import mask_uln
from lrs_domain.reference import Learner
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with validation_pool(fresh_database_url) as created:
        yield created


@pytest.fixture
def registry(pool: asyncpg.Pool) -> LearnerRegistry:
    return registry_over(pool)


async def _held(pool: asyncpg.Pool, *ulns: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1::text[])", ulns)
    return count


async def test_a_master_uln_not_registered_is_named_with_the_rows_line(
    pool: asyncpg.Pool, registry: LearnerRegistry
) -> None:
    registered, merged, master, other = (new_learner()["uln"] for _ in range(4))
    await registry.register_learners(
        [Learner(registered, "Ann", "Door", None, 0, 1, None)], imported_by="operator:tests"
    )
    file = (
        HEADER
        + f"{other},Cal,Test,,0,1,\n"
        + "\n"  # a blank line, passed over: the line named is the file's own
        + f"{merged},Ann,Door,2001-02-03,1,1,{master}\n"
    )
    async with operator_api(registry) as api:
        refused = await api.post("/v1/learners/import", content=file, headers={"content-type": "text/csv"})

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["title"] == "Unknown learner in a merge"
    assert problem["detail"].startswith(f"line 4: MasterULN {mask_uln(master)} is not a registered learner")
    assert "Nothing in the file was registered" in problem["detail"]
    assert merged[-4:] not in problem["detail"]
    assert await _held(pool, merged, other, master) == 0


async def test_the_merge_route_names_the_uln_not_registered(pool: asyncpg.Pool, registry: LearnerRegistry) -> None:
    registered, unregistered = new_learner()["uln"], new_learner()["uln"]
    await registry.register_learners(
        [Learner(registered, "Ann", "Door", None, 0, 1, None)], imported_by="operator:tests"
    )
    async with operator_api(registry) as api:
        no_master = await api.post(f"/v1/learners/{unregistered}/merge", json={"merged_uln": registered})
        no_merged = await api.post(f"/v1/learners/{registered}/merge", json={"merged_uln": unregistered})

    for answer, said in ((no_master, "The master ULN"), (no_merged, "The ULN to merge")):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "LEARNER_NOT_REGISTERED"
        assert answer.json()["detail"].startswith(f"{said} {mask_uln(unregistered)} is not a registered learner")
    assert await pool.fetchval("SELECT master_uln FROM validation.learners WHERE uln = $1", registered) is None
