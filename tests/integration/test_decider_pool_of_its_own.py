"""The validation decider reads and writes PostgreSQL on a pool of its own: a burst of registrations
(`POST /v1/learners`, 30 at once) held every connection of the single pool it shared with the HTTP API, and every
decision waited ~20 s for one (the noisy-neighbour walk, finding 5).

Real PostgreSQL, and a broker of the test's own (`private_kafka`): validation runs whole, in this process, and its
decider would otherwise work on the shared broker's live topics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import pytest
from asgi_lifespan import LifespanManager
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka

from lrs_platform.kafka import ensure_topics
from validation.bootstrap import create_app
from validation.config import ValidationSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka() -> Iterator[str]:
    with private_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture
async def validation_database(database_url: str) -> str:
    return await create_database(database_url, unique_name("decider_pool"))


async def test_the_decider_reads_and_stores_while_registry_requests_hold_every_shared_connection(
    kafka: str, validation_database: str
) -> None:
    name = validation_database.rsplit("/", 1)[1]
    settings = ValidationSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        DATABASE_URL=validation_database,
        consumer_group=f"validation-{name}",
        instance_id=name,
    )
    await ensure_topics(kafka)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60), contextlib.AsyncExitStack() as held:
        shared = app.state.learner_registry._pool  # what the registry's requests acquire from
        for _ in range(shared.get_max_size()):  # a burst of them, each in its transaction
            await held.enter_async_context(shared.acquire())

        decider = app.state.decider
        # what a decision reads and writes, each answered at once: before, each waited for a request to end
        async with asyncio.timeout(10):
            assert await decider._decisions.stored(uuid.uuid4()) is None
            assert await decider._registry.registry_snapshot()
            assert await decider._registry.learners_for(["9999999999"]) == {}
            assert await decider._keys.find(["9999999999"]) == {}
            catalogue, _ = await decider._reference.current()
            assert catalogue is not None
