"""What ingest relies on from the HTTP server, checked on the server the services run (`SERVED_WITH`,
decision 0088) over raw sockets: an upload over 6 MB is refused while it is still being sent, a declared
length over 6 MB before any of the body is sent, a body arriving in small pieces is read whole, and an
upload cut off midway stores nothing and leaves the server serving."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from tests.support.databases import create_key_store, throwaway_database
from tests.support.serving import served
from tests.support.waiting import eventually

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

PIECE = 64 * 1_024
STREAMED_TOTAL = 64 * 1_048_576  # far more than the limit and than what the sockets' buffers can hold


@dataclass
class Server:
    app: FastAPI
    port: int
    client: httpx.AsyncClient

    async def new_ao(self) -> tuple[str, str]:
        ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
        store: CredentialStore = self.app.state.credentials
        return ao_id, (await store.issue(Principal.parse(f"ao:{ao_id}"))).token

    async def batches_of(self, token: str) -> int:
        response = await self.client.get("/v1/batches", headers={"Authorization": f"Bearer {token}"})
        total: int = response.json()["total"]
        return total


@pytest.fixture(scope="module")
async def server(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Server]:
    await ensure_topics(kafka_bootstrap)
    async with throwaway_database(database_url, "ingest_http") as url:
        await create_key_store(url)
        settings = IngestSettings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            DATABASE_URL=url,
            outcomes_enabled=False,
            log_json=True,
        )
        app = create_app(settings)
        async with served(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            yield Server(app, int(base_url.rsplit(":", 1)[1]), client)


def _batch(ao_id: str) -> bytes:
    header = BatchHeader(awarding_organisation=ao_id, job_type=JobType.FINAL, notification_email="results@example.org")
    records = tuple(
        SubmittedRecord(
            line=line,
            uln="1000000043",
            given_name="Alex",
            family_name="Smith",
            qualification_number="601/4491/X",
            award_date="2024-08-22",
            grade="Pass",
        )
        for line in (1, 2, 3)
    )
    return write_batch(ParsedBatch(header=header, records=records, format=BatchFormat.CSV), BatchFormat.CSV)


def _request_head(token: str, *headers: str) -> bytes:
    lines = ["POST /v1/batches HTTP/1.1", "Host: ingest", f"Authorization: Bearer {token}", "Content-Type: text/csv"]
    return "\r\n".join([*lines, *headers, "", ""]).encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


async def _answer(reader: asyncio.StreamReader) -> Answer:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.strip().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
    body = await reader.readexactly(int(headers["content-length"]))
    return Answer(int(status_line.split()[1]), headers, orjson.loads(body))


@contextlib.asynccontextmanager
async def _connection(server: Server) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield reader, writer
    finally:
        writer.transport.abort()


async def test_a_streamed_body_over_6_mb_is_refused_while_it_is_still_being_sent(server: Server) -> None:
    _, token = await server.new_ao()
    sent = 0

    async def send(writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(_request_head(token, "Transfer-Encoding: chunked"))
        frame = f"{PIECE:x}\r\n".encode() + b"x" * PIECE + b"\r\n"
        with contextlib.suppress(ConnectionError):
            while sent < STREAMED_TOTAL:
                writer.write(frame)
                await writer.drain()
                sent += PIECE

    async with _connection(server) as (reader, writer):
        sending = asyncio.create_task(send(writer))
        answer = await _answer(reader)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending

    assert (answer.status, answer.body["code"]) == (413, "RS002")
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert MAX_BATCH_BYTES < sent < STREAMED_TOTAL


async def test_a_declared_length_over_6_mb_is_refused_before_any_of_the_body_is_sent(server: Server) -> None:
    _, token = await server.new_ao()

    async with _connection(server) as (reader, writer):
        writer.write(_request_head(token, f"Content-Length: {MAX_BATCH_BYTES + 1}"))
        answer = await _answer(reader)

    assert (answer.status, answer.body["code"]) == (413, "RS002")


async def test_a_body_arriving_in_small_pieces_is_read_whole(server: Server) -> None:
    ao_id, token = await server.new_ao()
    content = _batch(ao_id)

    async with _connection(server) as (reader, writer):
        writer.write(_request_head(token, f"Content-Length: {len(content)}"))
        for start in range(0, len(content), 7):
            writer.write(content[start : start + 7])
            await writer.drain()
        answer = await _answer(reader)

    assert answer.status == 202, answer.body
    assert await server.batches_of(token) == 1


async def test_an_upload_cut_off_midway_stores_nothing_and_the_server_serves_on(server: Server) -> None:
    ao_id, token = await server.new_ao()
    content = _batch(ao_id)

    def cut_off_uploads() -> float:
        sample = REGISTRY.get_sample_value(
            "lrs_http_requests_total", {"service": "ingest", "method": "POST", "route": "/v1/batches", "status": "499"}
        )  # the client went away before its answer began: counted 499, answered nothing
        return sample or 0.0

    before = cut_off_uploads()
    async with _connection(server) as (_, writer):
        writer.write(_request_head(token, f"Content-Length: {len(content)}") + content[: len(content) // 2])
        await writer.drain()

    async def cut_off_counted() -> bool:  # counted, not logged: a logger cached earlier in the run is not captured
        return cut_off_uploads() > before

    await eventually(cut_off_counted, within=60, what="the cut-off upload counted")

    assert await server.batches_of(token) == 0
    after = await server.client.post(
        "/v1/batches", content=content, headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    )
    assert after.status_code == 202, after.text
