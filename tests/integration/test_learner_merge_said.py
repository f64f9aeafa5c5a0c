"""A merge says whether it changed anything, on real PostgreSQL: the same merge again, by the API or after a learner
file made it, answers 200 `changed: false` and publishes nothing, and `lrs learners merge` then says nothing changed
rather than "merged"; a ULN merged into another master is still refused, 409 `LEARNER_MERGED_ALREADY`
(decision 0158)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.learners import new_learner
from tests.support.registry_api import Answered, operator_api, registry_over, validation_pool

from lrs_cli.admin_commands import merge_learners
from lrs_domain.reference import Learner
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with validation_pool(fresh_database_url) as created:
        yield created


@pytest.fixture
def registry(pool: asyncpg.Pool) -> LearnerRegistry:
    return registry_over(pool)


async def _registered(registry: LearnerRegistry, count: int) -> list[str]:
    ulns = [new_learner()["uln"] for _ in range(count)]
    await registry.register_learners([_learner(uln) for uln in ulns], imported_by="operator:tests")
    return ulns


def _learner(uln: str, master_uln: str | None = None) -> Learner:
    return Learner(uln, "Bea", "Test", None, 0, 1, master_uln)


async def _published(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
    return count


@pytest.mark.parametrize("first_merged_by", ["merge", "import"])
async def test_the_same_merge_again_says_it_changed_nothing(
    pool: asyncpg.Pool, registry: LearnerRegistry, first_merged_by: str
) -> None:
    master, merged = await _registered(registry, 2)
    async with operator_api(registry) as api:
        if first_merged_by == "merge":
            made = await api.post(f"/v1/learners/{master}/merge", json={"merged_uln": merged})
            assert made.status_code == 204, made.text
            assert merge_learners(Answered(made), master, merged).startswith(f"{merged} merged into {master}:")  # type: ignore[arg-type]
        else:
            await registry.register_learners([_learner(merged, master_uln=master)], imported_by="operator:tests")
        published = await _published(pool)

        again = await api.post(f"/v1/learners/{master}/merge", json={"merged_uln": merged})

    assert again.status_code == 200, again.text
    assert again.json() == {"master_uln": master, "merged_uln": merged, "changed": False}
    assert merge_learners(Answered(again), master, merged) == (  # type: ignore[arg-type]
        f"ULN {merged} was already merged into {master}: nothing changed"
    )
    assert await _published(pool) == published
    assert await pool.fetchval("SELECT master_uln FROM validation.learners WHERE uln = $1", merged) == master


async def test_a_uln_merged_into_another_master_is_still_refused(pool: asyncpg.Pool, registry: LearnerRegistry) -> None:
    master, other_master, merged = await _registered(registry, 3)
    async with operator_api(registry) as api:
        made = await api.post(f"/v1/learners/{master}/merge", json={"merged_uln": merged})
        refused = await api.post(f"/v1/learners/{other_master}/merge", json={"merged_uln": merged})

    assert made.status_code == 204, made.text
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "LEARNER_MERGED_ALREADY"
    assert await pool.fetchval("SELECT master_uln FROM validation.learners WHERE uln = $1", merged) == master
