"""Ingest says what it found in a batch in the words of the batch's own file, where it serves it: a JSON file is
told `notificationEmail` (its key), not `NotificationEmail` (the CSV heading), in the 422 answer and in the batch's
view; an XML or JSON batch's record view and results CSV say RV020's `Record 2 of this batch`, as records are
numbered in those files (by their position), not `Line 2`. What is stored stays as the domain said it."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance, Settings
from services.ingest.tests.unit.test_ingest_service import AO, FakePublisher, FakeRepository, batch_file, make
from services.ingest.tests.unit.test_ingest_views import row

from ingest import api
from ingest.repository import RecordsRead
from ingest.uploads import UploadGate
from ingest.views import batch_view
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_contracts.environments import Environment
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan

DUPLICATE = (
    "Line 2 of this batch already addresses this achievement (qualification 500/0002/0, award date 2021-06-30):"
    " send each achievement once per batch."
)
MISSING_NAME = "GivenName is missing."


@dataclass
class Ingest:
    client: httpx.AsyncClient
    repository: FakeRepository


@pytest.fixture
async def ingest() -> AsyncIterator[Ingest]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    repository = FakeRepository()
    app.state.submissions = make(repository, FakePublisher())
    app.state.batches = repository
    app.state.settings = Settings()
    app.state.maintenance = NoMaintenance()
    app.state.uploads = UploadGate(per_caller=4, overall=16)
    app.dependency_overrides[current_principal] = lambda: AO
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield Ingest(client, repository)


async def test_a_json_file_without_its_notification_email_is_told_the_key_it_lacks(ingest: Ingest) -> None:
    document = json.loads(batch_file())
    del document["header"]["notificationEmail"]

    answer = await ingest.client.post(
        "/v1/batches", content=json.dumps(document).encode(), headers={"Content-Type": "application/json"}
    )

    assert (answer.status_code, answer.json()["code"]) == (422, "RS007")
    assert answer.json()["detail"] == "the header has no notificationEmail"
    ((_, _, stored),) = ingest.repository.refusals
    assert stored.detail == "the header has no NotificationEmail"  # stored as the domain said it


async def test_a_json_files_implausible_address_is_named_by_its_key(ingest: Ingest) -> None:
    document = json.loads(batch_file())
    document["header"]["notificationEmail"] = "results at ao.example"

    answer = await ingest.client.post(
        "/v1/batches", content=json.dumps(document).encode(), headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("notificationEmail is not a plausible email address")


@pytest.mark.parametrize(("fmt", "content_type"), [(BatchFormat.CSV, "text/csv"), (BatchFormat.XML, "application/xml")])
async def test_a_csv_or_xml_files_implausible_address_is_named_by_its_heading(
    ingest: Ingest, fmt: BatchFormat, content_type: str
) -> None:
    header = BatchHeader(
        awarding_organisation="RN5133", job_type=JobType.FINAL, notification_email="results at ao.example"
    )
    records = (SubmittedRecord(line=1, uln="1000000043", grade="Pass"),)
    content = write_batch(ParsedBatch(header=header, records=records, format=fmt), fmt)

    answer = await ingest.client.post("/v1/batches", content=content, headers={"Content-Type": content_type})

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("NotificationEmail is not a plausible email address")


def test_a_refused_json_batchs_view_names_the_key() -> None:
    stored = row(
        status="refused", format="json", refusal_code="RS007", refusal_detail="the header has no NotificationEmail"
    )

    refusal = batch_view(stored).refusal

    assert refusal is not None and refusal.detail == "the header has no notificationEmail"
    csv_refusal = batch_view({**stored, "format": "csv"}).refusal
    assert csv_refusal is not None and csv_refusal.detail == "the header has no NotificationEmail"


class OneBatchOfOneRecord:
    """A decided batch of `fmt` whose one stored record repeats record 2's achievement and lacks its given name."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any]:
        return {"status": "completed", "format": self.fmt}

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        errors = [
            {"code": "RV020", "field": None, "message": DUPLICATE},
            {"code": "RV021", "field": "given_name", "message": MISSING_NAME},
        ]
        stored = {
            "line": 4,
            "mis_identifier": "MIS-4",
            "action": "Create",
            "uln_masked": "******0043",
            "status": "rejected",
            "errors": json.dumps(errors),
            "warnings": "[]",
            "achievement_id": None,
        }
        return [stored], 1

    async def records_and_codes(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> RecordsRead:
        rows, total = await self.records(batch_id, status=status, limit=limit, offset=offset)
        return RecordsRead(rows, total, ["RV020", "RV021"])


@dataclass(frozen=True)
class LiveSettings:
    environment: Environment = Environment.LIVE
    upload_idle_seconds: float = 30.0  # a results download's send deadline


@pytest.mark.parametrize(
    ("fmt", "duplicate", "missing"),
    [
        ("json", "Record 2 of this batch already addresses", "givenName is missing."),
        ("xml", "Record 2 of this batch already addresses", "GivenName is missing."),
        ("csv", "Line 2 of this batch already addresses", "GivenName is missing."),
    ],
)
async def test_a_records_findings_are_said_as_its_file_numbers_and_names_them(
    fmt: str, duplicate: str, missing: str
) -> None:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = OneBatchOfOneRecord(fmt)
    app.state.settings = LiveSettings()
    app.state.maintenance = NoMaintenance()  # `batch_status` is shown as the batch's view shows it
    app.state.downloads = UploadGate(per_caller=3, overall=None)
    app.dependency_overrides[current_principal] = lambda: AO
    batch_id = uuid.uuid4()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        view = await client.get(f"/v1/batches/{batch_id}/records")
        download = await client.get(f"/v1/batches/{batch_id}/records.csv")

    assert view.status_code == 200, view.text
    (record,) = view.json()["records"]
    messages = [finding["message"] for finding in record["errors"]]
    assert messages[0].startswith(duplicate) and messages[1] == missing
    assert download.status_code == 200, download.text
    (said,) = list(csv.DictReader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert said["Messages"] == f"RV020: {messages[0]} | RV021: {missing}"
