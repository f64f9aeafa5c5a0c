"""A registered learner's ULN merged into itself, on real PostgreSQL: the merge route refuses it with 422
`INVALID_REQUEST` (not 404 `LEARNER_NOT_REGISTERED`), nothing changed or published, and `lrs learners merge` says
why; a learner file whose line names its own ULN as MasterULN is refused whole, nothing registered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.learners import new_learner
from tests.support.registry_api import Answered, operator_api, registry_over, validation_pool

from lrs_cli.admin_commands import merge_learners
from lrs_cli.client import AnswerError
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


async def _published(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
    return count


async def test_a_registered_uln_merged_into_itself_is_422_not_404(
    pool: asyncpg.Pool, registry: LearnerRegistry
) -> None:
    uln = new_learner()["uln"]
    await registry.register_learners([Learner(uln, "Bea", "Test", None, 0, 1, None)], imported_by="operator:tests")
    published = await _published(pool)
    async with operator_api(registry) as api:
        refused = await api.post(f"/v1/learners/{uln}/merge", json={"merged_uln": uln})

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "INVALID_REQUEST"
    assert "not merged into itself" in refused.json()["detail"]
    assert await pool.fetchval("SELECT master_uln FROM validation.learners WHERE uln = $1", uln) is None
    assert await _published(pool) == published
    with pytest.raises(AnswerError, match="not merged into itself"):
        merge_learners(Answered(refused), uln, uln)  # type: ignore[arg-type]


async def test_a_learner_file_merging_a_uln_into_itself_is_refused_whole(
    pool: asyncpg.Pool, registry: LearnerRegistry
) -> None:
    uln, other = new_learner()["uln"], new_learner()["uln"]
    file = (
        "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"
        f"{other},Cal,Test,,0,1,\n"
        f"{uln},Bea,Test,,0,1,{uln}\n"
    )
    async with operator_api(registry) as api:
        refused = await api.post("/v1/learners/import", content=file, headers={"content-type": "text/csv"})

    # refused as the file is read, naming the line, before anything is registered
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "INVALID_REQUEST"
    assert "line 3" in refused.json()["detail"] and "not merged into itself" in refused.json()["detail"]
    assert (
        await pool.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1::text[])", [uln, other]) == 0
    )
