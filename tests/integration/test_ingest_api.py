"""Submit and View Achievement Batch against real Kafka and PostgreSQL, the app run in-process."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import hypothesis
import pytest
import schemathesis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.routing import APIRoute
from schemathesis import checks as schemathesis_checks
from schemathesis.python import asgi as schemathesis_asgi
from tests.support.databases import create_key_store, throwaway_database
from tests.support.kafka import send
from tests.support.waiting import eventually

from ingest import api as ingest_api
from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from ingest.repository import BatchRepository, Waiting
from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.codes import MAX_BATCH_BYTES, MAX_BATCH_RECORDS
from lrs_contracts.envelope import Envelope, deterministic_id
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchCounts,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
    Finding,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- the app and its callers


def _settings(kafka_bootstrap: str, database_url: str, **overrides: Any) -> IngestSettings:
    return IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        outcomes_group_id=f"ingest-batch-view-test-{uuid.uuid4().hex[:8]}",
        log_json=True,
        **overrides,
    )


@asynccontextmanager
async def running(settings: IngestSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=120, shutdown_timeout=60) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://ingest", timeout=120) as client,
    ):
        yield app, client


@dataclass
class Ingest:
    app: FastAPI
    client: httpx.AsyncClient
    kafka_bootstrap: str

    @property
    def credentials(self) -> CredentialStore:
        store: CredentialStore = self.app.state.credentials
        return store

    async def caller(self, principal: str) -> dict[str, str]:
        issued = await self.credentials.issue(Principal.parse(principal))
        return {"Authorization": f"Bearer {issued.token}"}

    async def new_ao(self) -> tuple[str, dict[str, str]]:
        ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
        return ao_id, await self.caller(f"ao:{ao_id}")


@pytest.fixture(scope="module")
async def ingest_database_url(database_url: str) -> AsyncIterator[str]:
    """A database of this module's own: the batch view starts from its oldest undecided batch."""
    async with throwaway_database(database_url, "ingest_test") as url:
        await create_key_store(url)
        yield url


@asynccontextmanager
async def ingest_caught_up(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Ingest]:
    """Ingest running on the test's Kafka and database, its outcome consumer at the end of the outcomes topic."""
    await ensure_topics(kafka_bootstrap)
    async with running(_settings(kafka_bootstrap, database_url)) as (app, client):
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield Ingest(app, client, kafka_bootstrap)


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:
    async with ingest_caught_up(kafka_bootstrap, ingest_database_url) as ingest:
        yield ingest


async def _true_or_none(value: bool) -> bool | None:
    return value or None


# ---------------------------------------------------------------- batch files


def _records(count: int, *, first_line: int = 1) -> tuple[SubmittedRecord, ...]:
    return tuple(
        SubmittedRecord(
            line=first_line + index,
            action="Create",
            mis_identifier=f"CAND-{index:05d}",
            uln="1000000043",
            given_name="Alex",
            family_name="Smith",
            date_of_birth="2006-04-01",
            gender="1",
            qualification_number="601/4491/X",
            award_date="2024-08-22",
            grade="Pass",
            centre_ukprn="10001234",
            language_for_assessment="English",
        )
        for index in range(count)
    )


def batch_file(
    ao_id: str, fmt: BatchFormat = BatchFormat.JSON, *, records: int = 3, reference: str | None = None
) -> bytes:
    header = BatchHeader(
        awarding_organisation=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@example.org",
        batch_reference=reference or uuid.uuid4().hex[:16],
    )
    return write_batch(ParsedBatch(header=header, records=_records(records), format=fmt), fmt)


CONTENT_TYPES = {BatchFormat.JSON: "application/json", BatchFormat.XML: "application/xml", BatchFormat.CSV: "text/csv"}


async def submit(
    ingest: Ingest, headers: dict[str, str], content: Any, fmt: BatchFormat = BatchFormat.JSON, **extra: str
) -> httpx.Response:
    return await ingest.client.post(
        "/v1/batches", content=content, headers={**headers, "Content-Type": CONTENT_TYPES[fmt], **extra}
    )


# ---------------------------------------------------------------- reading the topics


