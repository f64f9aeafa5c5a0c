"""An AO's Idempotency-Key sent again with another file is refused 409 with its own code, IDEMPOTENCY_KEY_REUSED,
naming the batch the key made (`batch_id`): a client tells it from any other conflict and links to that batch
without searching the AO's batches for it. Through the route, as a client meets it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_service import AO, FakePublisher, FakeRepository, batch_file, make

from ingest import api
from ingest.maintenance import MaintenanceStore
from ingest.submission import SubmissionInProgress
from ingest.uploads import UploadGate
from lrs_contracts.codes import ProblemCode
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan


@dataclass(frozen=True)
class Settings:
    max_waiting_records_per_ao: int = 0
    max_waiting_batches_per_ao: int = 0
    upload_idle_seconds: float = 30


class NoMaintenance(MaintenanceStore):
    def __init__(self) -> None:
        pass

    async def closure(self) -> None:
        return None


@dataclass
class Ingest:
    client: httpx.AsyncClient
    publisher: FakePublisher
    app: FastAPI


@pytest.fixture
async def ingest() -> AsyncIterator[Ingest]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    repository, publisher = FakeRepository(), FakePublisher()
    app.state.submissions = make(repository, publisher)
    app.state.batches = repository
    app.state.settings = Settings()
    app.state.maintenance = NoMaintenance()
    app.state.uploads = UploadGate(per_caller=4, overall=16)
    app.dependency_overrides[current_principal] = lambda: AO
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield Ingest(client, publisher, app)


async def send(ingest: Ingest, content: bytes, key: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    return await ingest.client.post("/v1/batches", content=content, headers=headers)


async def test_a_key_sent_again_with_another_file_is_409_idempotency_key_reused_naming_its_batch(
    ingest: Ingest,
) -> None:
    first = await send(ingest, batch_file(reference="MONDAY"), "results-day")

    other_file = await send(ingest, batch_file(reference="TUESDAY"), "results-day")

    assert first.status_code == 202
    assert other_file.status_code == 409
    assert other_file.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = other_file.json()
    assert problem["code"] == ProblemCode.IDEMPOTENCY_KEY_REUSED == "IDEMPOTENCY_KEY_REUSED"
    assert problem["type"] == "/problems/IDEMPOTENCY_KEY_REUSED"
    assert problem["batch_id"] == first.json()["batch_id"]
    assert problem["detail"].startswith(f"Idempotency-Key 'results-day' was used for batch {problem['batch_id']},")
    assert len(ingest.publisher.transactions) == 1  # nothing of the second file was published


async def test_the_same_file_under_its_key_is_still_the_same_batch(ingest: Ingest) -> None:
    first = await send(ingest, batch_file(), "k-1")
    again = await send(ingest, batch_file(), "k-1")

    assert (again.status_code, again.json()["batch_id"]) == (202, first.json()["batch_id"])
    assert again.headers["idempotent-replay"] == "true"


async def test_a_submission_being_published_is_409_conflict_naming_its_batch_when_known(ingest: Ingest) -> None:
    made = uuid.uuid4()

    async def publishing(*_: Any, **__: Any) -> None:
        raise SubmissionInProgress(f"Batch {made} is being published by another request.", made)

    ingest.app.state.submissions.submit = publishing

    answer = await send(ingest, batch_file(), "k-2")

    assert answer.status_code == 409
    assert answer.headers["retry-after"] == "1"
    assert (answer.json()["code"], answer.json()["batch_id"]) == (ProblemCode.CONFLICT, str(made))
