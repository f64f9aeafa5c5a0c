"""The purge key (an operator key with the maintenance scope, as operations.md makes it) follows the resets
it made at `/v1/sandpit/resets/{id}`, as a support key does; a key with neither scope is refused."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from ingest import sandpit_api
from ingest.sandpit import ResetView
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.maintenance import Closure

RESET = ResetView(
    reset_id=uuid.uuid4(), ao_id="RN9093", status="pending", requested_by="operator:purge", requested_at=utc_now()
)


@dataclass(frozen=True)
class OneOperatorKey:
    """The Sandpit's key store, knowing one operator key with these scopes."""

    scopes: frozenset[str]
    environment: Environment = Environment.SANDPIT

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:purge", self.scopes)


class OneReset:
    async def get(self, reset_id: uuid.UUID, closure: Closure | None = None) -> ResetView | None:
        return RESET if reset_id == RESET.reset_id else None


class NoMaintenance:
    async def closure(self) -> Closure | None:
        return None


@dataclass
class Resets:
    store: OneReset


@pytest.mark.parametrize(("scopes", "status"), [({"maintenance"}, 200), ({"support"}, 200), ({"reporting"}, 403)])
async def test_the_purge_key_follows_its_resets(scopes: set[str], status: int) -> None:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    app.include_router(sandpit_api.router)
    app.state.credentials = OneOperatorKey(frozenset(scopes))
    app.state.sandpit_resets = Resets(OneReset())
    app.state.maintenance = NoMaintenance()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        answer = await client.get(
            f"/v1/sandpit/resets/{RESET.reset_id}", headers={"Authorization": "Bearer lrs_sbx_0123456789abcdef_x"}
        )
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json()["reset_id"] == str(RESET.reset_id)
    else:
        assert answer.json()["code"] == "OPERATOR_SCOPE_MISSING"
