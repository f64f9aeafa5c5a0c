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

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "infra"


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

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    work = tempfile.mkdtemp(prefix="lrs-test-kafka.")
    env = {key: value for key, value in os.environ.items() if key != "KAFKA_WORK"}
    result = subprocess.run(
        ["bash", str(SCRIPTS / "kafka-start.sh")],
        env={**env, "KAFKA_WORK": work},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not start Kafka: {result.stderr[-2000:]}")
    try:
        yield result.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPTS / "kafka-stop.sh"), work], check=False, timeout=120)


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
    work = tempfile.mkdtemp(prefix="lrs-test-pg.")
    result = subprocess.run(
        ["bash", str(SCRIPTS / "pg-start.sh")],
        env={**os.environ, "PG_WORK": work},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not start PostgreSQL: {result.stderr[-2000:]}")
    try:
        yield result.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPTS / "pg-stop.sh"), work], check=False, timeout=120)
