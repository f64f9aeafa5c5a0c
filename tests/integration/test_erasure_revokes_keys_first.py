"""An erased learner's own API keys are revoked before the erasure commits, on real PostgreSQL: validation stopped
right after the commit (here: PostgreSQL gone for the next statement) leaves the learner erased and no key of theirs,
nor of a ULN erased with them, working. A refused erasure revokes nothing."""

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
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, Keyring, keyring_key_from, migrate
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo"


class StopsAfterTheErasure(LearnerRegistry):
    """The registry of a validation that stops once an erasure has committed: what follows it never runs."""

    async def same_learner(self, uln: str) -> list[str]:
        raise ConnectionResetError("validation stopped after the erasure committed")


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4)
    assert pool is not None
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def credentials(pool: asyncpg.Pool) -> CredentialStore:
    store = CredentialStore(pool)
    await store.migrate()
    return store


@pytest.fixture
def registry(pool: asyncpg.Pool) -> LearnerRegistry:
    return StopsAfterTheErasure(pool, Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE])))


@pytest.fixture
async def validation(registry: LearnerRegistry, credentials: CredentialStore) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    app.state.credentials = credentials
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        yield client


async def _learners_key(credentials: CredentialStore, uln: str) -> str:
    return (await credentials.issue(Principal(PrincipalKind.LEARNER, uln))).token


async def test_an_erasure_empties_the_labels_of_the_learners_keys_revoked_before_too(
    registry: LearnerRegistry, credentials: CredentialStore, validation: httpx.AsyncClient
) -> None:
    # a key's label is free text that `lrs credentials list` shows: an operator making a learner's key may name them
    learner, merged, bystander = (new_learner()["uln"] for _ in range(3))
    await registry.register_learners(
        [Learner(uln, "Ignatius", "Pemberthwaite", None, 0, 1) for uln in (learner, merged, bystander)],
        imported_by=OPERATOR,
    )
    await registry.merge(learner, merged)
    label = "Ignatius Pemberthwaite (b. 1997-03-12) phone app"
    old = await credentials.issue(Principal(PrincipalKind.LEARNER, learner), label)
    await credentials.revoke(old.key_id, by="operator:rotation")  # revoked before the erasure: its label goes too
    for uln in (learner, merged, bystander):
        await credentials.issue(Principal(PrincipalKind.LEARNER, uln), label)

    answer = await validation.post(f"/v1/admin/learners/{learner}/erasure", json={"reason": "a test learner"})

    assert answer.status_code == 503, answer.text  # stopped after the commit: the labels went before it
    labels = {
        uln: [
            key.label
            for key in await credentials.listing(principal=Principal(PrincipalKind.LEARNER, uln), include_revoked=True)
        ]
        for uln in (learner, merged, bystander)
    }
    assert labels == {learner: [None, None], merged: [None], bystander: [label]}


async def test_a_validation_stopped_right_after_the_erasure_leaves_no_erased_learners_key_working(
    registry: LearnerRegistry, credentials: CredentialStore, validation: httpx.AsyncClient
) -> None:
    learner, merged, bystander = (new_learner()["uln"] for _ in range(3))
    await registry.register_learners(
        [Learner(uln, "Bea", "Test", None, 0, 1) for uln in (learner, merged, bystander)], imported_by=OPERATOR
    )
    await registry.merge(learner, merged)
    tokens = {uln: await _learners_key(credentials, uln) for uln in (learner, merged, bystander)}

    answer = await validation.post(f"/v1/admin/learners/{learner}/erasure", json={"reason": "asked by the learner"})

    assert answer.status_code == 503, answer.text  # stopped after the commit
    assert {uln for uln in (learner, merged) if await registry.erasures(uln)} == {learner, merged}
    assert await credentials.authenticate(tokens[learner]) is None
    assert await credentials.authenticate(tokens[merged]) is None
    assert await credentials.authenticate(tokens[bystander]) == Principal(PrincipalKind.LEARNER, bystander)
    # each revocation says why, as `lrs credentials list` shows it
    for uln in (learner, merged):
        [key] = await credentials.listing(principal=Principal(PrincipalKind.LEARNER, uln), include_revoked=True)
        assert key.revoked_by == f"validation: the learner was erased by {OPERATOR}"


async def test_an_erasure_refused_revokes_nothing(credentials: CredentialStore, validation: httpx.AsyncClient) -> None:
    held_nowhere = new_learner()["uln"]
    token = await _learners_key(credentials, held_nowhere)

    answer = await validation.post(f"/v1/admin/learners/{held_nowhere}/erasure", json={"reason": "a mistake"})

    assert answer.status_code == 404, answer.text
    assert await credentials.authenticate(token) == Principal(PrincipalKind.LEARNER, held_nowhere)
