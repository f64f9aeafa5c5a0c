"""The learner registry's API on real PostgreSQL, in process, as an operator calls it: a migrated validation
database, the registry over it, the API app, and a connection for `lrs` that gives an answer the route gave."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, Keyring, keyring_key_from, migrate
from validation.api import router
from validation.learner_registry import LearnerRegistry


@asynccontextmanager
async def validation_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on `database_url` with validation's migrations and the key store's applied."""
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert created is not None
    async with created.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(created)
    try:
        yield created
    finally:
        await created.close()


def registry_over(pool: asyncpg.Pool) -> LearnerRegistry:
    return LearnerRegistry(pool, Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE])))


def operator_api(registry: LearnerRegistry) -> httpx.AsyncClient:
    """Validation's API over `registry`, every caller `operator:tests`."""
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
