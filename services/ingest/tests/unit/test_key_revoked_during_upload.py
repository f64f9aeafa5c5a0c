"""A key is checked when a request starts; an upload that began before its key was revoked went on to be stored after
the revocation (a leaked key's slow upload outlived its revocation). The key is now checked again once the file is
read, before anything of it is kept: refused 401 as a revoked key is, nothing stored, published or filed. Through
the route, with a key store whose key is revoked while the body is arriving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance, Settings
from services.ingest.tests.unit.test_ingest_service import FakePublisher, FakeRepository, batch_file, make

from ingest import api
from ingest.uploads import UploadGate
from lrs_contracts.environments import Environment
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal, PrincipalKind

KEY_ID = "0123456789abcdef"
TOKEN = f"lrs_{KEY_ID}_secret"


@dataclass
class OneKey:
    """The key store as `current_principal` asks it: one AO key, until it is revoked."""

    environment: Environment = Environment.LIVE
    revoked: bool = False
    asked: int = 0

    async def authenticate(self, token: str) -> Principal | None:
        self.asked += 1
        if token != TOKEN or self.revoked:
            return None
        return Principal(PrincipalKind.AO, "RN5133", key_id=KEY_ID)


@dataclass
class Ingest:
    client: httpx.AsyncClient
    keys: OneKey
    repository: FakeRepository
    publisher: FakePublisher


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
    app.state.credentials = keys = OneKey()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield Ingest(client, keys, repository, publisher)


def _revoked_midway(keys: OneKey, content: bytes) -> AsyncIterator[bytes]:
    """The file in two pieces, the key revoked between them: after the request was let in."""

    async def pieces() -> AsyncIterator[bytes]:
        half = len(content) // 2
        yield content[:half]
        keys.revoked = True
        yield content[half:]

    return pieces()


async def _upload(ingest: Ingest, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return await ingest.client.post("/v1/batches", content=content, headers=headers)


async def test_a_file_whose_key_was_revoked_while_it_arrived_is_401_and_nothing_is_kept(ingest: Ingest) -> None:
    answer = await _upload(ingest, _revoked_midway(ingest.keys, batch_file()))

    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"] == "The API key is unknown, revoked or malformed."
    assert ingest.keys.asked == 2  # when the request began, and once the file was read
    assert (ingest.repository.batches, ingest.repository.refusals, ingest.publisher.transactions) == ({}, [], [])


async def test_a_file_whose_key_still_stands_is_accepted(ingest: Ingest) -> None:
    answer = await _upload(ingest, batch_file())

    assert answer.status_code == 202, answer.text
    assert len(ingest.repository.batches) == 1
