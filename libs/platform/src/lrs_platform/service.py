"""What every service does at start-up and shutdown, written once.

`service_resources` opens the PostgreSQL pool, applies the service's migrations and the identity
schema, waits for Kafka and creates the topics, and registers the readiness checks.
`BackgroundTasks` runs the consumer loops and relays; a loop that dies stops the process, because a
process that answers `/healthz` while its loop is dead would hide the failure from the supervisor.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError, ProducerFenced
from fastapi import FastAPI

from lrs_contracts.topics import ALL_TOPICS
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import readiness
from lrs_platform.kafka import ensure_topics, kafka_reachable, wait_for_kafka
from lrs_platform.logging import get_logger
from lrs_platform.settings import ServiceSettings

_log = get_logger("lrs.service")

# Shutdown must end: Kubernetes kills a pod its terminationGracePeriodSeconds after it began stopping it (60 s,
# reporting 75 s: the preStop, the open requests' drain, then this and the clients' stops; deploy/k8s/tests/
# test_shutdown.py adds them up), and a test tears a service down in-process.
SHUTDOWN_SECONDS = 10.0


@asynccontextmanager
async def service_resources(
    app: FastAPI,
    settings: ServiceSettings,
    *,
    schema: str,
    migrations: str,
    pool_size: int = 5,
    wait_for_kafka_at_start: bool = True,
) -> AsyncIterator[asyncpg.Pool]:
    """The pool (closed on exit) with the schema migrated, `app.state.credentials`, topics, readiness.

    With `wait_for_kafka_at_start=False` the service starts without Kafka (and reports not ready).
    """
    pool = await create_pool(settings.database_url, max_size=pool_size)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, schema, migrations)
        credentials = CredentialStore(pool, environment=settings.environment)
        await credentials.migrate()
        app.state.credentials = credentials
        if wait_for_kafka_at_start:
            await wait_for_kafka(settings.kafka_bootstrap_servers)
            await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.declared(ALL_TOPICS))
        readiness(
            app,
            postgres=lambda: database_reachable(pool),
            kafka=lambda: kafka_reachable(settings.kafka_bootstrap_servers),
        )
        yield pool
    finally:
        await pool.close()


def collect_less() -> None:
    """Called once a service has started. A batch keeps ~10^5 objects alive while it is handled: with
    the collector's default thresholds each of them is scanned again by every younger collection (~40%
    of a validation decision's CPU, decision 0034). The services make few reference cycles, so the
    collector runs far less often, and what start-up built is frozen out of its scans."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _stop_process_when_failed(task: asyncio.Task[Any]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None:
        _log.error(
            "background_task_failed",
            task=task.get_name(),
            error=repr(error),
            cause=failure_cause(error),
            then="the process stops, to be started again by its supervisor (Kubernetes restarts the pod;"
            " under make up: make restart)",
        )
        os.kill(os.getpid(), signal.SIGTERM)


def failure_cause(error: BaseException) -> str:
    """What a loop's fatal error means, for the operator reading the log line."""
    if isinstance(error, KafkaTimeoutError):
        return "Kafka did not answer within the client's timeout: a broker stopped, frozen or unreachable"
    if isinstance(error, ProducerFenced):
        return "another instance took over this instance's transactional id (two instances with one INSTANCE_ID?)"
    if isinstance(error, KafkaError):
        return f"Kafka refused or failed a request ({type(error).__name__})"
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return f"PostgreSQL failed a request ({type(error).__name__})"
    return f"an unexpected {type(error).__name__}: a defect to report with this line"


@dataclass
class BackgroundTasks:
    """The service's long-running loops: started together, cancelled together."""

    stop_process_on_failure: bool = True
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def start(self, loop: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(loop, name=name)
        if self.stop_process_on_failure:
            task.add_done_callback(_stop_process_when_failed)
        self._tasks.append(task)
        return task

    async def stop(self, within: float = SHUTDOWN_SECONDS) -> None:
        """Cancels the loops and waits for them at most `within` seconds; one that does not end by
        then is left behind (the process is exiting) with a warning rather than holding shutdown."""
        for task in self._tasks:
            task.remove_done_callback(_stop_process_when_failed)
            task.cancel()
        if self._tasks:
            ended, still_running = await asyncio.wait(self._tasks, timeout=within)
            for task in ended:
                if not task.cancelled():
                    task.exception()  # retrieved: the loop is over either way
            for task in still_running:
                _log.warning("background_task_did_not_stop", task=task.get_name(), after_s=within)
        self._tasks.clear()
