"""The only place that builds clients for the notifier."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import build_app, readiness
from lrs_platform.identity import CredentialStore
from lrs_platform.kafka import ensure_topics, kafka_reachable, make_consumer, make_producer, wait_for_kafka
from lrs_platform.logging import configure_logging, get_logger
from notifier.api import router
from notifier.config import NotifierSettings
from notifier.consumer import TOPICS, NotificationConsumer
from notifier.handlers import Notifications, RetryPolicy
from notifier.mailer import SmtpMailer
from notifier.store import ContactStore, DeliveryLog

SERVICE = "notifier"
_log = get_logger("notifier")


def _exit_when_failed(task: asyncio.Task[None]) -> None:
    """A dead consumer loop must not leave a process that looks alive: stop and let it restart."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("background_task_failed", task=task.get_name(), error=repr(task.exception()))
        os.kill(os.getpid(), signal.SIGTERM)


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=5)
        async with pool.acquire() as connection:
            await apply_migrations(connection, SERVICE, "notifier.migrations")
        app.state.credentials = CredentialStore(pool)
        await app.state.credentials.migrate()
        app.state.contacts = ContactStore(pool)
        await wait_for_kafka(settings.kafka_bootstrap_servers)
        await ensure_topics(settings.kafka_bootstrap_servers)

        mailer = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            start_tls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
        )
        notifications = Notifications(
            mailer,
            DeliveryLog(pool),
            app.state.contacts,
            mail_from=settings.mail_from,
            domain=settings.message_id_domain,
            retry=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
        )
        producer = make_producer(settings.kafka_bootstrap_servers)
        consumer = make_consumer(settings.kafka_bootstrap_servers, *TOPICS, group_id=settings.consumer_group)
        await producer.start()
        await consumer.start()
        task = asyncio.create_task(NotificationConsumer(consumer, producer, notifications).run(), name="notifier")
        task.add_done_callback(_exit_when_failed)
        readiness(
            app,
            postgres=lambda: database_reachable(pool),
            kafka=lambda: kafka_reachable(settings.kafka_bootstrap_servers),
        )
        try:
            yield
        finally:
            task.remove_done_callback(_exit_when_failed)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()
            await producer.stop()
            await pool.close()

    app = build_app(
        SERVICE,
        title="LRS Notifier",
        description=(
            "Emails awarding organisations when a batch run completes or fails, and when a learner raises an "
            "Event Data Challenge. Each email is sent at least once, with a Message-ID derived from the event id."
        ),
        lifespan=lifespan,
    )
    app.include_router(router)
    return app
