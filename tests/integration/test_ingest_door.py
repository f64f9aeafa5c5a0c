"""The door: ingest refuses what cannot be stored or sent, and answers every dependency failure with a
503 problem+json and Retry-After within its documented bound. The app is served by uvicorn over real
sockets, on real Kafka and PostgreSQL; Kafka is stopped or frozen, and PostgreSQL cut off by a relay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from bench.processes import free_port
from fastapi import FastAPI
from tests.support.databases import create_key_store, throwaway_database
from tests.support.infra import start_local, stop_local
from tests.support.serving import served
from tests.support.waiting import eventually

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

CONTENT_TYPES = {BatchFormat.JSON: "application/json", BatchFormat.XML: "application/xml", BatchFormat.CSV: "text/csv"}
# The publish time limit the Kafka tests run with, and the bound they hold ingest to: the limit, plus
# room for a busy machine. Before the fix, a submission waited for the broker for minutes.
PUBLISH_TIMEOUT = 5.0
ANSWER_BOUND = PUBLISH_TIMEOUT + 15.0


# ---------------------------------------------------------------- the app over a real socket


def _settings(kafka_bootstrap: str, database_url: str, **overrides: Any) -> IngestSettings:
    return IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        outcomes_group_id=f"ingest-door-test-{uuid.uuid4().hex[:8]}",
        log_json=True,
        **overrides,
    )


@dataclass
class Door:
    app: FastAPI
    client: httpx.AsyncClient

    async def new_ao(self) -> tuple[str, dict[str, str]]:
        ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
        store: CredentialStore = self.app.state.credentials
        issued = await store.issue(Principal.parse(f"ao:{ao_id}"))
        return ao_id, {"Authorization": f"Bearer {issued.token}"}

    async def submit(
        self, headers: dict[str, str], content: bytes, fmt: BatchFormat = BatchFormat.JSON
    ) -> httpx.Response:
        return await self.client.post(
            "/v1/batches", content=content, headers={**headers, "Content-Type": CONTENT_TYPES[fmt]}
        )


@asynccontextmanager
async def serving(settings: IngestSettings) -> AsyncIterator[Door]:
    app = create_app(settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=120) as client:
        yield Door(app, client)


@pytest.fixture(scope="module")
async def door_database_url(database_url: str) -> AsyncIterator[str]:
    async with throwaway_database(database_url, "ingest_door") as url:
        await create_key_store(url)
        yield url


@pytest.fixture(scope="module")
async def door(kafka_bootstrap: str, door_database_url: str) -> AsyncIterator[Door]:
    await ensure_topics(kafka_bootstrap)
    async with serving(_settings(kafka_bootstrap, door_database_url, outcomes_enabled=False)) as running:
        yield running


def batch(
    ao_id: str, fmt: BatchFormat = BatchFormat.JSON, *, reference: str = "JUNE-2024", given_name: str = "Alex"
) -> bytes:
    header = BatchHeader(
        awarding_organisation=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@example.org",
        batch_reference=reference,
    )
    records = tuple(
        SubmittedRecord(
            line=line,
            uln="1000000043",
            given_name=given_name if line == 2 else "Alex",
            family_name="Smith",
            qualification_number="601/4491/X",
            award_date="2024-08-22",
            grade="Pass",
        )
        for line in (1, 2, 3)
    )
    return write_batch(ParsedBatch(header=header, records=records, format=fmt), fmt)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    return problem


# ---------------------------------------------------------------- what cannot be stored or sent


async def test_a_nul_in_a_csv_field_is_refused_naming_line_and_field(door: Door) -> None:
    ao_id, headers = await door.new_ao()
    content = batch(ao_id, BatchFormat.CSV, given_name="Li\x00ly")

    problem = assert_problem(await door.submit(headers, content, BatchFormat.CSV), 422)

    assert (problem["code"], problem["line"], problem["column"]) == ("RS001", 5, 4)
    assert problem["detail"] == "GivenName holds the control character U+0000 at character 3"
    view = (await door.client.get(problem["instance"], headers=headers)).json()
    assert (view["status"], view["refusal"]["code"]) == ("refused", "RS001")


async def test_a_nul_escape_in_json_is_refused(door: Door) -> None:
    ao_id, headers = await door.new_ao()
    content = batch(ao_id, given_name="Li\x00ly")
    assert b"\\u0000" in content

    problem = assert_problem(await door.submit(headers, content), 422)

    assert (problem["code"], problem["line"]) == ("RS001", 2)
    assert problem["detail"] == "record 2 givenName holds the control character U+0000 at character 3"


@pytest.mark.parametrize("fmt", list(BatchFormat))
async def test_a_line_break_in_the_batch_reference_is_refused(door: Door, fmt: BatchFormat) -> None:
    ao_id, headers = await door.new_ao()
    content = batch(ao_id, fmt, reference="JUNE\r\nBcc: everyone@example.org")

    problem = assert_problem(await door.submit(headers, content, fmt), 422)

    field = "header.batchReference" if fmt is BatchFormat.JSON else "BatchReference"
    assert problem["code"] == "RS001"
    assert problem["detail"] == f"{field} holds a line break (U+000D) at character 5: a header value is one line"


async def test_a_lone_surrogate_is_a_422_and_the_connection_serves_the_next_request(door: Door) -> None:
    ao_id, headers = await door.new_ao()
    document = json.loads(batch(ao_id))
    document["records"][1]["givenName"] = "Li\ud800ly"
    content = json.dumps(document).encode()  # ASCII: the surrogate travels as the escape \ud800

    problem = assert_problem(await door.submit(headers, content), 422)
    after = await door.submit(headers, batch(ao_id, reference=uuid.uuid4().hex[:12]))

    assert (problem["code"], problem["line"]) == ("RS001", 2)
    assert "lone surrogate (U+D800)" in problem["detail"]
    assert after.status_code == 202, after.text


@pytest.mark.parametrize(
    ("fmt", "length"), [(BatchFormat.CSV, 200_000), (BatchFormat.XML, 1_048_576), (BatchFormat.JSON, 1_048_576)]
)
async def test_one_field_length_limit_for_every_format(door: Door, fmt: BatchFormat, length: int) -> None:
    ao_id, headers = await door.new_ao()

    problem = assert_problem(await door.submit(headers, batch(ao_id, fmt, given_name="x" * length), fmt), 422)
    accepted = await door.submit(headers, batch(ao_id, fmt, given_name="x" * 1_024), fmt)

    assert problem["code"] == "RS001"
    assert problem["detail"].endswith(f"is {length:,} characters long; a value may have at most 1,024")
    assert accepted.status_code == 202, accepted.text


# ---------------------------------------------------------------- PostgreSQL away


class PostgresRelay:
    """A TCP relay in front of PostgreSQL: cutting it is PostgreSQL going away for whoever connects
    through it (refused connections, open ones dropped); restoring it brings PostgreSQL back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        self._open |= {client_writer, upstream_writer}
        try:
            await asyncio.gather(
                _pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer), return_exceptions=True
            )
        finally:
            for writer in (client_writer, upstream_writer):
                self._open.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65_536):
        writer.write(data)
        await writer.drain()
    writer.transport.abort()


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}"))


