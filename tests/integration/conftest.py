"""The whole system as real processes on real Kafka, PostgreSQL and SMTP, shared by end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from bench.processes import RunningSystem
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka
from tests.support.mail import Inbox, smtp_server
from tests.support.projector import App, create_topics, new_prefix, running_projector
from tests.support.reporting_store import reporting_reads_from_the_ends
from tests.support.system import build_system, isolation_env, issue_key

from lrs_contracts.environments import Environment
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS
from lrs_platform.database import create_pool
from lrs_platform.kafka import ensure_topics
from reporting.bootstrap import create_app as create_reporting
from reporting.config import ReportingSettings


@pytest.fixture(scope="session")
def smtp_inbox() -> Iterator[Inbox]:
    """The running system's mail server."""
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as handler:
        yield handler


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on the test's own database."""
    created = await create_pool(fresh_database_url, max_size=2)
    yield created
    await created.close()


@pytest.fixture
async def reporting(kafka_bootstrap: str, fresh_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A reporting service of its own, reading only what is produced after it starts: its store is marked begun, so
    it keeps its group at the topics' ends instead of reading the shared topics' history again as a new store would
    (tests.support.reporting_store)."""
    await ensure_topics(kafka_bootstrap)
    app_id = f"reporting-it-{uuid.uuid4().hex[:8]}"
    await reporting_reads_from_the_ends(
        kafka_bootstrap, fresh_database_url, app_id, (BATCH_OUTCOMES, PLR_EVENTS, CHALLENGE_EVENTS)
    )
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url, app_id=app_id, log_json=True
    )
    app = create_reporting(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=40),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client,
    ):
        yield client


@pytest.fixture
async def projector(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[App, str]]:
    """A PLR projector of its own, on topics of its own: the running app and the topics' prefix."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        yield app, prefix


@dataclass
class SystemUnderTest:
    processes: RunningSystem
    database_url: str
    kafka_bootstrap: str
    inbox: Inbox
    keys: dict[str, str] = field(default_factory=dict)
    environment: Environment = Environment.LIVE

    def url(self, service: str) -> str:
        return self.processes[service].url

    async def key_for(self, principal: str) -> str:
        if principal not in self.keys:
            self.keys[principal] = await issue_key(self.database_url, principal, self.environment)
        return self.keys[principal]

    async def client(self, service: str, principal: str) -> httpx.AsyncClient:
        token = await self.key_for(principal)
        return httpx.AsyncClient(base_url=self.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


@pytest.fixture(scope="session")
def system_kafka() -> Iterator[str]:
    """The system's own broker: its validation decides every batch it sees, so it must see only ours."""
    with private_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
async def system(
    system_kafka: str, database_url: str, smtp_inbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SystemUnderTest]:
    kafka_bootstrap = system_kafka
    name = unique_name("sys")
    system_database = await create_database(database_url, name)
    log_dir: Path = tmp_path_factory.mktemp("service-logs")
    processes = build_system(
        kafka_bootstrap,
        system_database,
        log_dir,
        {"NOTIFIER_SMTP_HOST": "127.0.0.1", "NOTIFIER_SMTP_PORT": str(smtp_inbox.port), **isolation_env(name, log_dir)},
    )
    try:
        await processes.start()
        # the credentials schema exists once any service has started
        yield SystemUnderTest(processes, system_database, kafka_bootstrap, smtp_inbox)
    finally:
        processes.stop()
        for service in processes.services.values():
            tail = service.log_path.read_text(errors="replace")[-3000:] if service.log_path.exists() else ""
            if "Traceback" in tail:
                print(f"--- {service.name} log tail ---\n{tail}")
