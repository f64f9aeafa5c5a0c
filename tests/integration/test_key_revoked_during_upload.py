"""After a key leaked (a security officer's walk, K11 and K4): an upload that began before its key was revoked, with
`lrs credentials revoke --key-id` from another process, is refused 401 once its file has arrived, and nothing of it is
kept; the batches the key did send are listed by `GET /v1/batches?submitted_with_key=` (an operator's, of every AO;
the AO's, of its own). On the server the services run, with ingest's own key store and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from tests.support.databases import create_key_store, throwaway_database
from tests.support.serving import served
from tests.support.waiting import eventually

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration


@dataclass
class Ingest:
    app: FastAPI
    client: httpx.AsyncClient
    database_url: str

    async def key(self, principal: str) -> tuple[str, dict[str, str]]:
        store: CredentialStore = self.app.state.credentials
        issued = await store.issue(Principal.parse(principal))
        return issued.key_id, {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Ingest]:
    await ensure_topics(kafka_bootstrap)
    async with throwaway_database(database_url, "ingest_key_revoked") as url:
        await create_key_store(url)
        settings = IngestSettings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=url, outcomes_enabled=False, log_json=True
        )
        app = create_app(settings)
        async with served(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield Ingest(app, client, url)


def _batch(ao_id: str, reference: str) -> bytes:
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
            given_name="Alex",
            family_name="Smith",
            qualification_number="601/4491/X",
            award_date="2024-08-22",
            grade="Pass",
        )
        for line in (1, 2, 3)
    )
    return write_batch(ParsedBatch(header=header, records=records, format=BatchFormat.CSV), BatchFormat.CSV)


async def _revoked_elsewhere(ingest: Ingest, key_id: str) -> None:
    """As `lrs credentials revoke --key-id` revokes it: from its own key store, not ingest's."""
    pool = await create_pool(ingest.database_url, max_size=1)
    try:
        await CredentialStore(pool).revoke_key(key_id, by="operator:security-officer")
    finally:
        await pool.close()


async def test_an_upload_whose_key_is_revoked_while_it_arrives_is_refused_and_what_it_sent_is_listed(
    ingest: Ingest,
) -> None:
    ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
    leaked, leaked_headers = await ingest.key(f"ao:{ao_id}")
    _, other_headers = await ingest.key(f"ao:{ao_id}")  # the AO's other system
    _, operator = await ingest.key("operator:desk")
    csv = {"Content-Type": "text/csv"}
    sent = await ingest.client.post("/v1/batches", content=_batch(ao_id, "SENT"), headers=leaked_headers | csv)
    by_other = await ingest.client.post("/v1/batches", content=_batch(ao_id, "OTHER"), headers=other_headers | csv)
    assert (sent.status_code, by_other.status_code) == (202, 202), (sent.text, by_other.text)
    content = _batch(ao_id, "SLOW")

    async def slowly() -> AsyncIterator[bytes]:
        yield content[: len(content) // 2]
        await _revoked_elsewhere(ingest, leaked)

        async def refused() -> bool:  # ingest has seen the revocation (its key cache is about a second)
            answer = await ingest.client.get("/v1/batches", headers=leaked_headers)
            return answer.status_code == 401

        await eventually(refused, within=10, what="the revocation seen by ingest")
        yield content[len(content) // 2 :]

    slow = await ingest.client.post("/v1/batches", content=slowly(), headers=leaked_headers | csv)

    assert slow.status_code == 401, slow.text
    assert slow.json()["detail"] == "The API key is unknown, revoked or malformed."
    listed = await ingest.client.get("/v1/batches", params={"submitted_with_key": leaked}, headers=operator)
    assert listed.status_code == 200, listed.text
    assert [item["batch_id"] for item in listed.json()["items"]] == [sent.json()["batch_id"]]
    assert listed.json()["total"] == 1  # neither the slow file nor the other system's batch
    everything = await ingest.client.get("/v1/batches", params={"ao_id": ao_id}, headers=operator)
    assert sorted(item["batch_reference"] for item in everything.json()["items"]) == ["OTHER", "SENT"]
    asked_by_the_ao = await ingest.client.get(
        "/v1/batches", params={"submitted_with_key": leaked}, headers=other_headers
    )
    assert [item["batch_id"] for item in asked_by_the_ao.json()["items"]] == [sent.json()["batch_id"]]
