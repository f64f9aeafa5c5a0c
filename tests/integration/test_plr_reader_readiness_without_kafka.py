"""A PLR reader (`PROJECTOR_RUN_CONSUMER=false`, plr-reader) answers from PostgreSQL: Kafka out of reach must not
fail its readiness, or every reader leaves the Service's endpoints and the PLR's reads answer 503 at the ingress. The
projector that runs the consumer still needs Kafka to be ready.

Kafka is put out of reach at the address the service was given: the service's bootstrap address is a door of the
test's own forwarding to the broker, shut once the service has started. The broker stays up for other tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.support.databases import create_database, unique_name
from tests.support.infra import database_url as provide_database_url
from tests.support.infra import kafka_bootstrap as provide_kafka_bootstrap
from tests.support.projector import App, create_topics, new_prefix, running_projector
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


class Door:
    """A local TCP port forwarding to `target` (host:port) until it is shut; then nothing answers there."""

    def __init__(self, target: str) -> None:
        host, _, port = target.split(",")[0].rpartition(":")
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._streams: list[asyncio.StreamWriter] = []

    async def open(self) -> str:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(*self._target)
        self._streams += [client_writer, broker_writer]
        await asyncio.gather(_pipe(client_reader, broker_writer), _pipe(broker_reader, client_writer))

    async def shut(self) -> None:
        assert self._server is not None
        self._server.close()
        for stream in self._streams:
            stream.close()
        await self._server.wait_closed()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.close()


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    with provide_kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with provide_database_url() as url:
        yield url


@contextlib.asynccontextmanager
async def projector_behind_a_door(
    database_url: str, kafka_bootstrap: str, **overrides: object
) -> AsyncIterator[tuple[App, Door]]:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    door = Door(kafka_bootstrap)
    address = await door.open()
    fresh = await create_database(database_url, unique_name("t"))
    async with running_projector(fresh, address, prefix, **overrides) as app:
        yield app, door


async def _readiness(app: App) -> tuple[int, dict[str, str]]:
    async with await app.client(None) as client:
        answer = await client.get("/readyz")
    checks: dict[str, str] = answer.json()["checks"]
    return answer.status_code, checks


async def test_a_reader_stays_ready_and_answers_reads_with_kafka_out_of_reach(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with projector_behind_a_door(database_url, kafka_bootstrap, run_consumer=False) as (reader, door):
        assert (await _readiness(reader))[0] == 200

        await door.shut()

        assert await _readiness(reader) == (200, {"postgres": "ok"})
        async with await reader.client(None) as client:
            assert (await client.get("/.well-known/jwks.json")).status_code == 200


async def test_the_projector_that_consumes_is_not_ready_with_kafka_out_of_reach(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with projector_behind_a_door(database_url, kafka_bootstrap) as (writer, door):

        async def ready() -> bool:
            return (await _readiness(writer))[0] == 200

        await eventually(ready, within=60, what="the projector's readiness")
        assert "kafka" in (await _readiness(writer))[1]

        await door.shut()

        status, checks = await _readiness(writer)
        assert status == 503
        assert checks["kafka"].startswith("unavailable"), checks
        assert checks["postgres"] == "ok"
