"""Where the real Kafka and PostgreSQL for tests come from.

In order: the environment (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, as `make test` and `.ci/run`
set them), a Docker daemon through testcontainers, or the project's own scripts that start the
Maven-Central Kafka and the Debian PostgreSQL locally. Nothing is ever skipped silently.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "infra"

LocalServer = Literal["kafka", "pg"]
_WORK_VARIABLE = {"kafka": "KAFKA_WORK", "pg": "PG_WORK"}
_TITLE = {"kafka": "Kafka", "pg": "PostgreSQL"}


def start_local(server: LocalServer, work: Path) -> str:
    """Starts scripts/infra/<server>-start.sh with its data in `work`: the address it answers on."""
    result = subprocess.run(
        ["bash", str(SCRIPTS / f"{server}-start.sh")],
        env={**os.environ, _WORK_VARIABLE[server]: str(work)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not start {_TITLE[server]}: {result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


def stop_local(server: LocalServer, work: Path) -> None:
    # a test's broker is thrown away with its data: KILLed at once, not shut down in order (a second or more each)
    env = {**os.environ, "KAFKA_STOP_KILL": "1"}
    subprocess.run(["bash", str(SCRIPTS / f"{server}-stop.sh"), str(work)], env=env, check=False, timeout=120)


def docker_daemon_answers() -> bool:
    if os.environ.get("TESTS_NO_DOCKER") == "1":
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        yield existing
        return
    with private_kafka() as bootstrap:
        yield bootstrap


@contextmanager
def private_kafka() -> Iterator[str]:
    """A broker of its own, whatever the environment says: for a whole running system, whose
    validation decides every batch on the topic and would answer for other tests' batches."""
    if docker_daemon_answers():
        from testcontainers.kafka import KafkaContainer

        # sessions down to 1 s, as scripts/infra/kafka-start.sh's broker (tests.support.system.TEST_GROUP_SESSION)
        kafka = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft()
        with kafka.with_env("KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS", "1000") as container:
            yield container.get_bootstrap_server()
        return
    work = Path(tempfile.mkdtemp(prefix="lrs-test-kafka."))
    bootstrap = start_local("kafka", work)
    try:
        yield bootstrap
    finally:
        stop_local("kafka", work)


@contextmanager
def database_url() -> Iterator[str]:
    existing = os.environ.get("DATABASE_URL")
    if existing:
        yield existing
        return
    if docker_daemon_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    work = Path(tempfile.mkdtemp(prefix="lrs-test-pg."))
    url = start_local("pg", work)
    try:
        yield url
    finally:
        stop_local("pg", work)
