"""What an erasure of a ULN would erase, read before erasing (`GET /v1/admin/learners/{uln}/erasure`), on real
PostgreSQL: the ULN named and every ULN merged with it, either way, which the erasure then erases with it; once
erased, the erasure and the ULNs erased with it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from tests.support.learners import new_learner

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, Keyring, keyring_key_from, migrate
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo"


@pytest.fixture
async def registry(fresh_database_url: str) -> AsyncIterator[LearnerRegistry]:
    """Validation's registry on a database of its own, as validation makes it at start."""
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4)
    assert pool is not None
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(pool)
    yield LearnerRegistry(pool, Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE])))
    await pool.close()


class _NoKeys:
    """The identity store as the erasure uses it, holding no key (the keys' revocation: test_erasure.py)."""

    async def revoke_principal(self, principal: Principal, *, by: str | None = None, erased: bool = False) -> int:
        return 0


@pytest.fixture
async def validation(registry: LearnerRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    app.state.credentials = _NoKeys()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        yield client


async def _registered(registry: LearnerRegistry, count: int) -> list[str]:
    ulns = [new_learner()["uln"] for _ in range(count)]
    await registry.register_learners([Learner(uln, "Bea", "Test", None, 0, 1) for uln in ulns], imported_by=OPERATOR)
    return ulns


async def test_the_preview_names_the_merged_ulns_the_erasure_then_erases_and_then_says_it_is_done(
    registry: LearnerRegistry, validation: httpx.AsyncClient
) -> None:
    a, b, c = await _registered(registry, 3)
    await registry.merge(b, a)  # a merged into b, and b into c: one person along the chain
    await registry.merge(c, b)

    before = await validation.get(f"/v1/admin/learners/{a}/erasure")

    assert before.status_code == 200, before.text
    assert before.json() == {"uln": a, "erased_with": sorted([b, c]), "erased": False, "erasure": None}
    from_the_master = (await validation.get(f"/v1/admin/learners/{c}/erasure")).json()
    assert from_the_master["erased_with"] == sorted([a, b])
    assert await registry.erasures(a) == []  # the preview erases nothing

    erased = await validation.post(f"/v1/admin/learners/{a}/erasure", json={"reason": "duplicate test learner"})
    assert erased.status_code == 201, erased.text
    assert erased.json()["erased_with"] == before.json()["erased_with"]

    after = await validation.get(f"/v1/admin/learners/{a}/erasure")
    assert after.status_code == 200, after.text
    assert (after.json()["erased"], after.json()["erased_with"]) == (True, sorted([b, c]))
    assert after.json()["erasure"] == {
        key: erased.json()[key] for key in ("erasure_id", "uln", "erased_by", "erased_at", "erased_with_key")
    } | {"reason": "duplicate test learner"}
    assert (await validation.get(f"/v1/admin/learners/{b}/erasure")).json()["erased"] is True


async def test_a_learner_merged_with_nobody_is_previewed_alone_and_a_uln_held_nowhere_is_refused_404(
    registry: LearnerRegistry, validation: httpx.AsyncClient
) -> None:
    [alone] = await _registered(registry, 1)

    assert (await validation.get(f"/v1/admin/learners/{alone}/erasure")).json()["erased_with"] == []
    not_held = await validation.get(f"/v1/admin/learners/{new_learner()['uln']}/erasure")
    assert not_held.status_code == 404, not_held.text
    assert not_held.json()["title"] == "No learner held with this ULN"
