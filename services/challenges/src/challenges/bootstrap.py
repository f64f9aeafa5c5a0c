"""The only place that builds clients for the challenges service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from challenges.api import router
from challenges.config import ChallengesSettings
from challenges.log_follower import (
    FOLLOWER,
    CatchUp,
    HeldLearners,
    IdlePositions,
    LogEnds,
    PendingChallengeData,
    ResumeFromStoredPositions,
    StoredPositions,
    record_guard,
)
from challenges.plr_log import FOLLOWED_TOPICS
from challenges.record_store import PlrRecord
from challenges.recovery import CONSUMER as OWN_EVENTS
from challenges.recovery import OwnEvents
from challenges.service import ChallengeService
from challenges.store import ChallengeStore
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_domain.reference_files import load_register
from lrs_platform import parking_api
from lrs_platform.consumer import ConsumerLoop, PoisonGuard
from lrs_platform.http import build_app
from lrs_platform.kafka import make_consumer, make_producer, stop_within
from lrs_platform.keyring import Keyring
from lrs_platform.logging import configure_logging
from lrs_platform.outbox import Outbox
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, producer_publisher
from lrs_platform.service import BackgroundTasks, collect_less, service_resources

SERVICE = "challenges"
# A decided batch's events are read and written in a few polls: each poll costs a transaction, a
# lookup of held keys and a write of positions, whatever its size.
FOLLOWED_RECORDS_PER_POLL = 5_000
# The broker answers a fetch as soon as a committed record is there (at least one byte): the wait only
# paces the fetches that find nothing, which cost the idle process ~1 ms of CPU a second at 500 ms.
IDLE_FETCH_WAIT_MS = 2_000


def ao_names_of(settings: ChallengesSettings) -> dict[str, str]:
    """The AOs' names by id, from the reference files (`CHALLENGES_REFERENCE_DIR`, by default the shipped ones)."""
    register = load_register(Path(settings.reference_dir) if settings.reference_dir else None)
    return {ao_id: organisation.name for ao_id, organisation in register.items()}


def create_app(settings: ChallengesSettings | None = None) -> FastAPI:
    settings = settings or ChallengesSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)
    ao_names = ao_names_of(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_resources(app, settings, schema=SERVICE, migrations="challenges.migrations") as pool:
            producer = make_producer(settings.kafka_bootstrap_servers)
            await producer.start()
            ends_probe = make_consumer(settings.kafka_bootstrap_servers, group_id=None)
            await ends_probe.start()
            record = PlrRecord(pool)
            wake = asyncio.Event()
            log_ends = LogEnds(ends_probe)
            catch_up = CatchUp(record, log_ends, settings.catch_up_wait_ms / 1000)
            keyring_of_service = Keyring(pool, settings.keyring())
            office = DeadLetterOffice(ParkedMessages(pool, "challenges_parked"), producer_publisher(producer))
            await office.store.migrate()
            service = ChallengeService(
                ChallengeStore(pool, settings.raise_limit()),
                record,
                keyring_of_service,
                catch_up,
                wake,
                held=HeldLearners(office.store),
                ao_names=ao_names,
            )
            app.state.challenges = service
            guard = record_guard(FOLLOWER, record, service.forget_learners, office)
            idle_positions = IdlePositions(record)
            follower = ConsumerLoop(
                guard,
                FOLLOWED_TOPICS,
                idle_positions.consumers(
                    lambda: make_consumer(
                        settings.kafka_bootstrap_servers,
                        group_id=settings.consumer_group,
                        fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,
                    )
                ),
                listener=lambda consumer: ResumeFromStoredPositions(consumer, record),
                progress=StoredPositions(record),
                max_records=FOLLOWED_RECORDS_PER_POLL,
            )
            idle_positions.watch(follower)
            # its own events read back: what a restored database lost of them comes back (challenges.recovery)
            own_events_guard = PoisonGuard(
                OWN_EVENTS, OwnEvents(ChallengeStore(pool), keyring_of_service).apply, office
            )
            parking_api.serve_dead_letters(app, office, guard, own_events_guard)
            own_events = ConsumerLoop(
                own_events_guard,
                [CHALLENGE_EVENTS.name],
                lambda: make_consumer(
                    settings.kafka_bootstrap_servers,
                    group_id=f"{settings.consumer_group}-own-events",
                    fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,
                ),
                listener=lambda consumer: ResumeFromStoredPositions(consumer, record, fresh_at_end=True),
                progress=StoredPositions(record),
            )

            collect_less()
            tasks = BackgroundTasks()
            tasks.start(follower.run(), "plr-record")
            tasks.start(idle_positions.run(), "plr-record-idle-positions")
            tasks.start(own_events.run(), "own-events")
            # challenges raised before migration 0012 take the achievement's data once the record has read it again
            tasks.start(PendingChallengeData(record, log_ends).run(), "challenge-data-fill")
            outbox = Outbox("challenges.outbox", CHALLENGE_EVENTS.name)
            tasks.start(outbox.relay_forever(pool, producer, wake), "challenge-outbox")
            try:
                yield
            finally:
                await tasks.stop()
                await stop_within(ends_probe, "log-end probe")
                await stop_within(producer, "producer")

    app = build_app(
        SERVICE,
        title="LRS Event Data Challenges",
        description=(
            "A learner raises an Event Data Challenge when an achievement on their Personal Learning Record has a "
            "data error (wrong grade, wrong date, not theirs). It is **not an appeal** against a result. The "
            "awarding organisation that recorded the achievement is emailed, acknowledges and resolves it; each change "
            "is published to `lrs.challenge.events.v1`. The achievement is checked against the service's own copy of "
            "the PLR log, and the AO is taken from it."
        ),
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(parking_api.router)
    return app