class TopicReader:
    """Reads a topic with read_committed from the end offsets it had when the reader was opened."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str) -> None:
        self._consumer = consumer
        self._topic = topic
        self.messages: list[Any] = []

    async def poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=200)
        for messages in batches.values():
            self.messages.extend(messages)

    async def events_of_batch(self, batch_id: uuid.UUID, *, within: float = 60) -> list[tuple[Any, Envelope, Any]]:
        """Every message of the batch, once its completion marker has been read."""

        async def complete() -> list[tuple[Any, Envelope, Any]] | None:
            await self.poll()
            found = [(message, *decode(message.value)) for message in self.messages]
            mine = [item for item in found if getattr(item[2], "batch_id", None) == batch_id]
            if any(isinstance(payload, BatchSubmissionCompleted) for _, _, payload in mine):
                return mine
            return None

        return await eventually(complete, within=within, what=f"batch {batch_id} on {self._topic}")


@asynccontextmanager
async def reading(kafka_bootstrap: str, topic: str) -> AsyncIterator[TopicReader]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=16 * 1_048_576,
        fetch_max_bytes=64 * 1_048_576,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, number) for number in await partitions_of(kafka_bootstrap, topic)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for partition in partitions:
            consumer.seek(partition, ends[partition])
        yield TopicReader(consumer, topic)
    finally:
        await consumer.stop()


async def partitions_of(kafka_bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        return sorted(partition["partition"] for partition in description["partitions"])
    finally:
        await admin.close()


async def publish_outcomes(kafka_bootstrap: str, batch_id: uuid.UUID, *values: bytes) -> None:
    await send(kafka_bootstrap, BATCH_OUTCOMES.name, [(str(batch_id).encode(), value) for value in values])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- submit


async def test_an_accepted_batch_is_on_the_topic_whole_keyed_by_its_ao(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=3)
    async with reading(ingest.kafka_bootstrap, BATCH_SUBMITTED.name) as topic:
        response = await submit(ingest, headers, content)
        assert response.status_code == 202, response.text
        body = response.json()
        batch_id = uuid.UUID(body["batch_id"])
        assert body["status"] == "accepted"
        assert body["status_url"] == f"/v1/batches/{batch_id}" == response.headers["Location"]
        assert "Idempotent-Replay" not in response.headers

        events = await topic.events_of_batch(batch_id)

    kinds = [type(payload) for _, _, payload in events]
    assert kinds == [BatchSubmitted, BatchRecordsSubmitted, BatchSubmissionCompleted]
    assert {message.key for message, _, _ in events} == {ao_id.encode()}
    assert {envelope.correlation_id for _, envelope, _ in events} == {str(batch_id)}
    submitted, chunk, completed = (payload for _, _, payload in events)
    assert submitted.record_count == 3 and submitted.ao_id == ao_id and submitted.submitted_by == f"ao:{ao_id}"
    assert submitted.size_bytes == len(content)
    assert [record.line for record in chunk.records] == [1, 2, 3]
    assert completed.record_count == 3 and completed.chunk_count == 1
    assert events[1][1].event_id == deterministic_id(batch_id, "chunk", 0)

    view = await ingest.client.get(f"/v1/batches/{batch_id}", headers=headers)
    assert view.status_code == 200
    assert view.json()["status"] == "accepted"
    assert view.json()["record_count"] == 3
    assert view.json()["format"] == "json"
    assert view.json()["accepted_at"] is not None


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, BatchFormat.XML])
async def test_csv_and_xml_are_accepted_by_content_type_or_format_parameter(ingest: Ingest, fmt: BatchFormat) -> None:
    ao_id, headers = await ingest.new_ao()
    by_type = await submit(ingest, headers, batch_file(ao_id, fmt), fmt)
    assert by_type.status_code == 202, by_type.text
    by_parameter = await ingest.client.post(
        f"/v1/batches?format={fmt.value}",
        content=batch_file(ao_id, fmt),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert by_parameter.status_code == 202, by_parameter.text
    view = await ingest.client.get(by_parameter.headers["Location"], headers=headers)
    assert view.json()["format"] == fmt.value


async def test_without_a_valid_api_key_nothing_is_answered(ingest: Ingest) -> None:
    ao_id, _ = await ingest.new_ao()
    for headers in ({}, {"Authorization": "Bearer lrs_nope_nope"}, {"Authorization": "Basic abc"}):
        response = await submit(ingest, headers, batch_file(ao_id))
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await ingest.client.get("/v1/batches", headers=headers)).status_code == 401
        assert (await ingest.client.get(f"/v1/batches/{uuid.uuid4()}", headers=headers)).status_code == 401


async def test_an_ao_sees_and_submits_only_its_own_batches(ingest: Ingest) -> None:
    ao_a, headers_a = await ingest.new_ao()
    ao_b, headers_b = await ingest.new_ao()
    accepted = await submit(ingest, headers_a, batch_file(ao_a))
    assert accepted.status_code == 202
    batch_url = accepted.headers["Location"]

    for path in (batch_url, f"{batch_url}/records", f"{batch_url}/records.csv"):
        response = await ingest.client.get(path, headers=headers_b)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
    listed = await ingest.client.get("/v1/batches", headers=headers_b)
    assert listed.status_code == 200 and listed.json()["total"] == 0
    assert (await ingest.client.get(f"/v1/batches?ao_id={ao_a}", headers=headers_b)).status_code == 403

    as_other = await submit(ingest, headers_b, batch_file(ao_a))
    assert as_other.status_code == 403
    assert as_other.headers["content-type"].startswith("application/problem+json")
    assert (as_other.json()["code"], as_other.json()["type"]) == (
        "BATCH_OF_ANOTHER_AO",
        "/problems/BATCH_OF_ANOTHER_AO",
    )
    assert (await ingest.client.get("/v1/batches", headers=headers_b)).json()["total"] == 0

    provider = await ingest.caller("provider:10001234")
    assert (await submit(ingest, provider, batch_file(ao_a))).status_code == 403
    assert (await ingest.client.get("/v1/batches", headers=provider)).status_code == 403
    assert (await ingest.client.get(batch_url, headers=provider)).status_code == 403

    operator = await ingest.caller(f"operator:ops-{uuid.uuid4().hex[:6]}")
    assert (await ingest.client.get(batch_url, headers=operator)).status_code == 200
    by_operator = await ingest.client.get(f"/v1/batches?ao_id={ao_a}", headers=operator)
    assert [item["batch_id"] for item in by_operator.json()["items"]] == [accepted.json()["batch_id"]]
    for_ao_b = await submit(ingest, operator, batch_file(ao_b))
    assert for_ao_b.status_code == 202
    view = (await ingest.client.get(for_ao_b.headers["Location"], headers=operator)).json()
    assert view["submitted_by"].startswith("operator:")
    # which key sent it, by its id (never the secret): the operator's here, told to an operator
    sent_with = operator["Authorization"].removeprefix("Bearer lrs_").split("_")[0]
    assert view["submitted_with_key"] == sent_with and len(sent_with) == 16
    # to the AO, an operator's batch was sent by "an LRS operator", with no key: neither is its business (0169)
    to_ao_b = (await ingest.client.get(for_ao_b.headers["Location"], headers=headers_b)).json()
    (listed_to_ao_b,) = (await ingest.client.get("/v1/batches", headers=headers_b)).json()["items"]
    for told in (to_ao_b, listed_to_ao_b):
        assert (told["submitted_by"], told["submitted_with_key"]) == ("an LRS operator", None)
    # the AO's own batch is told to it as kept: its principal and its own key
    own_key = headers_a["Authorization"].removeprefix("Bearer lrs_").split("_")[0]
    own = (await ingest.client.get(batch_url, headers=headers_a)).json()
    assert (own["submitted_by"], own["submitted_with_key"]) == (f"ao:{ao_a}", own_key)


async def test_two_aos_may_send_the_same_idempotency_key_and_each_gets_its_own_batch(ingest: Ingest) -> None:
    """A key is the AO's own: another AO's batch under the same key is neither replayed nor named."""
    ao_a, headers_a = await ingest.new_ao()
    ao_b, headers_b = await ingest.new_ao()
    key = str(uuid.uuid4())

    first = await submit(ingest, {**headers_a, "Idempotency-Key": key}, batch_file(ao_a))
    second = await submit(ingest, {**headers_b, "Idempotency-Key": key}, batch_file(ao_b))

    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    batch_a, batch_b = first.json()["batch_id"], second.json()["batch_id"]
    assert batch_a != batch_b
    assert batch_b not in first.text and batch_a not in second.text
    assert second.headers.get("Idempotent-Replay", "false") == "false"
    listed = (await ingest.client.get("/v1/batches", headers=headers_b)).json()
    assert [item["batch_id"] for item in listed["items"]] == [batch_b]


async def test_the_same_idempotency_key_twice_is_one_batch(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id)
    key = str(uuid.uuid4())
    async with reading(ingest.kafka_bootstrap, BATCH_SUBMITTED.name) as topic:
        first, second, third = await asyncio.gather(
            *(submit(ingest, {**headers, "Idempotency-Key": key}, content) for _ in range(3))
        )
        answers = [first, second, third]
        assert [answer.status_code for answer in answers] == [202, 202, 202], [a.text for a in answers]
        assert len({answer.json()["batch_id"] for answer in answers}) == 1
        assert sorted(answer.headers.get("Idempotent-Replay", "false") for answer in answers) == [
            "false",
            "true",
            "true",
        ]
        batch_id = uuid.UUID(first.json()["batch_id"])
        later = await submit(ingest, {**headers, "Idempotency-Key": key}, content)
        assert later.json()["batch_id"] == str(batch_id) and later.headers["Idempotent-Replay"] == "true"
        events = await topic.events_of_batch(batch_id)
    assert sum(isinstance(payload, BatchSubmitted) for _, _, payload in events) == 1

    other_file = await submit(ingest, {**headers, "Idempotency-Key": key}, batch_file(ao_id))
    assert other_file.status_code == 409
    assert (other_file.json()["code"], other_file.json()["batch_id"]) == ("IDEMPOTENCY_KEY_REUSED", str(batch_id))
    listed = await ingest.client.get("/v1/batches", headers=headers)
    assert listed.json()["total"] == 1

    assert (await submit(ingest, {**headers, "Idempotency-Key": "has space"}, content)).status_code == 400


async def test_the_same_file_twice_without_a_key_is_one_batch(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id)
    first = await submit(ingest, headers, content)
    second = await submit(ingest, headers, content)
    assert first.status_code == second.status_code == 202
    assert second.json()["batch_id"] == first.json()["batch_id"]
    assert second.headers["Idempotent-Replay"] == "true"
    deliberate_resubmission = await submit(ingest, {**headers, "Idempotency-Key": str(uuid.uuid4())}, content)
    assert deliberate_resubmission.json()["batch_id"] != first.json()["batch_id"]
    assert (await ingest.client.get("/v1/batches", headers=headers)).json()["total"] == 2


# ---------------------------------------------------------------- limits


@dataclass
class CountingBody:
    """A streamed body without Content-Length that counts what the server pulled from it."""

    total: int
    chunk_size: int = 64 * 1_024
    pulled: int = 0
    chunks: int = 0
    fill: bytes = b"x"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            chunk = self.fill * min(self.chunk_size, self.total - sent)
            sent += len(chunk)
            self.pulled += len(chunk)
            self.chunks += 1
            yield chunk


async def test_a_body_over_6_mb_is_refused_without_reading_past_the_limit(ingest: Ingest) -> None:
    _, headers = await ingest.new_ao()
    for total in (MAX_BATCH_BYTES + 1, 40 * 1_048_576):
        body = CountingBody(total)
        response = await ingest.client.post(
            "/v1/batches", content=body, headers={**headers, "Content-Type": "text/csv"}
        )
        assert response.status_code == 413, response.text
        problem = response.json()
        assert problem["code"] == "RS002"
        assert response.headers["content-type"].startswith("application/problem+json")
        # The server stops at the chunk that crosses the limit: never more than limit + one chunk.
        assert MAX_BATCH_BYTES < body.pulled <= MAX_BATCH_BYTES + body.chunk_size
        refused = await ingest.client.get(problem["instance"], headers=headers)
        assert refused.json()["status"] == "refused" and refused.json()["refusal"]["code"] == "RS002"


async def test_a_declared_length_over_6_mb_is_refused_before_reading(ingest: Ingest) -> None:
    _, headers = await ingest.new_ao()
    body = CountingBody(MAX_BATCH_BYTES + 1)
    response = await ingest.client.post(
        "/v1/batches",
        content=body,
        headers={**headers, "Content-Type": "text/csv", "Content-Length": str(MAX_BATCH_BYTES + 1)},
    )
    assert response.status_code == 413 and response.json()["code"] == "RS002"
    assert body.pulled == 0


async def test_exactly_6_mb_is_within_the_limit(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, BatchFormat.CSV, records=2)
    padded = content + b"\r\n" * ((MAX_BATCH_BYTES - len(content)) // 2)
    padded += b" " * (MAX_BATCH_BYTES - len(padded))
    assert len(padded) == MAX_BATCH_BYTES
    response = await submit(ingest, headers, padded, BatchFormat.CSV)
    assert response.status_code == 202, response.text
    over = await submit(ingest, headers, padded + b" ", BatchFormat.CSV)
    assert over.status_code == 413 and over.json()["code"] == "RS002"


async def test_10000_records_are_accepted_and_10001_refused_with_rs003(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    async with reading(ingest.kafka_bootstrap, BATCH_SUBMITTED.name) as topic:
        response = await submit(
            ingest, headers, batch_file(ao_id, BatchFormat.CSV, records=MAX_BATCH_RECORDS), BatchFormat.CSV
        )
        assert response.status_code == 202, response.text
        events = await topic.events_of_batch(uuid.UUID(response.json()["batch_id"]))
    chunks = [payload for _, _, payload in events if isinstance(payload, BatchRecordsSubmitted)]
    assert [chunk.chunk_index for chunk in chunks] == list(range(10))
    assert sum(len(chunk.records) for chunk in chunks) == MAX_BATCH_RECORDS
    assert chunks[0].records[0].line == 4 and chunks[-1].records[-1].line == MAX_BATCH_RECORDS + 3

    too_many = await submit(
        ingest, headers, batch_file(ao_id, BatchFormat.CSV, records=MAX_BATCH_RECORDS + 1), BatchFormat.CSV
    )
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "RS003"


HOSTILE_XML = {
    "external entity": (
        b'<?xml version="1.0"?>\n<!DOCTYPE AchievementBatch [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b"<AchievementBatch><Header><AwardingOrganisation>&x;</AwardingOrganisation></Header></AchievementBatch>"
    ),
    "billion laughs": (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
        b"<AchievementBatch><Header><AwardingOrganisation>&lol3;</AwardingOrganisation></Header></AchievementBatch>"
    ),
    "doctype": b'<?xml version="1.0"?>\n<!DOCTYPE AchievementBatch SYSTEM "http://example.org/x.dtd">\n<AchievementBatch/>',
    "unclosed": b"<AchievementBatch><Header>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
async def test_hostile_or_broken_xml_is_refused_with_rs001(ingest: Ingest, name: str) -> None:
    _, headers = await ingest.new_ao()
    response = await submit(ingest, headers, HOSTILE_XML[name], BatchFormat.XML)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "RS001"
    assert problem["line"] >= 1


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda text: text.replace(b'"jobType": "Final"', b'"jobType": "Interim"'), "RS004"),
        (lambda text: text.replace(b"results@example.org", b"not-an-email"), "RS007"),
        (lambda text: text.split(b'"records"')[0].rstrip().rstrip(b",") + b"}", "RS006"),
    ],
    ids=["RS004", "RS007", "RS006"],
)
async def test_header_refusals_are_422_and_kept_in_the_history(ingest: Ingest, mutate: Any, code: str) -> None:
    ao_id, headers = await ingest.new_ao()
    response = await submit(ingest, headers, mutate(batch_file(ao_id, reference="JUNE-07")))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    history = (await ingest.client.get("/v1/batches", headers=headers)).json()
    assert [(item["status"], item["refusal"]["code"]) for item in history["items"]] == [("refused", code)]
    assert history["items"][0]["batch_reference"] == "JUNE-07"  # the AO tells its refused files apart by it


async def test_a_csv_fault_points_at_its_line_and_column(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, BatchFormat.CSV).replace(b"QualificationNumber", b"Qualificationnumber")
    response = await submit(ingest, headers, content, BatchFormat.CSV)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["line"], response.json()["column"]) == ("RS001", 3, 8)


# ---------------------------------------------------------------- Kafka away


async def test_kafka_unreachable_answers_503_and_accepts_nothing(
    ingest: Ingest, kafka_bootstrap: str, ingest_database_url: str
) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id)
    settings = _settings(f"127.0.0.1:{closed_port()}", ingest_database_url, kafka_start_timeout_seconds=3)
    async with running(settings) as (_, cut_off):
        response = await cut_off.post(
            "/v1/batches", content=content, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["Retry-After"]
    batch_url = response.json()["instance"]
    view = await ingest.client.get(batch_url, headers=headers)
    assert view.json()["status"] == "received"
    assert view.json()["accepted_at"] is None

    # The retry, with Kafka back, publishes the stored batch under its original id.
    async with reading(kafka_bootstrap, BATCH_SUBMITTED.name) as topic:
        retried = await submit(ingest, headers, content)
        assert retried.status_code == 202 and retried.headers["Location"] == batch_url
        events = await topic.events_of_batch(uuid.UUID(retried.json()["batch_id"]))
    assert len(events) == 3
    assert (await ingest.client.get(batch_url, headers=headers)).json()["status"] == "accepted"


async def test_an_ao_with_too_many_records_waiting_is_told_to_send_again_later(
    ingest: Ingest, ingest_database_url: str
) -> None:
    """Decision 0171: its next batch waits at its own door, not in front of other AOs' in the queue they share."""
    ao_id, headers = await ingest.new_ao()
    settings = _settings(ingest.kafka_bootstrap, ingest_database_url, max_waiting_records_per_ao=6)
    async with running(settings) as (_, limited):
        first = await limited.post("/v1/batches", content=batch_file(ao_id, records=4), headers=_json(headers))
        second_file = batch_file(ao_id, reference="REF-2", records=4)
        second = await limited.post("/v1/batches", content=second_file, headers=_json(headers))
        assert (first.status_code, second.status_code) == (202, 202), second.text
        third_file = batch_file(ao_id, reference="REF-3", records=4)
        busy = await limited.post("/v1/batches", content=third_file, headers=_json(headers))

        assert busy.status_code == 429, busy.text
        assert busy.headers["Retry-After"] == "30"
        problem = busy.json()
        assert (problem["code"], problem["records_waiting"], problem["limit"], problem["retry_after"]) == (
            "TOO_MANY_RECORDS_WAITING",
            8,
            6,
            30,
        )
        assert "send this file again in 30 seconds" in problem["detail"]
        listed = (await limited.get("/v1/batches", headers=headers)).json()
        assert listed["total"] == 2  # nothing of the third file was kept
        _, other_headers = await ingest.new_ao()
        other_ao = (await limited.get("/v1/batches", headers=other_headers)).json()
        assert other_ao["total"] == 0

        # once the first is decided, the third is taken
        batch_id = uuid.UUID(first.json()["batch_id"])
        await publish_outcomes(ingest.kafka_bootstrap, batch_id, *_outcome_values(batch_id, ao_id))

        async def taken() -> httpx.Response | None:
            answer = await limited.post("/v1/batches", content=third_file, headers=_json(headers))
            return answer if answer.status_code == 202 else None

        await eventually(taken, within=60, what="the third batch taken once the first was decided")


