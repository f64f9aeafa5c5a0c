"""The only place that builds clients for the challenges service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from challenges.config import ChallengesSettings
from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import build_app, readiness
from lrs_platform.identity import CredentialStore
from lrs_platform.kafka import ensure_topics, kafka_reachable, wait_for_kafka
from lrs_platform.logging import configure_logging

SERVICE = "challenges"


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
        readiness(
            app,
            postgres=lambda: database_reachable(pool),
            kafka=lambda: kafka_reachable(settings.kafka_bootstrap_servers),
        )
        try:
            yield
        finally:
            await pool.close()

    return build_app(
        SERVICE,
        title="LRS Event Data Challenges",
        description="Learners raise data challenges against achievements; AOs manage them.",
        lifespan=lifespan,
    )
