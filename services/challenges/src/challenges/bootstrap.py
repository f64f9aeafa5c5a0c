"""The only place that builds clients for the challenges service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from challenges.api import router
from challenges.config import ChallengesSettings
from challenges.service import ChallengeService
from challenges.store import ChallengeStore
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.http import build_app
from lrs_platform.kafka import make_producer
from lrs_platform.logging import configure_logging
from lrs_platform.outbox import Outbox
from lrs_platform.service import BackgroundTasks, service_resources

SERVICE = "challenges"


def create_app(settings: ChallengesSettings | None = None) -> FastAPI:
    settings = settings or ChallengesSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_resources(app, settings, schema=SERVICE, migrations="challenges.migrations") as pool:
            producer = make_producer(settings.kafka_bootstrap_servers)
            await producer.start()
            wake = asyncio.Event()
            app.state.challenges = ChallengeService(ChallengeStore(pool), wake)
            tasks = BackgroundTasks()
            outbox = Outbox("challenges.outbox", CHALLENGE_EVENTS.name)
            tasks.start(outbox.relay_forever(pool, producer, wake), "challenge-outbox")
            try:
                yield
            finally:
                await tasks.stop()
                await producer.stop()

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