async def test_postgresql_away_is_503_with_retry_after_and_service_resumes(
    kafka_bootstrap: str, door_database_url: str
) -> None:
    target = urlsplit(door_database_url)
    relay = PostgresRelay(target.hostname or "127.0.0.1", target.port or 5432)
    await relay.restore()
    settings = _settings(kafka_bootstrap, _through(door_database_url, relay.port), outcomes_enabled=False)
    try:
        async with serving(settings) as cut_off:
            ao_id, headers = await cut_off.new_ao()
            accepted = await cut_off.submit(headers, batch(ao_id))
            assert accepted.status_code == 202, accepted.text

            await relay.cut()
            answers = [
                await cut_off.client.get("/v1/batches", headers=headers),
                await cut_off.client.get(accepted.headers["Location"], headers=headers),
                await cut_off.submit(headers, batch(ao_id, reference="AFTER-THE-CUT")),
                await cut_off.client.get("/v1/batches", headers={"Authorization": "Bearer lrs_feedfacefeedface_x"}),
            ]
            for answer in answers:
                problem = assert_problem(answer, 503)
                assert answer.headers["Retry-After"] == "5"
                assert problem["title"] == "The batch store is unavailable"

            await relay.restore()

            async def served_again() -> bool:
                return (await cut_off.client.get("/v1/batches", headers=headers)).status_code == 200

            await eventually(served_again, within=60, what="ingest serving again once PostgreSQL is back")
    finally:
        await relay.cut()


# ---------------------------------------------------------------- Kafka away


@dataclass
class OwnKafka:
    """A broker of this test's own, to stop or freeze."""

    bootstrap: str
    work: Path

    @property
    def pid(self) -> int:
        return int((self.work / "kafka.pid").read_text())


@pytest.fixture
def own_kafka() -> Iterator[OwnKafka]:
    work = Path(tempfile.mkdtemp(prefix="lrs-door-kafka."))
    kafka = OwnKafka(start_local("kafka", work), work)
    try:
        yield kafka
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(kafka.pid, signal.SIGCONT)
        stop_local("kafka", work)


@pytest.mark.parametrize("how", ["killed", "frozen"])
async def test_kafka_away_answers_503_within_the_publish_timeout(
    own_kafka: OwnKafka, door_database_url: str, how: str
) -> None:
    await ensure_topics(own_kafka.bootstrap)
    settings = _settings(
        own_kafka.bootstrap,
        door_database_url,
        outcomes_enabled=False,
        publish_timeout_seconds=PUBLISH_TIMEOUT,
        # the production default: room for a just-started Kafka's first answers, and the bound on the stopping of
        # producers abandoned while Kafka is away, which the app's shutdown waits out (30 s cost 40 s a run)
        kafka_start_timeout_seconds=10,
    )
    async with serving(settings) as door:
        ao_id, headers = await door.new_ao()
        # a Kafka just started can miss the short publish timeout on a busy machine: warm up until it takes one
        for attempt in range(10):
            warm = await door.submit(headers, batch(ao_id, reference=f"BEFORE-{attempt}"))
            if warm.status_code != 503:
                break
        assert warm.status_code == 202, warm.text

        os.kill(own_kafka.pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        async with asyncio.timeout(ANSWER_BOUND):
            # several at once: those queued behind the first are held to the same bound
            answers = await asyncio.gather(
                *(door.submit(headers, batch(ao_id, reference=f"AWAY-{n}")) for n in range(3))
            )

        for answer in answers:
            problem = assert_problem(answer, 503)
            assert answer.headers["Retry-After"] == "5"
            view = (await door.client.get(problem["instance"], headers=headers)).json()
            assert (view["status"], view["accepted_at"]) == ("received", None)
