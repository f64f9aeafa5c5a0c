"""The only place that builds clients for the PLR projector."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lrs_contracts import topics as contract_topics
from lrs_contracts.environments import TopicNames
from lrs_platform.consumer import RetryPolicy
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import build_app, readiness
from lrs_platform.kafka import ensure_topics, kafka_reachable, make_producer, stop_within, wait_for_kafka
from lrs_platform.logging import configure_logging, get_logger
from lrs_platform.parking import OLDEST_PARKED, PARKED
from lrs_platform.service import collect_less
from plr_projector import metrics
from plr_projector.api import admin_router, centre_router, credential_router, operation_problem, plr_router
from plr_projector.config import ProjectorSettings
from plr_projector.consumer import Runner, Topics
from plr_projector.credential_keys import CredentialKeys, KeyEncryptionKey
from plr_projector.credential_routes import CredentialSigning
from plr_projector.credentials import CredentialIssuer
from plr_projector.dead_letters import DeadLetters
from plr_projector.endpoints import Projector
from plr_projector.operations import LogProbe, OperationError
from plr_projector.projection import OperatorAction, Position
from plr_projector.rebuild_jobs import Rebuilds, RebuildSettings
from plr_projector.replays import Replays
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, OPS_MIGRATIONS, OPS_SCHEMA, ReadModel

SERVICE = "plr-projector"
_PROJECTED = (contract_topics.PLR_EVENTS, contract_topics.LEARNER_EVENTS, contract_topics.CHALLENGE_EVENTS)

_log = get_logger("plr_projector")
# the parked events are counted again at least this often, though the statistics show no write to them
PARKED_RECOUNT_SECONDS = 30.0


# after failures in a row, the metrics are updated again at most this long after the last (PostgreSQL away)
METRICS_RETRY_MAX_SECONDS = 60.0


async def _publish_metrics(
    projector: Projector, interval: float, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    """Updates the live projection's gauges every `interval` seconds. A failed update (PostgreSQL away) is tried
    again after `interval`, then twice as long after each further failure in a row, at most
    `METRICS_RETRY_MAX_SECONDS` (a warning each time, not every 2 s through an outage: sre walk, finding 5); the
    first update that works again says so once and goes back to `interval`."""
    recount = metrics.Recount(every_seconds=PARKED_RECOUNT_SECONDS)
    back_off = RetryPolicy(base_seconds=interval, max_seconds=max(interval, METRICS_RETRY_MAX_SECONDS))
    failures = 0
    while True:
        try:
            await _update_metrics(projector, recount)
        except Exception as error:  # metrics must never take the service down
            failures += 1
            delay = back_off.delay(failures)
            _log.warning("metrics_update_failed", error=type(error).__name__, failures=failures, retry_in=delay)
            await sleep(delay)
            continue
        if failures:
            _log.info("metrics_update_recovered", failures=failures)
            failures = 0
        await sleep(interval)


async def _update_metrics(projector: Projector, recount: metrics.Recount) -> None:
    for topic, lag in projector.live.lag().items():
        metrics.LAG_EVENTS.labels(topic).set(lag["events"])
        metrics.LAG_SECONDS.labels(topic).set(lag["seconds"])
    model, now = projector.model, time.monotonic()
    async with projector.pool.acquire() as connection:
        version = (model.schema, await model.parked_changes(connection))
        if recount.due(version, now):
            depth = await model.parked_depth(connection)
            oldest = await model.oldest_parked_at(connection)
            recount.counted(version, now)
            OLDEST_PARKED.labels(projector.live.attempts.consumer).set(oldest.timestamp() if oldest else 0)
            for reason, count in depth.items():
                metrics.DLQ_DEPTH.labels(reason).set(count)
                PARKED.labels(projector.live.attempts.consumer, reason).set(count)  # as other consumers
            projector.parked_depth = {"error": 0, "blocked": 0} | depth
    metrics.DLQ_STREAMS.set(len(projector.live.parked_streams))
    projector.rebuilds.status()


def _export_as_a_reader(live: Runner) -> None:
    """A plr-reader (`PROJECTOR_RUN_CONSUMER=false`) runs no live projection: it exports none of its consumer's
    series (`lrs_consumer_*{consumer="plr-projector.plr"}`), lag or dead letters (`lrs_projector_lag_*`,
    `lrs_projector_dlq_*`), its HTTP series only. A copy in each reader raised the parked-message alert once per
    reader and multiplied `sum(lrs_projector_dlq_depth)`; its lag and `retrying` of 0 diluted the projector's
    (sre walk, finding 3). Undone by `_export_as_the_projector`."""
    live.attempts.retire()  # the series its `Attempts` exported from its start
    for reason in ("error", "blocked"):
        with contextlib.suppress(KeyError):
            PARKED.remove(live.attempts.consumer, reason)
    with contextlib.suppress(KeyError):
        OLDEST_PARKED.remove(live.attempts.consumer)
    metrics.CONSUMER_SERIES.exported = False


def _export_as_the_projector() -> None:
    metrics.CONSUMER_SERIES.exported = True


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def credential_key_encryption_key(settings: ProjectorSettings) -> KeyEncryptionKey | None:
    """The key the credential signing keys are sealed under (`PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY`), None when
    unset; ValueError, never quoting the key, when it is not 32 bytes in base64. Pure: `make restart`'s check
    (scripts/dev/check_settings.py) calls it before it stops the running projector."""
    kek = settings.credential_key_encryption_key
    return KeyEncryptionKey.parse(kek.get_secret_value()) if kek else None


def create_app(settings: ProjectorSettings | None = None) -> FastAPI:
    settings = settings or ProjectorSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            pool = await create_pool(settings.database_url, max_size=10)
            stack.push_async_callback(pool.close)
            async with pool.acquire() as connection:
                await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
                await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
            app.state.credentials = CredentialStore(pool, environment=settings.environment)
            await app.state.credentials.migrate()
            bootstrap = settings.kafka_bootstrap_servers
            await wait_for_kafka(bootstrap)
            topics = Topics.of(settings)
            await ensure_topics(bootstrap, TopicNames(settings.environment, settings.topic_prefix).declared(_PROJECTED))
            producer = make_producer(bootstrap)
            await producer.start()
            stack.push_async_callback(stop_within, producer, "producer")
            operator_actions: dict[Position, OperatorAction] = {}

            def make_runner(name: str, model: ReadModel, dead_letters: bool) -> Runner:
                return Runner(
                    name,
                    model,
                    pool,
                    bootstrap,
                    topics,
                    max_batch_records=settings.max_batch_records,
                    poll_timeout_ms=settings.poll_timeout_ms,
                    dead_letter_producer=producer if dead_letters else None,
                    operator_actions=operator_actions,
                )

            live = make_runner("live", ReadModel(LIVE_SCHEMA), True)
            stack.push_async_callback(stop_within, live, "live runner")
            await live.start()
            probe = LogProbe(bootstrap, topics)
            stack.push_async_callback(stop_within, probe, "log probe")
            await probe.start()
            rebuilds = Rebuilds(pool, live, make_runner, probe, RebuildSettings.of(settings))
            stack.push_async_callback(stop_within, rebuilds, "rebuild runner")
            replays = Replays(pool, live, probe, bootstrap, settings.max_batch_records)
            stack.push_async_callback(replays.stop)
            projector = Projector(
                pool=pool,
                live=live,
                producer=producer,
                topics=topics,
                probe=probe,
                dead_letters=DeadLetters(live, lambda: [rebuilds.job.runner] if rebuilds.job else []),
                rebuilds=rebuilds,
                replays=replays,
                read_wait_max_ms=settings.read_wait_max_ms,
                takes_operator_actions=(
                    settings.run_consumer if settings.operator_actions is None else settings.operator_actions
                ),
            )
            app.state.projector = projector
            app.state.credential_signing = CredentialSigning(
                CredentialIssuer.at(settings.credential_issuer_url, settings.environment),
                CredentialKeys(pool, credential_key_encryption_key(settings)),
            )
            readiness(app, postgres=lambda: database_reachable(pool))
            if settings.run_consumer:
                # A reader (plr-reader) answers from PostgreSQL: a Kafka outage must not take its reads off the
                # ingress. What it asks Kafka for (an `after_batch` read's log end, a centre report) answers 503
                # by itself.
                readiness(
                    app,
                    kafka=lambda: kafka_reachable(bootstrap),
                    **{f"consumer {live.attempts.consumer}": projector.readiness},
                )
            collect_less()
            if settings.run_consumer:
                await live.publish_dead_letters()
                live.run_in_background()
                await rebuilds.resume()
                metrics_task = asyncio.create_task(_publish_metrics(projector, settings.metrics_interval_seconds))
                stack.push_async_callback(_cancel, metrics_task)
            else:
                _export_as_a_reader(live)
                stack.callback(_export_as_the_projector)  # another app of this process (a test's) may consume
            _log.info("projector_started", topic_prefix=settings.topic_prefix or None, consumer=settings.run_consumer)
            yield

    app = build_app(
        SERVICE,
        title="LRS Personal Learning Record",
        description="The PLR read model: learners, providers and AOs read achievements; operators rebuild, "
        "replay and manage dead letters.",
        lifespan=lifespan,
        environment=settings.environment,
    )
    app.include_router(plr_router)
    app.include_router(centre_router)
    app.include_router(admin_router)
    app.include_router(credential_router)
    app.add_exception_handler(OperationError, operation_problem)
    return app