async def test_a_retry_of_a_stored_batch_is_answered_whatever_waits(ingest: Ingest, ingest_database_url: str) -> None:
    """A code review: the limit was asked first, so a retry under the same Idempotency-Key (its answer lost, or Kafka
    away when it came) was told 429 "nothing of it was kept", and a batch Kafka never took, counted as waiting, kept
    its AO under the limit for good: no decision ever comes for it."""
    ao_id, headers = await ingest.new_ao()
    kept_out = {**_json(headers), "Idempotency-Key": "kept-out-by-kafka"}
    content = batch_file(ao_id, records=4)
    cut_off = _settings(
        f"127.0.0.1:{closed_port()}", ingest_database_url, kafka_start_timeout_seconds=3, max_waiting_records_per_ao=4
    )
    async with running(cut_off) as (_, client):
        refused = await client.post("/v1/batches", content=content, headers=kept_out)
        assert refused.status_code == 503, refused.text

    settings = _settings(ingest.kafka_bootstrap, ingest_database_url, max_waiting_records_per_ao=4)
    async with running(settings) as (_, limited):
        published = await limited.post("/v1/batches", content=content, headers=kept_out)
        assert published.status_code == 202, published.text
        assert published.json()["batch_id"] == refused.json()["instance"].rsplit("/", 1)[-1]

        again = await limited.post("/v1/batches", content=content, headers=kept_out)  # its answer was lost
        assert again.status_code == 202 and again.headers["Idempotent-Replay"] == "true", again.text

        other = batch_file(ao_id, reference="REF-2", records=4)
        busy = await limited.post("/v1/batches", content=other, headers=_json(headers))
        assert busy.status_code == 429, busy.text  # a new file still waits at the AO's door


