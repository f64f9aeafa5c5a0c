"""`GET /v1/batches` goes on after a position (`after`, the `next` of the page before) as well as by page number,
and says where the page after it starts; the AO's own list, whatever the position says."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ingest import api
from ingest.maintenance import MaintenanceStore
from ingest.repository import BatchHistory
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.paging import PagePosition

AO = "RN5133"
LAST_SHOWN = PagePosition(datetime(2026, 12, 1, 9, 30, tzinfo=UTC), uuid.UUID(int=7))


def _row(batch_id: uuid.UUID, received_at: datetime) -> dict[str, Any]:
    columns = [
        *("ao_id", "status", "format", "job_type", "batch_reference", "submitted_by", "submitted_with_key"),
        *("idempotency_key", "content_sha256", "size_bytes", "record_count", "total", "accepted", "rejected"),
        *("warnings", "no_ops", "refusal_code", "refusal_detail", "refusal_line", "refusal_column"),
        *("failure_code", "failure_reason", "accepted_at", "decided_at"),
    ]
    return {
        **dict.fromkeys(columns),
        "batch_id": batch_id,
        "received_at": received_at,
        "ao_id": AO,
        "status": "completed",
    }


@dataclass
class Batches:
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def history(self, **asked: Any) -> BatchHistory:
        self.asked.append(asked)
        return BatchHistory([_row(LAST_SHOWN.id, LAST_SHOWN.at)], 120, LAST_SHOWN)


@dataclass(frozen=True)
class Settings:
    environment: Environment = Environment.LIVE
    publish_timeout_seconds: float = 30.0


class NoMaintenance(MaintenanceStore):
    async def closure(self) -> None:
        return None


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[httpx.AsyncClient, Batches]]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    batches = Batches()
    app.state.batches = batches
    app.state.settings = Settings()
    app.state.maintenance = NoMaintenance(None)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(f"ao:{AO}")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield client, batches


async def test_a_page_says_where_the_next_starts_and_the_list_goes_on_from_there(
    ingest: tuple[httpx.AsyncClient, Batches],
) -> None:
    client, batches = ingest

    first = (await client.get("/v1/batches", params={"page_size": 1})).json()
    after = (await client.get("/v1/batches", params={"page_size": 1, "after": first["next"]})).json()

    assert first["next"] == LAST_SHOWN.token() and (first["page"], first["total"]) == (1, 120)
    assert after["page"] is None and after["next"] == LAST_SHOWN.token()
    assert batches.asked[0] == {"ao_id": AO, "status": None, "limit": 1, "offset": 0, "after": None}
    assert batches.asked[1] == {"ao_id": AO, "status": None, "limit": 1, "offset": 0, "after": LAST_SHOWN}


async def test_numbered_pages_go_on_as_before(ingest: tuple[httpx.AsyncClient, Batches]) -> None:
    client, batches = ingest

    third = (await client.get("/v1/batches", params={"page": 3, "page_size": 20})).json()

    assert third["page"] == 3
    assert batches.asked == [{"ao_id": AO, "status": None, "limit": 20, "offset": 40, "after": None}]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"page": 2, "after": LAST_SHOWN.token()}, "Give `after` (the `next` of the page before) or `page`, not both."),
        (
            {"after": "not-a-position"},
            "query.after: not a page position this list handed out: pass back its `next` as it is",
        ),
    ],
)
async def test_a_position_with_a_page_number_or_one_no_page_gave_is_422(
    ingest: tuple[httpx.AsyncClient, Batches], params: dict[str, Any], says: str
) -> None:
    client, batches = ingest

    answer = await client.get("/v1/batches", params=params)

    assert answer.status_code == 422 and answer.json()["detail"] == says
    assert batches.asked == []
