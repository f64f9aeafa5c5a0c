"""The only place that builds clients for the validation service."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import build_app, readiness
from lrs_platform.identity import CredentialStore
from lrs_platform.kafka import ensure_topics, kafka_reachable, make_consumer, make_producer, wait_for_kafka
from lrs_platform.logging import configure_logging, get_logger
from validation.api import router
from validation.catalogue_publisher import publish_catalogue
from validation.config import ValidationSettings
from validation.decider import Decider
from validation.decision_store import DecisionStore
from validation.outbox import relay_forever
from validation.reference_store import ReferenceFiles, ReferenceStore

SERVICE = "validation"
_log = get_logger("validation")


def _exit_when_failed(task: asyncio.Task[None]) -> None:
    """A dead background loop must not leave a process that looks alive: stop and let it restart."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("background_task_failed", task=task.get_name(), error=repr(task.exception()))
        os.kill(os.getpid(), signal.SIGTERM)


def create_app(settings: ValidationSettings | None = None) -> FastAPI:
    settings = settings or ValidationSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=8)
        async with pool.acquire() as connection:
            await apply_migrations(connection, SERVICE, "validation.migrations")
        credentials = CredentialStore(pool)
        await credentials.migrate()
        reference = ReferenceStore(pool)
        first_load = settings.load_reference_on_start and await reference.is_empty()
        if first_load:
            await reference.load(ReferenceFiles.read(settings.reference_dir))
        await wait_for_kafka(settings.kafka_bootstrap_servers)
        await ensure_topics(settings.kafka_bootstrap_servers)

        instance = settings.instance_id or uuid.uuid4().hex[:12]
        producer = make_producer(settings.kafka_bootstrap_servers, transactional_id=f"validation-{instance}")
        outbox_producer = make_producer(settings.kafka_bootstrap_servers)
        consumer = make_consumer(
            settings.kafka_bootstrap_servers, group_id=settings.consumer_group, max_poll_interval_ms=600_000
        )
        await producer.start()
        await outbox_producer.start()
        if first_load:
            catalogue, _ = await reference.current()
            await publish_catalogue(outbox_producer, catalogue, await reference.version())
        decider = Decider(consumer, producer, settings.consumer_group, reference, DecisionStore(pool))
        decider.subscribe()
        await consumer.start()

        app.state.settings = settings
        app.state.credentials = credentials
        app.state.reference = reference
        app.state.outbox_wake = asyncio.Event()
        app.state.outbox_producer = outbox_producer
        app.state.decider = decider
        tasks = [
            asyncio.create_task(decider.run(), name="decider"),
            asyncio.create_task(relay_forever(pool, outbox_producer, app.state.outbox_wake), name="learner-outbox"),
        ]
        for task in tasks:
            task.add_done_callback(_exit_when_failed)
        readiness(
            app,
            postgres=lambda: database_reachable(pool),
            kafka=lambda: kafka_reachable(settings.kafka_bootstrap_servers),
        )
        try:
            yield
        finally:
            for task in tasks:
                task.remove_done_callback(_exit_when_failed)
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await consumer.stop()
            await producer.stop()
            await outbox_producer.stop()
            await pool.close()

    app = build_app(
        SERVICE,
        title="LRS Validation",
        description="Decides achievement batches against the rules, the reference data and the learner registry.",
        lifespan=lifespan,
    )
    app.include_router(router)
    return app
