"""The only place that builds clients for the validation service."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from lrs_contracts.codes import LEARNER_IMPORT_BYTES
from lrs_contracts.topics import LEARNER_EVENTS, MAINTENANCE
from lrs_platform import parking_api
from lrs_platform.database import create_pool
from lrs_platform.http import build_app
from lrs_platform.kafka import MAX_MESSAGE_BYTES, make_consumer, make_producer, stop_within
from lrs_platform.keyring import Keyring, KeyringKey, KeyringNotConfigured, migrate
from lrs_platform.logging import configure_logging
from lrs_platform.maintenance import MaintenanceGate
from lrs_platform.outbox import Outbox
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, producer_publisher
from lrs_platform.parking_api import serve_dead_letters
from lrs_platform.service import BackgroundTasks, collect_less, service_resources
from validation.api import router
from validation.catalogue_publisher import publish_newest_load
from validation.config import ValidationSettings
from validation.decider import CONSUMER as DECIDER_CONSUMER
from validation.decider import Decider
from validation.decision_store import DecisionStore
from validation.disclosures import Disclosures
from validation.learner_registry import LearnerRegistry
from validation.reference_store import ReferenceFiles, ReferenceStore
from validation.sandpit import RegistryFollower, SandpitResets, own_dead_letter_topics
from validation.sandpit_catalogue import CatalogueFollower

SERVICE = "validation"
PARTITION_FETCH_BYTES = 1_048_576  # a fetch's share of one partition of the submitted topic


def create_app(settings: ValidationSettings | None = None) -> FastAPI:
    settings = settings or ValidationSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keyring_key = settings.keyring()  # KeyringNotConfigured stops start-up, saying what to set
        sandpit = settings.environment.is_sandpit
        if sandpit and not settings.live_database_url:
            raise KeyringNotConfigured(
                "VALIDATION_LIVE_DATABASE_URL is not set: the Sandpit's copy of the live learner registry"
                " cannot open live's sealed registrations without live's learner keys"
            )
        async with (
            service_resources(app, settings, schema=SERVICE, migrations="validation.migrations", pool_size=5) as pool,
            _decider_pool(settings) as decider_pool,
            _live_keys(settings, keyring_key) as live_keys,
        ):
            await migrate(pool)  # the learner key store is this service's: before anything uses a key
            keyring = Keyring(pool, keyring_key)
            reference = ReferenceStore(pool)
            learner_registry = LearnerRegistry(pool, keyring)
            first_load = (
                settings.load_reference_on_start
                and await reference.is_empty()
                and await reference.load_first(ReferenceFiles.read(settings.reference_dir))
            )

            topics = settings.topics
            instance = settings.instance_id or uuid.uuid4().hex[:12]
            producer = make_producer(
                settings.kafka_bootstrap_servers, transactional_id=topics.group(f"validation-{instance}")
            )
            outbox_producer = make_producer(settings.kafka_bootstrap_servers)
            group = topics.group(settings.consumer_group)
            # A fetch brings at most 8 MB (a larger record batch still comes whole), not the default 32 MB:
            # the batches queued behind the one being decided wait on the broker, not in this process. And at
            # most 1 MB of one partition (about half a batch of 10,000 records): with 8 MB a partition's buffer
            # held five of one AO's big batches, and a small batch of another AO's partition, fetched later,
            # waited behind all five (6 s on results day; decision 0171).
            consumer = make_consumer(
                settings.kafka_bootstrap_servers,
                group_id=group,
                name=DECIDER_CONSUMER,  # its lrs_consumer_* series' name, as the decider's own
                max_poll_interval_ms=600_000,
                fetch_max_bytes=MAX_MESSAGE_BYTES,
                max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
            )
            await producer.start()
            await outbox_producer.start()
            # the Sandpit follows live's catalogue topic (`CatalogueFollower`, below), never writes it
            if first_load and not sandpit:
                await publish_newest_load(reference, outbox_producer)  # and its keys kept, for the next load
            dead_letters = DeadLetterOffice(
                ParkedMessages(pool, f"{SERVICE}_parked"),
                # a Sandpit's dead letters of the live learner log go to its own DLQ, never live's (decision 0060)
                own_dead_letter_topics(producer_publisher(outbox_producer), topics),
            )
            await dead_letters.store.migrate()
            maintenance = MaintenanceGate(
                settings.kafka_bootstrap_servers, settings.topics.of(MAINTENANCE), "validation.decider"
            )
            # the decider's reads and writes on its own pool; its key cache is the API's, so a learner erased
            # through this pod's API has no key cached for the decider either
            decider_keys = keyring.on_pool(decider_pool)
            decider = Decider(
                consumer,
                producer,
                group,
                reference.on_pool(decider_pool),
                DecisionStore(decider_pool),
                dead_letters,
                registry=LearnerRegistry(decider_pool, decider_keys),
                keys=decider_keys,
                maintenance=maintenance,
                topics=topics,
                resets=SandpitResets(decider_pool, producer, topics) if sandpit else None,
            )
            serve_dead_letters(app, dead_letters, decider)
            decider.subscribe()
            await consumer.start()

            app.state.settings = settings
            app.state.reference = reference
            app.state.learner_registry = learner_registry
            app.state.disclosures = Disclosures(pool)
            app.state.keyring = keyring
            app.state.outbox_wake = asyncio.Event()
            app.state.outbox_producer = outbox_producer
            app.state.decider = decider
            collect_less()
            tasks = BackgroundTasks()
            tasks.start(maintenance.follow(), "maintenance-schedule")
            tasks.start(decider.run(), "decider")
            tasks.start(DecisionStore(pool).forget_published_messages_forever(), "decision-messages-retention")
            if live_keys is not None:  # the Sandpit: a read-only copy of the live registry
                follower = RegistryFollower(pool, settings.kafka_bootstrap_servers, topics, live_keys, keyring)
                registry_loop = follower.consumer_loop(dead_letters)
                serve_dead_letters(app, dead_letters, registry_loop.guard)
                tasks.start(registry_loop.run(), "sandpit-registry-follower")
                # and of live's catalogue: each live reference load, once it has read all its rows
                catalogue_follower = CatalogueFollower(reference, settings.kafka_bootstrap_servers, topics)
                catalogue_loop = catalogue_follower.consumer_loop(dead_letters)
                serve_dead_letters(app, dead_letters, catalogue_follower)
                tasks.start(catalogue_loop.run(), "sandpit-catalogue-follower")
            else:
                learner_outbox = Outbox("validation.learner_outbox", LEARNER_EVENTS.name)
                relay = learner_outbox.relay_forever(pool, outbox_producer, app.state.outbox_wake)
                tasks.start(relay, "learner-outbox")
            try:
                yield
            finally:
                await tasks.stop()
                await stop_within(consumer, "decider consumer")
                await stop_within(producer, "decider producer")
                await stop_within(outbox_producer, "outbox producer")

    app = build_app(
        SERVICE,
        title="LRS Validation",
        description="Decides achievement batches against the rules, the reference data and the learner registry.",
        lifespan=lifespan,
        environment=settings.environment,
        body_limits={"/v1/learners/import": LEARNER_IMPORT_BYTES},
    )
    app.include_router(router)
    app.include_router(parking_api.router)
    return app


@asynccontextmanager
async def _decider_pool(settings: ValidationSettings) -> AsyncIterator[asyncpg.Pool]:
    """The decider's own 3 connections, beside the 5 of the pool the HTTP API, the outbox relay and the Sandpit's
    followers share: a burst of registrations (`POST /v1/learners`, 30 at once) held every connection of a single
    pool of 8, and each decision waited ~20 s for one (the noisy-neighbour walk, finding 5). The most it uses at
    once: a chunk's learners and their keys read together while its batch's setup reads the registry's snapshot,
    or a decision stored. The pod's total stays 8 (docs/deploy.md, "Connection budget")."""
    pool = await create_pool(settings.database_url, max_size=3)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def _live_keys(settings: ValidationSettings, key: KeyringKey) -> AsyncIterator[Keyring | None]:
    """The Sandpit's read-only view of live's learner keys (found, never issued or erased); None on live."""
    if not settings.environment.is_sandpit or not settings.live_database_url:
        yield None
        return
    live_pool = await create_pool(settings.live_database_url, max_size=2)
    try:
        yield Keyring(live_pool, key)
    finally:
        await live_pool.close()
