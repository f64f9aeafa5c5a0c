"""The only place that builds clients for the ingest service."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ingest import api, sandpit_api
from ingest.config import IngestSettings
from ingest.maintenance import MaintenanceAnnouncer, MaintenanceStore, schedules_on_topic
from ingest.outcomes import OutcomeConsumer
from ingest.publisher import TransactionalPublisher
from ingest.reconciler import BatchViewReconciler
from ingest.repository import SCHEMA, BatchRepository
from ingest.sandpit import ResetFollower, SandpitResets, SandpitResetStore
from ingest.service import BatchSubmissions, ChunkLimits, DecisionSignal
from ingest.uploads import UploadGate
from lrs_contracts.dead_letters import Headers
from lrs_contracts.topics import ALL_TOPICS, BATCH_OUTCOMES, MAINTENANCE
from lrs_domain.reference_files import load_register
from lrs_platform import parking_api
from lrs_platform.consumer import PoisonGuard
from lrs_platform.http import build_app, readiness
from lrs_platform.kafka import committed_offsets, ensure_topics, topic_partitions
from lrs_platform.keyring import Keyring, KeyringUnavailable
from lrs_platform.logging import configure_logging
from lrs_platform.parking import DeadLetterOffice, DeadLetterPublisher, ParkedMessages
from lrs_platform.parking_api import serve_dead_letters
from lrs_platform.service import BackgroundTasks, collect_less, service_resources

SERVICE = "ingest"


def sandpit_register_of(settings: IngestSettings) -> frozenset[str]:
    """The AO register the Sandpit's ingest reads as its app is made: the ids of the AOs an operator may reset."""
    return frozenset(load_register(Path(settings.reference_dir) if settings.reference_dir else None))


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Kafka may be away at start: the service still answers reads, and 503 for submissions.
        async with service_resources(
            app,
            settings,
            schema=SCHEMA,
            migrations="ingest.migrations",
            pool_size=settings.pool_max_size,
            wait_for_kafka_at_start=False,
        ) as pool:
            topics = settings.topics
            publisher = TransactionalPublisher(
                settings.kafka_bootstrap_servers,
                topics.group(f"ingest-{settings.instance_id or secrets.token_hex(6)}"),
                start_timeout=settings.kafka_start_timeout_seconds,
                publish_timeout=settings.publish_timeout_seconds,
                prepare_topics=lambda bootstrap: ensure_topics(bootstrap, topics.declared(ALL_TOPICS)),
            )
            keyring = Keyring(pool, settings.keyring())
            readiness(app, keyring=lambda: _keyring_ready(keyring))
            batches = BatchRepository(pool)
            signal = DecisionSignal()
            app.state.settings = settings
            app.state.batches = batches
            app.state.decision_signal = signal
            app.state.uploads = UploadGate(per_caller=settings.max_uploads_per_caller, overall=settings.max_uploads)
            app.state.downloads = UploadGate(per_caller=settings.max_downloads_per_caller, overall=None)
            app.state.submissions = BatchSubmissions(
                batches,
                publisher,
                keyring,
                chunk_limits=ChunkLimits(settings.chunk_records, settings.chunk_bytes),
                row_lock_timeout=settings.row_lock_timeout_seconds,
                publish_timeout=settings.publish_timeout_seconds,
                topics=topics,
            )
            # The loops retry on their own while Kafka is away, so a failure here is a bug: stop.
            collect_less()
            tasks = BackgroundTasks()
            tasks.start(publisher.warm_up(), "ingest-producer-warm-up")
            app.state.maintenance = MaintenanceStore(pool, environment=settings.environment)
            maintenance_topic = settings.topics.of(MAINTENANCE)
            announcer = MaintenanceAnnouncer(
                app.state.maintenance,
                publisher,
                maintenance_topic,
                read_topic=lambda: schedules_on_topic(settings.kafka_bootstrap_servers, maintenance_topic),
            )
            app.state.maintenance_announcer = announcer
            tasks.start(announcer.run(), "ingest-maintenance-announcer")
            dead_letters = DeadLetterOffice(ParkedMessages(pool, f"{SCHEMA}_parked"), _dead_letter_publisher(publisher))
            await dead_letters.store.migrate()
            consumers: list[PoisonGuard] = []
            if settings.outcomes_enabled:
                outcomes_group = topics.group(settings.outcomes_group_id)
                consumer = OutcomeConsumer(
                    settings.kafka_bootstrap_servers,
                    outcomes_group,
                    batches,
                    dead_letters,
                    signal,
                    topic=topics.of(BATCH_OUTCOMES),
                )
                app.state.outcome_consumer = consumer
                consumers.append(consumer.guard)
                tasks.start(consumer.run(), "ingest-outcome-consumer")
                reconciler = BatchViewReconciler(
                    settings.kafka_bootstrap_servers,
                    batches,
                    signal,
                    stale_after=settings.reconcile_after_seconds,
                    interval=settings.reconcile_interval_seconds,
                    consumer_passed=lambda: committed_offsets(settings.kafka_bootstrap_servers, outcomes_group),
                    partitions_of=lambda bootstrap: topic_partitions(bootstrap, topics.of(BATCH_OUTCOMES)),
                )
                tasks.start(reconciler.run(), "ingest-batch-view-reconciler")
            if settings.environment.is_sandpit:
                resets = SandpitResetStore(pool)
                sandpit_resets = SandpitResets(
                    resets, publisher, topics, publish_timeout=settings.publish_timeout_seconds
                )
                app.state.sandpit_resets = sandpit_resets
                tasks.start(sandpit_resets.run(), "ingest-sandpit-resets-queued")
                follower = ResetFollower(
                    resets,
                    settings.kafka_bootstrap_servers,
                    topics,
                    signal if settings.outcomes_enabled else None,
                    dead_letters,
                )
                app.state.sandpit_reset_follower = follower
                consumers.append(follower.guard)
                tasks.start(follower.run(), "ingest-sandpit-resets")
            serve_dead_letters(app, dead_letters, *consumers)
            try:
                yield
            finally:
                await tasks.stop()
                await publisher.stop()

    app = build_app(
        SERVICE,
        title="LRS Achievement Batches",
        description=(
            "Submit Achievement Batch and View Achievement Batch: awarding organisations upload batch files"
            " (CSV, XML or JSON; at most 6 MB and 10,000 records) and follow what became of each record."
        ),
        lifespan=lifespan,
        environment=settings.environment,
        body_limits={"/v1/batches": None},  # a batch file is bounded while it streams: RS002 at 6 MB
    )
    api.install(app)
    if settings.environment.is_sandpit:
        app.state.register = sandpit_register_of(settings)  # the AOs an operator may reset
        app.include_router(sandpit_api.router)
    app.include_router(parking_api.router)
    return app


async def _keyring_ready(keyring: Keyring) -> str:
    """Submissions need the learner key store, which the validation service creates when it starts."""
    if not await keyring.ready():
        raise KeyringUnavailable("the learner key store does not exist yet or cannot be reached")
    return "ok"


def _dead_letter_publisher(publisher: TransactionalPublisher) -> DeadLetterPublisher:
    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await publisher.publish(topic, key or b"", [value or b""], headers=headers)

    return publish