async def test_a_batch_kafka_never_took_stops_counting_once_its_publish_has_run_out(
    ingest: Ingest, ingest_database_url: str
) -> None:
    ao_id, headers = await ingest.new_ao()
    cut_off = _settings(
        f"127.0.0.1:{closed_port()}", ingest_database_url, kafka_start_timeout_seconds=3, max_waiting_records_per_ao=4
    )
    async with running(cut_off) as (_, client):
        refused = await client.post("/v1/batches", content=batch_file(ao_id, records=4), headers=_json(headers))
        assert refused.status_code == 503, refused.text
    repository: BatchRepository = ingest.app.state.batches
    assert await repository.records_waiting(ao_id, publishing_seconds=3600) == Waiting(4, 1)  # still being published
    assert await repository.records_waiting(ao_id, publishing_seconds=0) == Waiting(0, 0)  # its publish ran out


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


# ---------------------------------------------------------------- the batch view


def _outcome(line: int, status: RecordStatus, *codes: str) -> RecordOutcome:
    errors = tuple(
        Finding(code=code, field="uln", message=f"{code} message") for code in codes if code.startswith("RV")
    )
    warnings = tuple(Finding(code=code, message=f"{code} message") for code in codes if code.startswith("WV"))
    return RecordOutcome(
        line=line,
        mis_identifier=f"=CAND-{line}" if line == 1 else f"CAND-{line}",
        action="Create",
        uln_masked="******0043",
        status=status,
        errors=errors,
        warnings=warnings,
        achievement_id=uuid.uuid4() if status is RecordStatus.ACCEPTED else None,
    )


