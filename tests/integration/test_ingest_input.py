"""Bad input at ingest's door, on a real server, Kafka and PostgreSQL: a file name ingest cannot read does
not fail a submission (it is only a hint to the format), and a history filter that is not an AO id is a
422 naming it, never sent to PostgreSQL (which cannot store a NUL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from tests.support.databases import create_key_store, throwaway_database
from tests.support.serving import served

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

UNREADABLE_NAME = "attachment; filename*=idna''june.json"  # email's RFC 2231 decoding raises UnicodeError


@dataclass
class Door:
    app: FastAPI
    client: httpx.AsyncClient

    async def caller(self, principal: str) -> dict[str, str]:
        store: CredentialStore = self.app.state.credentials
        issued = await store.issue(Principal.parse(principal))
        return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture(scope="module")
async def door(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Door]:
    await ensure_topics(kafka_bootstrap)
    async with throwaway_database(database_url, "ingest_input") as url:
        await create_key_store(url)
        settings = IngestSettings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            DATABASE_URL=url,
            outcomes_group_id=f"ingest-input-test-{uuid.uuid4().hex[:8]}",
            outcomes_enabled=False,
            log_json=True,
        )
        app = create_app(settings)
        async with served(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            yield Door(app, client)


def batch(ao_id: str) -> bytes:
    header = BatchHeader(
        awarding_organisation=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@example.org",
        batch_reference=uuid.uuid4().hex[:16],
    )
    record = SubmittedRecord(
        line=1,
        uln="1000000043",
        given_name="Alex",
        family_name="Smith",
        qualification_number="601/4491/X",
        award_date="2024-08-22",
        grade="Pass",
    )
    return write_batch(ParsedBatch(header=header, records=(record,), format=BatchFormat.JSON), BatchFormat.JSON)


def new_ao_id() -> str:
    return f"RN{uuid.uuid4().int % 10**8:08d}"


@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream"])
async def test_a_batch_sent_with_a_file_name_ingest_cannot_read_is_accepted(door: Door, content_type: str) -> None:
    ao_id = new_ao_id()
    headers = await door.caller(f"ao:{ao_id}")

    response = await door.client.post(
        "/v1/batches",
        content=batch(ao_id),
        headers={**headers, "Content-Type": content_type, "Content-Disposition": UNREADABLE_NAME},
    )

    assert response.status_code == 202, response.text
    view = (await door.client.get(response.headers["Location"], headers=headers)).json()
    assert (view["status"], view["format"]) == ("accepted", "json")


async def test_a_history_filter_that_is_not_an_ao_id_is_a_422_naming_it(door: Door) -> None:
    ao_id = new_ao_id()
    submitted = await door.client.post(
        "/v1/batches",
        content=batch(ao_id),
        headers={**await door.caller(f"ao:{ao_id}"), "Content-Type": "application/json"},
    )
    assert submitted.status_code == 202, submitted.text
    operator = await door.caller(f"operator:ops-{uuid.uuid4().hex[:6]}")

    refused = await door.client.get("/v1/batches", params={"ao_id": f"{ao_id}\x00"}, headers=operator)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "query.ao_id: an AO id is RN followed by 1 to 8 digits, e.g. RN9093"
    filtered = await door.client.get("/v1/batches", params={"ao_id": ao_id}, headers=operator)
    assert [item["batch_id"] for item in filtered.json()["items"]] == [submitted.json()["batch_id"]]
