"""The system under test: the six services as real processes on a database of their own.

Built on `bench.processes`. Everything the benchmark creates is private to the run: a fresh
database, consumer groups, the faust app id, an SMTP sink that only counts, API keys. Optionally
one service runs under pyinstrument (`profile=`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller

from bench.processes import ROOT, RunningSystem, ServiceProcess, build_system, free_port
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal
from lrs_platform.kafka import make_consumer

MODULES = {
    "ingest": "ingest.main",
    "validation": "validation.main",
    "plr-projector": "plr_projector.main",
    "challenges": "challenges.main",
    "notifier": "notifier.main",
    "reporting": "reporting.main",
}


def database_url_for(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def create_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return database_url_for(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def issue_keys(database_url: str, principals: list[str]) -> dict[str, str]:
    pool = await create_pool(database_url, max_size=1)
    try:
        store = CredentialStore(pool)
        await store.migrate()
        return {p: (await store.issue(Principal.parse(p), label="bench")).token for p in principals}
    finally:
        await pool.close()


class _CountingSink:
    """An SMTP server that accepts and counts the notifier's emails."""

    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages += 1
        return "250 OK"


@dataclass
class ProfiledService(ServiceProcess):
    """A service run by `bench.profiled` (pyinstrument); the report is written when it stops."""

    profile_path: Path = field(default_factory=Path)

    def start(self) -> None:
        log = self.log_path.open("ab")
        command = [sys.executable, "-m", "bench.profiled", MODULES[self.name], str(self.profile_path)]
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


@dataclass
class BenchSystem:
    processes: RunningSystem
    database_url: str
    kafka_bootstrap: str
    keys: dict[str, str]
    groups: dict[str, str]
    smtp: _CountingSink

    def url(self, service: str) -> str:
        return self.processes[service].url

    def pid(self, service: str) -> int | None:
        process = self.processes[service].process
        return process.pid if process is not None else None

    def client(self, service: str, principal: str, timeout: float = 120.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url(service),
            headers={"Authorization": f"Bearer {self.keys[principal]}"},
            timeout=timeout,
            verify=_TLS_CONTEXT,
        )

    def log_path(self, service: str) -> Path:
        return self.processes[service].log_path


# One for every client: httpx builds a new one per client otherwise, loading the CA store each time
# (~10 ms of CPU), and the benchmark opens a client for each batch it follows — a third of its own CPU.
_TLS_CONTEXT = ssl.create_default_context()


@contextlib.asynccontextmanager
async def running_system(
    kafka_bootstrap: str,
    database_url: str,
    log_dir: Path,
    *,
    principals: list[str],
    profile: str | None = None,
) -> AsyncIterator[BenchSystem]:
    """Starts the six services on `database_url` (a database of their own) and stops them afterwards."""
    name = database_url.rsplit("/", 1)[1]
    sink = _CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    groups = {
        "VALIDATION_CONSUMER_GROUP": f"validation-{name}",
        "INGEST_OUTCOMES_GROUP_ID": f"ingest-batch-view-{name}",
        "NOTIFIER_CONSUMER_GROUP": f"notifier-{name}",
        "REPORTING_APP_ID": f"lrs-reporting-{name}",
    }
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    processes = build_system(
        kafka_bootstrap,
        database_url,
        log_dir,
        {
            **groups,
            "REPORTING_DATA_DIR": str(log_dir / "reporting-data"),
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(smtp_port),
        },
    )
    if profile is not None:
        plain = processes.services[profile]
        processes.services[profile] = ProfiledService(
            plain.name, plain.port, plain.env, plain.log_path, profile_path=log_dir / f"{profile}.pyinstrument.txt"
        )
    try:
        await processes.start()
        keys = await issue_keys(database_url, principals)
        yield BenchSystem(processes, database_url, kafka_bootstrap, keys, groups, sink)
    finally:
        processes.stop()
        controller.stop()


# --- waiting for a quiet system -------------------------------------------------------------------


async def group_backlog(kafka_bootstrap: str, group: str, topic: str, *, uncommitted_is_behind: bool) -> int:
    """Records of `topic` that `group` has not committed past. A transaction marker follows each
    transaction, so a caught-up group may be one offset short per partition: that counts as none.
    A partition the group never committed on counts from 0 or not at all (`uncommitted_is_behind`):
    ingest's batch view starts a new group near the log's end, not at its beginning."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    consumer = make_consumer(kafka_bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(BATCH_SUBMITTED.partitions)])
        behind = 0
        for tp, end in ends.items():
            if tp in committed:
                behind += max(0, end - committed[tp].offset - 1)
            elif uncommitted_is_behind:
                behind += max(0, end - 1)
        return behind
    finally:
        await consumer.stop()
        await admin.close()


async def projector_lag(system: BenchSystem) -> int:
    """Records on the projected topics beyond the live projection's positions."""
    async with system.client("plr-projector", "operator:bench") as client:
        positions: dict[str, int] = (await client.get("/v1/admin/projector")).json()["offsets"]
    partitions = [TopicPartition(topic, int(partition)) for topic, partition in (k.rsplit(":", 1) for k in positions)]
    consumer = make_consumer(system.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return sum(max(0, end - positions[f"{tp.topic}:{tp.partition}"]) for tp, end in ends.items())


async def learner_outbox(system: BenchSystem) -> int:
    """Learner registrations not yet relayed to the learner topic."""
    connection = await asyncpg.connect(system.database_url)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM validation.learner_outbox WHERE published_at IS NULL")
        )
    finally:
        await connection.close()


async def wait_until_quiet(system: BenchSystem, within: float = 180.0) -> dict[str, Any]:
    """Waits until validation has decided every batch on the log (other runs' batches too, on a shared
    broker), the batch view has every outcome, every learner registration is on the learner topic and
    the projector has caught up. (Notifier and reporting are not waited for.)"""
    started = time.monotonic()
    deadline = started + within
    state: dict[str, int] = {}
    while time.monotonic() < deadline:
        state = {
            "validation_backlog": await group_backlog(
                system.kafka_bootstrap,
                system.groups["VALIDATION_CONSUMER_GROUP"],
                BATCH_SUBMITTED.name,
                uncommitted_is_behind=True,
            ),
            "batch_view_backlog": await group_backlog(
                system.kafka_bootstrap,
                system.groups["INGEST_OUTCOMES_GROUP_ID"],
                BATCH_OUTCOMES.name,
                uncommitted_is_behind=False,
            ),
            "learner_outbox": await learner_outbox(system),
            "projector_lag": await projector_lag(system),
        }
        if not any(state.values()):
            break
        await asyncio.sleep(0.5)
    return {"quiet": not any(state.values()), "waited_s": round(time.monotonic() - started, 1), **state}