def _outcome_values(batch_id: uuid.UUID, ao_id: str, *, failed: bool = False) -> list[bytes]:
    now = datetime.now(UTC)
    outcomes = [
        _outcome(1, RecordStatus.ACCEPTED),
        _outcome(2, RecordStatus.REJECTED, "RV002", "WV001"),
        _outcome(3, RecordStatus.NO_OP),
        _outcome(4, RecordStatus.ACCEPTED, "WV002"),
    ]
    counts = BatchCounts(total=4, accepted=2, rejected=1, no_ops=1, warnings=2)
    chunks = [
        BatchRecordsDecided(batch_id=batch_id, ao_id=ao_id, chunk_index=0, outcomes=tuple(outcomes[:2])),
        BatchRecordsDecided(batch_id=batch_id, ao_id=ao_id, chunk_index=1, outcomes=tuple(outcomes[2:])),
    ]
    common = {
        "batch_id": batch_id,
        "ao_id": ao_id,
        "job_type": JobType.FINAL,
        "batch_reference": "REF-1",
        "notification_email": "results@example.org",
        "counts": counts,
        "submitted_at": now,
        "decided_at": now,
    }
    end = (
        BatchFailed(code="RS005", reason="more than 30% of the records were rejected", **common)
        if failed
        else BatchCompleted(**common)
    )
    return [encode(wrap(payload, source="validation", correlation_id=str(batch_id))) for payload in (*chunks, end)]


