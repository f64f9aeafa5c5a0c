"""The only place that builds clients for reporting: PostgreSQL, credentials and the faust app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import faust
from fastapi import FastAPI
from faust.contrib.asgi import bind_to_running_loop

from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS
from lrs_platform import parking_api
from lrs_platform.http import build_app, readiness
from lrs_platform.kafka import stop_within
from lrs_platform.logging import configure_logging
from lrs_platform.parking import ParkedMessages
from lrs_platform.parking_api import serve_dead_letters
from lrs_platform.service import BackgroundTasks, collect_less, service_resources
from reporting.api import router
from reporting.catch_up import begin as begin_catch_up
from reporting.catch_up import finish_when_read_past
from reporting.config import ReportingSettings
from reporting.projector import ReportingProjector
from reporting.store import ReportingStore
from reporting.stream import make_stream_app

SERVICE = "reporting"


FAUST_STOP_SECONDS = 30  # deploy/k8s/tests/test_shutdown.py counts it in reporting's grace period


@asynccontextmanager
async def faust_running(app: faust.App, *, stop_seconds: float) -> AsyncIterator[None]:
    """faust's `faust_app_running`, but its stop is abandoned after `stop_seconds`: with the broker away faust's stop
    ignores the cancellation `asyncio.wait_for` sends it, and shutdown waited past the pod's grace period."""
    bind_to_running_loop(app)
    app.finalize()
    if getattr(app.conf, "autodiscover", False):
        app.discover()
    started = await app.maybe_start()
    try:
        yield
    finally:
        if started:
            await stop_within(app.stop(), "faust app", stop_seconds)


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_resources(app, settings, schema=SERVICE, migrations="reporting.migrations") as pool:
            parked = ParkedMessages(pool, f"{SERVICE}_parked")
            await parked.migrate()
            app.state.reporting = ReportingStore(pool, dead_letters=parked)
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            app.state.projection_lag_bound = timedelta(seconds=settings.projection_lag_bound_seconds)
            projector = ReportingProjector(app.state.reporting, app.state.projection_lag_bound)
            read = (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
            catch_up = await begin_catch_up(
                app.state.reporting,
                settings.kafka_bootstrap_servers,
                settings.app_id,
                read,
                other_reads={settings.plr_log_group: [PLR_EVENTS.name]} if settings.read_plr_log else None,
            )
            readiness(app, publications=catch_up.readiness)
            stream = make_stream_app(settings, projector, parked, catch_up)
            app.state.stream_app = stream.faust
            serve_dead_letters(app, stream.dead_letters, stream.guard)
            async with faust_running(stream.faust, stop_seconds=FAUST_STOP_SECONDS):
                collect_less()
                tasks = BackgroundTasks()
                if stream.plr_log is not None:
                    tasks.start(stream.plr_log.run(), "reporting-plr-log")
                if catch_up.holding:
                    finishing = finish_when_read_past(
                        catch_up, settings.kafka_bootstrap_servers, stream.publish_every_month
                    )
                    tasks.start(finishing, "reporting-catch-up")
                try:
                    yield
                finally:
                    await tasks.stop()

    app = build_app(
        SERVICE,
        title="LRS MI reporting",
        description=(
            "Monthly management information per awarding organisation, computed by a faust-streaming app from "
            "`lrs.batch.outcomes.v1`, `lrs.plr.events.v1` and `lrs.challenge.events.v1`, and published to "
            "`lrs.reporting.submissions.v1`, `.timeliness.v1`, `.plr_timeliness.v1`, `.rejections.v1` and "
            "`.challenges.v1` (compacted, keyed `AO|yyyy-mm`, JSON Schemas in `contracts/schemas/`)."
        ),
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(parking_api.router)
    return app
