"""The only place that builds clients for the notifier."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_domain.reference import AwardingOrganisation
from lrs_domain.reference_files import load_register
from lrs_platform import parking_api
from lrs_platform.consumer import ConsumerLoop, PoisonGuard, RetryPolicy
from lrs_platform.http import build_app, readiness
from lrs_platform.kafka import make_consumer, make_producer, stop_within
from lrs_platform.keyring import Keyring
from lrs_platform.logging import configure_logging
from lrs_platform.mail import smtp_mailer
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, producer_publisher
from lrs_platform.parking_api import serve_dead_letters
from lrs_platform.service import BackgroundTasks, collect_less, service_resources
from notifier.api import deliveries_router, held_router, router
from notifier.config import NotifierSettings
from notifier.consumer import CONSUMER, TOPICS, NotificationHandler
from notifier.deliveries_said import waiting_readiness
from notifier.handlers import CHALLENGE_NOTICE_KINDS, EMAILED_KINDS, Notifications
from notifier.metrics import count_from_zero
from notifier.sandpit import SandpitMailer
from notifier.store import (
    ChallengeNotices,
    ContactChangeNotices,
    ContactStore,
    DeferredEmails,
    DeliveryLog,
    RejectionTallies,
)

SERVICE = "notifier"
# The broker answers a fetch as soon as a committed record is there (at least one byte): the wait only
# paces the fetches that find nothing, which cost the idle process ~1 ms of CPU a second at 500 ms.
IDLE_FETCH_WAIT_MS = 2_000


def register_of(settings: NotifierSettings) -> dict[str, AwardingOrganisation]:
    """The AO register of the reference files (`NOTIFIER_REFERENCE_DIR`, by default the shipped ones), as the notifier
    reads it as it starts: `make restart`'s check (scripts/dev/check_settings.py) reads it the same way first."""
    return load_register(Path(settings.reference_dir) if settings.reference_dir else None)


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)
    count_from_zero(EMAILED_KINDS, held=CHALLENGE_NOTICE_KINDS)
    register = register_of(settings)  # the AOs an operator may set a contact for; their names, for batch emails

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_resources(app, settings, schema=SERVICE, migrations="notifier.migrations") as pool:
            app.state.contacts = ContactStore(pool)
            app.state.deferred = DeferredEmails(pool)
            app.state.deliveries = DeliveryLog(pool)
            smtp = smtp_mailer(settings.smtp_host, settings)
            mailer = SandpitMailer(smtp) if settings.environment.is_sandpit else smtp
            retry = RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds)
            notifications = Notifications(
                mailer,
                app.state.deliveries,
                app.state.contacts,
                RejectionTallies(pool),
                Keyring(pool, settings.keyring()),
                mail_from=settings.mail_from,
                public_base_url=settings.public_base_url,
                domain=settings.message_ids_domain,
                retry=retry,
                deferred=app.state.deferred,
                recipient_retry=RetryPolicy(
                    settings.recipient_retry_base_seconds, settings.recipient_retry_max_seconds
                ),
                defer_refused=not settings.environment.is_sandpit,
                contact_changes=ContactChangeNotices(pool),
                ao_names={ao_id: organisation.name for ao_id, organisation in register.items()},
                service_desk=settings.service_desk,
                sandpit=settings.environment.is_sandpit,
                challenge_notices=ChallengeNotices(pool, CHALLENGE_NOTICE_KINDS),
            )
            app.state.notifications = notifications
            producer = make_producer(settings.kafka_bootstrap_servers)
            await producer.start()
            dead_letters = DeadLetterOffice(ParkedMessages(pool, f"{SERVICE}_parked"), producer_publisher(producer))
            await dead_letters.store.migrate()
            # each email leaves ~50 KB in reference cycles (the SMTP client's): collected as it goes, not frozen
            guard = PoisonGuard(
                CONSUMER, NotificationHandler(notifications), dead_letters, retry, pause_collector=False
            )
            loop = ConsumerLoop(
                guard,
                [settings.topics.physical(topic) for topic in TOPICS],
                lambda: make_consumer(
                    settings.kafka_bootstrap_servers,
                    group_id=settings.topics.group(settings.consumer_group),
                    fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,
                ),
                max_records=200,
            )
            serve_dead_letters(app, dead_letters, guard)
            # a batch's messages parked here are said on `GET /v1/deliveries?batch=ID` (X-LRS-Held-In-Dead-Letters)
            app.state.batch_outcomes_topic = settings.topics.of(BATCH_OUTCOMES)
            # what the consumer is retrying, said to the desk asking after an email not handled yet (it waits behind
            # it): `GET /v1/deliveries`'s X-LRS-Notifier-Waiting, and `/readyz`'s `emails`, which the portal reads
            app.state.consumer_attempts = guard.attempts
            readiness(app, emails=functools.partial(waiting_readiness, guard.attempts))
            collect_less()
            tasks = BackgroundTasks()
            tasks.start(loop.run(), "notifier")
            tasks.start(notifications.run_deferred(settings.deferred_poll_seconds), "notifier-deferred-emails")
            try:
                yield
            finally:
                # the email being sent is let finish and be recorded before the loops are cancelled: cut off after
                # the relay had it, it was sent again after the restart (a second copy to a person)
                await notifications.stop()
                await tasks.stop()
                await stop_within(producer, "producer")

    app = build_app(
        SERVICE,
        title="LRS Notifier",
        description=(
            "Emails awarding organisations when a batch run completes or fails, and when a learner raises an "
            "Event Data Challenge. Each email is sent at least once, with a Message-ID derived from the event id."
        ),
        lifespan=lifespan,
        environment=settings.environment,
    )
    app.state.register = frozenset(register)  # the AOs an operator may set a contact for
    live = not settings.environment.is_sandpit  # the Sandpit's document names no live-only route (`live_only`)
    app.include_router(router, include_in_schema=live)
    app.include_router(held_router, include_in_schema=live)
    app.include_router(deliveries_router)
    app.include_router(parking_api.router)
    return app
