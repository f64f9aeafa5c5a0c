"""An Idempotency-Key is one value (a structured-field Item): a batch sent with the header twice is refused 400, as a
malformed key is, naming the header, before anything of it is read or kept. Taking the first (as FastAPI does) made
`a` then `b` a replay under `a` and `b` a new batch: a proxy or library that appends the header was never told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance, Settings
from services.ingest.tests.unit.test_ingest_service import AO, FakePublisher, FakeRepository, batch_file, make

from ingest import api
from ingest.uploads import UploadGate
from lrs_contracts.codes import ProblemCode
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[httpx.AsyncClient, FakeRepository, FakePublisher]]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    repository, publisher = FakeRepository(), FakePublisher()
    app.state.submissions = make(repository, publisher)
    app.state.batches = repository
    app.state.settings = Settings()
    app.state.maintenance = NoMaintenance()
    app.state.uploads = UploadGate(per_caller=4, overall=16)
    app.dependency_overrides[current_principal] = lambda: AO
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield client, repository, publisher


async def test_two_idempotency_keys_are_400_naming_the_header_and_nothing_is_kept(
    ingest: tuple[httpx.AsyncClient, FakeRepository, FakePublisher],
) -> None:
    client, repository, publisher = ingest
    headers = [("Content-Type", "application/json"), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]

    answer = await client.post("/v1/batches", content=batch_file(), headers=headers)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == ProblemCode.MALFORMED_REQUEST
    assert problem["title"] == "Invalid Idempotency-Key"
    assert problem["detail"] == "Idempotency-Key was sent more than once: send one."
    assert (repository.batches, repository.refusals, publisher.transactions) == ({}, [], [])


async def test_one_key_is_taken_as_before(ingest: tuple[httpx.AsyncClient, FakeRepository, FakePublisher]) -> None:
    client, _, publisher = ingest
    headers = {"Content-Type": "application/json", "Idempotency-Key": "a"}

    answer = await client.post("/v1/batches", content=batch_file(), headers=headers)

    assert answer.status_code == 202, answer.text
    assert len(publisher.transactions) == 1
