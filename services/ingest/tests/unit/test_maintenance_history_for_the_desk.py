"""The service desk (an operator key with the `support` scope) reads the maintenance history, with who set and
cancelled each window and pause ("down for us since 09:00" after a pause has ended); changing the schedule still
needs the `maintenance` scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ingest import maintenance_api
from lrs_contracts.environments import Environment
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

KEY = {"Authorization": "Bearer lrs_sbx_0123456789abcdef_x"}


@dataclass(frozen=True)
class OneOperatorKey:
    scopes: frozenset[str]
    environment: Environment = Environment.SANDPIT

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:desk", self.scopes)


class NoHistory:
    async def history(self, limit: int) -> tuple[list[Any], list[Any]]:
        return [], []

    async def pause(self, reason: str, by: str) -> Any:
        raise AssertionError("a key without the maintenance scope paused processing")


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    maintenance_api.install(app)
    app.state.maintenance = NoHistory()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield client, app


@pytest.mark.parametrize(("scopes", "status"), [({"support"}, 200), ({"maintenance"}, 200), ({"erasure"}, 403)])
async def test_the_history_is_read_with_support_or_maintenance(
    ingest: tuple[httpx.AsyncClient, FastAPI], scopes: set[str], status: int
) -> None:
    client, app = ingest
    app.state.credentials = OneOperatorKey(frozenset(scopes))

    answer = await client.get("/v1/admin/maintenance", headers=KEY)

    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json() == {"windows": [], "pauses": []}
    else:
        assert answer.json()["code"] == "OPERATOR_SCOPE_MISSING"


async def test_support_still_cannot_change_the_schedule(ingest: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = ingest
    app.state.credentials = OneOperatorKey(frozenset({"support"}))

    answer = await client.post("/v1/admin/maintenance/pause", json={"reason": "broker incident"}, headers=KEY)

    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert "maintenance" in answer.json()["detail"]


def test_only_the_history_takes_support(ingest: tuple[httpx.AsyncClient, FastAPI]) -> None:
    _, app = ingest
    paths = app.openapi()["paths"]
    assert paths["/v1/admin/maintenance"]["get"]["x-operator-scopes"] == ["maintenance", "support"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path.startswith("/v1/admin/maintenance") and method != "get":
                assert operation["x-operator-scopes"] == ["maintenance"], (method, path)
