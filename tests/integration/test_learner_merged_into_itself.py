"""A registered learner's ULN merged into itself, on real PostgreSQL: the merge route refuses it with 422
`INVALID_REQUEST` (not 404 `LEARNER_NOT_REGISTERED`), nothing changed or published, and `lrs learners merge` says
why; a learner file whose line names its own ULN as MasterULN is refused whole, nothing registered."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from tests.support.learners import new_learner

from lrs_cli.admin_commands import merge_learners
from lrs_cli.client import AnswerError
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, Keyring, keyring_key_from, migrate
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4)
    assert created is not None
    async with created.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(created)
    yield created
    await created.close()


@pytest.fixture
def registry(pool: asyncpg.Pool) -> LearnerRegistry:
    return LearnerRegistry(pool, Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE])))


def _api(registry: LearnerRegistry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:tests")
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


class Answered:
    """A connection for `lrs` whose validation gives the answer the route gave."""

    sandpit = False

    def __init__(self, answer: httpx.Response) -> None:
        self._answer = httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(lambda request: self._answer), base_url="http://validation")


async def _published(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM validation.learner_outbox")
    return count


async def test_a_registered_uln_merged_into_itself_is_422_not_404(
    pool: asyncpg.Pool, registry: LearnerRegistry
) -> None:
    uln = new_learner()["uln"]
    await registry.register_learners([Learner(uln, "Bea", "Test", None, 0, 1, None)], imported_by="operator:tests")
    published = await _published(pool)
    async with _api(registry) as api:
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
    async with _api(registry) as api:
        refused = await api.post("/v1/learners/import", content=file, headers={"content-type": "text/csv"})

    # refused as the file is read, naming the line, before anything is registered
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "INVALID_REQUEST"
    assert "line 3" in refused.json()["detail"] and "not merged into itself" in refused.json()["detail"]
    assert (
        await pool.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1::text[])", [uln, other]) == 0
    )
