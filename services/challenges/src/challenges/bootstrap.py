"""The only place that builds clients for the challenges service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from challenges.api import router
from challenges.config import ChallengesSettings
from challenges.outbox import relay_forever
from challenges.service import ChallengeService
from challenges.store import ChallengeStore
from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import build_app, readiness
from lrs_platform.identity import CredentialStore
from lrs_platform.kafka import ensure_topics, kafka_reachable, make_producer, wait_for_kafka
from lrs_platform.logging import configure_logging, get_logger

SERVICE = "challenges"
_log = get_logger("challenges")


def _exit_when_failed(task: asyncio.Task[None]) -> None:
    """A dead relay must not leave a process that looks alive: stop and let it restart."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("background_task_failed", task=task.get_name(), error=repr(task.exception()))
        os.kill(os.getpid(), signal.SIGTERM)


def create_app(settings: ChallengesSettings | None = None) -> FastAPI:
    settings = settings or ChallengesSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url)
        async with pool.acquire() as connection:
            await apply_migrations(connection, SERVICE, "challenges.migrations")
        app.state.credentials = CredentialStore(pool)
        await app.state.credentials.migrate()
        await wait_for_kafka(settings.kafka_bootstrap_servers)
        await ensure_topics(settings.kafka_bootstrap_servers)
        producer = make_producer(settings.kafka_bootstrap_servers)
        await producer.start()
        wake = asyncio.Event()
        app.state.challenges = ChallengeService(ChallengeStore(pool), wake)
        relay = asyncio.create_task(relay_forever(pool, producer, wake), name="challenge-outbox")
        relay.add_done_callback(_exit_when_failed)
        readiness(
            app,
            postgres=lambda: database_reachable(pool),
            kafka=lambda: kafka_reachable(settings.kafka_bootstrap_servers),
        )
        try:
            yield
        finally:
            relay.remove_done_callback(_exit_when_failed)
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            await producer.stop()
            await pool.close()

    app = build_app(
        SERVICE,
        title="LRS Event Data Challenges",
        description=(
            "A learner raises an Event Data Challenge when an achievement on their Personal Learning Record has a "
            "data error (wrong grade, wrong date, not theirs). It is **not an appeal** against a result. The "
            "awarding organisation that owns the achievement is emailed, acknowledges and resolves it; each change "
            "is published to `lrs.challenge.events.v1`."
        ),
        lifespan=lifespan,
    )
    app.include_router(router)
    return app
