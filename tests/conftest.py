"""Session-wide real infrastructure: one Kafka broker and one PostgreSQL cluster for the test run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from tests.support.infra import database_url as provide_database_url
from tests.support.infra import kafka_bootstrap as provide_kafka_bootstrap


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with provide_kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with provide_database_url() as url:
        yield url


@pytest.fixture
async def fresh_database_url(database_url: str) -> str:
    """A new, empty database on the session's cluster: for tests that need their own read model."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return database_url.rsplit("/", 1)[0] + f"/{name}"