async def test_outcome_events_show_in_the_batch_view_and_the_csv(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    batch_id = uuid.uuid4()
    values = _outcome_values(batch_id, ao_id)
    # Redelivery (the same events twice) must not change the result.
    await publish_outcomes(ingest.kafka_bootstrap, batch_id, *values, *values)

    async def decided() -> httpx.Response | None:
        response = await ingest.client.get(f"/v1/batches/{batch_id}?wait_until_decided=5", headers=headers)
        return response if response.status_code == 200 and response.json()["status"] == "completed" else None

    view = (await eventually(decided, within=60, what="the completed batch")).json()
    assert view["counts"] == {"total": 4, "accepted": 2, "rejected": 1, "warnings": 2, "no_ops": 1}
    assert view["job_type"] == "Final" and view["batch_reference"] == "REF-1" and view["decided_at"]

    page = (await ingest.client.get(f"/v1/batches/{batch_id}/records?page_size=3", headers=headers)).json()
    assert page["total"] == 4 and [item["line"] for item in page["records"]] == [1, 2, 3]
    assert page["records"][0]["mis_identifier"] == "=CAND-1"
    rejected = (await ingest.client.get(f"/v1/batches/{batch_id}/records?status=rejected", headers=headers)).json()
    assert [(item["line"], [error["code"] for error in item["errors"]]) for item in rejected["records"]] == [
        (2, ["RV002"])
    ]
    second_page = (
        await ingest.client.get(f"/v1/batches/{batch_id}/records?page=2&page_size=3", headers=headers)
    ).json()
    assert [item["line"] for item in second_page["records"]] == [4]

    download = await ingest.client.get(f"/v1/batches/{batch_id}/records.csv", headers=headers)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.content.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel reads it as UTF-8
    lines = download.text.removeprefix("\ufeff").splitlines()
    assert lines[0] == "Line,MISIdentifier,Action,ULN,Status,Codes,Messages,PLRChanged"
    assert lines[1].startswith("1,'=CAND-1,Create,******0043,accepted") and lines[1].endswith(",Y")
    assert lines[2].startswith("2,CAND-2,Create,******0043,rejected,RV002;WV001,") and lines[2].endswith(",N")
    assert [item["plr_changed"] for item in page["records"]] == [True, False, False]
    assert len(lines) == 5
    assert "1000000043" not in download.text

    operator = await ingest.caller("operator:ops")
    assert (await ingest.client.get(f"/v1/batches/{batch_id}", headers=operator)).status_code == 200
    _, other = await ingest.new_ao()
    assert (await ingest.client.get(f"/v1/batches/{batch_id}/records", headers=other)).status_code == 404


async def test_a_batch_is_validating_once_validation_picks_it_up(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    accepted = await submit(ingest, headers, batch_file(ao_id, records=4))
    assert accepted.status_code == 202, accepted.text
    batch_id = uuid.UUID(accepted.json()["batch_id"])
    started = encode(
        wrap(
            BatchValidationStarted(batch_id=batch_id, ao_id=ao_id, record_count=4),
            source="validation",
            correlation_id=str(batch_id),
        )
    )

    async def status_is(expected: str) -> bool:
        view = await ingest.client.get(f"/v1/batches/{batch_id}", headers=headers)
        return bool(view.json()["status"] == expected)

    await publish_outcomes(ingest.kafka_bootstrap, batch_id, started)
    await eventually(lambda: status_is("validating"), within=60, what="status validating")

    # A repeated start after the decision (a restarted decider) must not move the batch back. The
    # extra outcome chunk after it, on the same partition, shows when the repeat has been consumed.
    late_chunk = BatchRecordsDecided(
        batch_id=batch_id, ao_id=ao_id, chunk_index=2, outcomes=(_outcome(5, RecordStatus.ACCEPTED),)
    )
    late = encode(wrap(late_chunk, source="validation", correlation_id=str(batch_id)))
    await publish_outcomes(ingest.kafka_bootstrap, batch_id, *_outcome_values(batch_id, ao_id), started, late)

    async def line_five_listed() -> bool:
        page = (await ingest.client.get(f"/v1/batches/{batch_id}/records", headers=headers)).json()
        return any(record["line"] == 5 for record in page["records"])

    await eventually(line_five_listed, within=60, what="the chunk published after the repeated start")
    assert await status_is("completed")


async def test_a_failed_batch_shows_rs005_with_its_reason(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    batch_id = uuid.uuid4()
    await publish_outcomes(ingest.kafka_bootstrap, batch_id, *_outcome_values(batch_id, ao_id, failed=True))

    async def failed() -> dict[str, Any] | None:
        response = await ingest.client.get(f"/v1/batches/{batch_id}?wait_until_decided=5", headers=headers)
        return response.json() if response.status_code == 200 and response.json()["status"] == "failed" else None

    view = await eventually(failed, within=60, what="the failed batch")
    assert (view["failure_code"], view["failure_reason"]) == ("RS005", "more than 30% of the records were rejected")
    # Its passed records are still "accepted" (what the rules said of them), but none reached a PLR.
    records = (await ingest.client.get(f"/v1/batches/{batch_id}/records", headers=headers)).json()["records"]
    assert [(item["status"], item["plr_changed"]) for item in records] == [
        ("accepted", False),
        ("rejected", False),
        ("no_op", False),
        ("accepted", False),
    ]
    download = (await ingest.client.get(f"/v1/batches/{batch_id}/records.csv", headers=headers)).text
    assert [line.rsplit(",", 1)[1] for line in download.splitlines()[1:]] == ["N", "N", "N", "N"]


async def test_an_unreadable_outcome_goes_to_the_dlq_and_the_consumer_carries_on(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    batch_id = uuid.uuid4()
    async with reading(ingest.kafka_bootstrap, BATCH_OUTCOMES.dead_letters) as dead_letters:
        poison = f"not an envelope {batch_id}".encode()
        # Under another key: a batch's own later outcomes wait behind its poison (test_consumer_poison.py).
        await publish_outcomes(ingest.kafka_bootstrap, uuid.uuid4(), poison)
        await publish_outcomes(ingest.kafka_bootstrap, batch_id, *_outcome_values(batch_id, ao_id))

        async def completed() -> bool | None:
            response = await ingest.client.get(f"/v1/batches/{batch_id}?wait_until_decided=5", headers=headers)
            return (response.status_code == 200 and response.json()["status"] == "completed") or None

        await eventually(completed, within=60, what="the batch behind the poison message")

        async def dead_lettered() -> bool | None:
            await dead_letters.poll()
            return any(message.value == poison for message in dead_letters.messages) or None

        await eventually(dead_lettered, within=60, what="the poison message on the DLQ")


async def test_the_history_is_newest_first_and_paged(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    ids = []
    for _ in range(3):
        response = await submit(ingest, headers, batch_file(ao_id))
        ids.append(response.json()["batch_id"])
    first = (await ingest.client.get("/v1/batches?page_size=2", headers=headers)).json()
    second = (await ingest.client.get("/v1/batches?page_size=2&page=2", headers=headers)).json()
    assert first["total"] == second["total"] == 3
    assert [item["batch_id"] for item in first["items"] + second["items"]] == ids[::-1]


async def test_waiting_for_a_decision_is_bounded(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    response = await submit(ingest, headers, batch_file(ao_id))
    started = time.perf_counter()
    view = await ingest.client.get(f"{response.headers['Location']}?wait_until_decided=0.3", headers=headers)
    assert view.status_code == 200
    assert time.perf_counter() - started < 10
    too_long = await ingest.client.get(f"{response.headers['Location']}?wait_until_decided=31", headers=headers)
    assert too_long.status_code == 422


async def test_the_xsd_and_the_openapi_document_are_served(ingest: Ingest) -> None:
    xsd = await ingest.client.get("/v1/schema/achievement-batch.xsd")
    assert xsd.status_code == 200 and b"AchievementBatch" in xsd.content
    document = (await ingest.client.get("/openapi.json")).json()
    body = document["paths"]["/v1/batches"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/xml", "text/csv"}
    assert body["application/json"]["schema"]["$ref"] == "#/components/schemas/JsonBatch"
    assert "JsonBatch" in document["components"]["schemas"]
    assert {"202", "401", "403", "413", "422", "503"} <= set(document["paths"]["/v1/batches"]["post"]["responses"])


# ---------------------------------------------------------------- schemathesis


@pytest.fixture(scope="module")
def schemathesis_app(kafka_bootstrap: str, ingest_database_url: str) -> Iterator[FastAPI]:
    # schemathesis runs the app, lifespan included, on its own event loop thread
    app = create_app(_settings(kafka_bootstrap, ingest_database_url, outcomes_enabled=False))
    yield app
    schemathesis_asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
async def schemathesis_key(ingest_database_url: str) -> str:
    pool = await asyncpg.create_pool(ingest_database_url, min_size=1, max_size=2)
    try:
        store = CredentialStore(pool)
        await store.migrate()
        issued = await store.issue(Principal.parse(f"ao:RN{uuid.uuid4().int % 10**8:08d}"))
    finally:
        await pool.close()
    return issued.token


@pytest.fixture(scope="module")
def api_schema(schemathesis_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", schemathesis_app)


# schemathesis' own pytest plugin (`from_fixture`) does not run under pytest 9, so each operation is
# driven through Hypothesis here.
OPERATIONS = sorted(
    (method, route.path)
    for route in ingest_api.router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
)
# Negative cases need something to get wrong: the XSD download takes no input at all.
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in schemathesis.GenerationMode
    if mode is schemathesis.GenerationMode.POSITIVE or not path.endswith(".xsd")
]
CHECKS = [
    schemathesis_checks.not_a_server_error,
    schemathesis_checks.status_code_conformance,
    schemathesis_checks.content_type_conformance,
    schemathesis_checks.response_schema_conformance,
    schemathesis_checks.response_headers_conformance,
]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_the_api_keeps_its_openapi_promises(
    api_schema: Any, schemathesis_key: str, method: str, path: str, mode: schemathesis.GenerationMode
) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {schemathesis_key}"}

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        database=None,
    )
    def keeps_its_promises(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    keeps_its_promises()


async def test_an_ao_lists_only_its_batches_in_one_state(ingest: Ingest) -> None:
    """Thousands of batches: the refused (or failed) ones found without reading every page."""
    ao_id, headers = await ingest.new_ao()
    accepted = await submit(ingest, headers, batch_file(ao_id, reference="KEPT"))
    refused = await submit(ingest, headers, b'{"header": {}, "records": []}')
    assert (accepted.status_code, refused.status_code) == (202, 422)

    only_refused = (await ingest.client.get("/v1/batches?status=refused", headers=headers)).json()
    assert [item["status"] for item in only_refused["items"]] == ["refused"] and only_refused["total"] == 1
    not_refused = (await ingest.client.get("/v1/batches?status=accepted", headers=headers)).json()
    assert [item["batch_id"] for item in not_refused["items"]] in ([accepted.json()["batch_id"]], [])
    queued = await ingest.client.get("/v1/batches?status=queued", headers=headers)
    assert (queued.status_code, queued.json()["code"]) == (422, "INVALID_REQUEST")
    assert "ask for status=accepted" in queued.json()["detail"]
