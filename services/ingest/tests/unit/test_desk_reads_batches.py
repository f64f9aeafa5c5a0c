"""What the service desk (an operator key with the `support` scope, no database) asks of ingest: a batch whose
outcome is held in ingest's dead letters says so (`held_in_dead_letters`), to its AO too; the batch list finds
batches by when they were received and by the start of their id (the 8 characters of a batch email's subject),
an AO's list still of its own batches; and the maintenance history is read with `support` as well as
`maintenance`, while changing the schedule still needs `maintenance`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ingest import api
from ingest.maintenance import MaintenanceStore
from ingest.repository import BatchHistory, id_range
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

AO = "RN5133"
BATCH_ID = uuid.UUID("5a398464-1f2e-4c3d-9b8a-7f6e5d4c3b2a")
RECEIVED = datetime(2026, 12, 7, 9, 58, tzinfo=UTC)
PARKED = datetime(2026, 12, 7, 10, 2, 30, tzinfo=UTC)


def _row(**extra: Any) -> dict[str, Any]:
    columns = [
        *("format", "job_type", "batch_reference", "submitted_by", "submitted_with_key"),
        *("idempotency_key", "content_sha256", "size_bytes", "record_count", "total", "accepted", "rejected"),
        *("warnings", "no_ops", "refusal_code", "refusal_detail", "refusal_line", "refusal_column"),
        *("failure_code", "failure_reason", "accepted_at", "decided_at"),
    ]
    return {
        **dict.fromkeys(columns),
        "batch_id": BATCH_ID,
        "ao_id": AO,
        "status": "accepted",
        "received_at": RECEIVED,
        **extra,
    }


@dataclass
class Batches:
    """The batch store: one batch, read as `BatchRepository.get` reads it (with its parked messages beside it)."""

    row: dict[str, Any]
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any] | None:
        return self.row if batch_id == BATCH_ID and ao_id in (None, AO) else None

    async def history(self, **asked: Any) -> BatchHistory:
        self.asked.append(asked)
        return BatchHistory([self.row], 1, None)


@dataclass(frozen=True)
class Settings:
    environment: Environment = Environment.LIVE
    publish_timeout_seconds: float = 30.0
    max_wait_seconds: float = 30.0


class NoMaintenance(MaintenanceStore):
    async def closure(self) -> None:
        return None


@dataclass
class Ingest:
    client: httpx.AsyncClient
    app: FastAPI
    batches: Batches

    def call_as(self, principal: str) -> None:
        self.app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)


@asynccontextmanager
async def served(batches: Batches, environment: Environment = Environment.LIVE) -> AsyncIterator[Ingest]:
    """Ingest's routes over `batches`, with no database, broker or maintenance window, called by the service desk
    until a test says who calls (`Ingest.call_as`)."""
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = batches
    app.state.settings = Settings(environment=environment)
    app.state.maintenance = NoMaintenance(None)
    app.state.decision_signal = None
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:desk")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield Ingest(client, app, batches)


@pytest.fixture
async def ingest() -> AsyncIterator[Ingest]:
    async with served(Batches(_row())) as ingest:
        yield ingest


# ---------------------------------------------------------------- held_in_dead_letters


@pytest.mark.parametrize("caller", ["operator:desk", f"ao:{AO}"])
async def test_a_batch_whose_outcome_is_parked_says_so_to_the_desk_and_to_its_ao(ingest: Ingest, caller: str) -> None:
    ingest.batches.row = _row(held_in_dead_letters=4, held_in_dead_letters_since=PARKED)
    ingest.call_as(caller)

    answer = await ingest.client.get(f"/v1/batches/{BATCH_ID}")

    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["status"] == "accepted"
    assert view["held_in_dead_letters"] == {"count": 4, "since": "2026-12-07T10:02:30Z"}


async def test_a_batch_with_nothing_parked_says_null(ingest: Ingest) -> None:
    ingest.batches.row = _row(held_in_dead_letters=0, held_in_dead_letters_since=None)

    view = (await ingest.client.get(f"/v1/batches/{BATCH_ID}")).json()

    assert view["held_in_dead_letters"] is None


def test_the_field_is_in_the_document(ingest: Ingest) -> None:
    schemas = ingest.app.openapi()["components"]["schemas"]
    assert "held_in_dead_letters" in schemas["BatchView"]["properties"]
    assert set(schemas["HeldInDeadLetters"]["required"]) == {"count", "since"}


# ---------------------------------------------------------------- received_from, received_to, id_prefix


async def test_the_list_is_bounded_by_when_the_batches_were_received(ingest: Ingest) -> None:
    answer = await ingest.client.get(
        "/v1/batches",
        params={"received_from": "2026-12-07T09:30:00Z", "received_to": "2026-12-07T11:30:00+01:00"},
    )

    assert answer.status_code == 200, answer.text
    (asked,) = ingest.batches.asked
    assert asked["received_from"] == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert asked["received_to"] == datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    assert asked["ao_id"] is None and "ids" not in asked


@pytest.mark.parametrize("name", ["received_from", "received_to"])
@pytest.mark.parametrize("value", ["2026-12-07T09:30:00", "2026-12-07", "yesterday"])
async def test_a_time_without_its_zone_is_refused(ingest: Ingest, name: str, value: str) -> None:
    answer = await ingest.client.get("/v1/batches", params={name: value})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert name in answer.json()["detail"]
    assert ingest.batches.asked == []


async def test_an_ao_finds_its_batch_by_the_start_of_its_id_in_its_own_list(ingest: Ingest) -> None:
    ingest.call_as(f"ao:{AO}")

    answer = await ingest.client.get("/v1/batches", params={"id_prefix": "5A398464"})

    assert answer.status_code == 200, answer.text
    assert [item["batch_id"] for item in answer.json()["items"]] == [str(BATCH_ID)]
    (asked,) = ingest.batches.asked
    assert asked["ao_id"] == AO  # the AO's own list, as ever
    assert asked["ids"] == (
        uuid.UUID("5a398464-0000-0000-0000-000000000000"),
        uuid.UUID("5a398464-ffff-ffff-ffff-ffffffffffff"),
    )


@pytest.mark.parametrize("prefix", ["5a39846", "5a398464-1f2e-4c3d-9b8a-7f6e5d4c3b2a0", "5a398g64", "5a3984 4"])
async def test_an_id_prefix_that_is_not_8_to_36_characters_of_an_id_is_refused(ingest: Ingest, prefix: str) -> None:
    answer = await ingest.client.get("/v1/batches", params={"id_prefix": prefix})

    assert answer.status_code == 422, answer.text
    assert "id_prefix" in answer.json()["detail"]
    assert ingest.batches.asked == []


async def test_a_prefix_no_id_can_start_with_lists_none(ingest: Ingest) -> None:
    # a hyphen out of its place: hex and hyphens, but the start of no batch id's text
    answer = await ingest.client.get("/v1/batches", params={"id_prefix": "5a3984641f2e"})

    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == [] and answer.json()["total"] == 0


def test_an_id_range_holds_exactly_the_ids_starting_so() -> None:
    low, high = id_range("5a398464-1f") or (None, None)
    assert low == uuid.UUID("5a398464-1f00-0000-0000-000000000000")
    assert high == uuid.UUID("5a398464-1fff-ffff-ffff-ffffffffffff")
    assert id_range(str(BATCH_ID)) == (BATCH_ID, BATCH_ID)
    assert id_range("5a398464-") == id_range("5a398464")
    assert id_range("5a398464--") is None and id_range("5a398464-1f2e4") is None


async def test_a_prefix_stays_within_an_aos_own_batches_when_it_names_another(ingest: Ingest) -> None:
    ingest.call_as(f"ao:{AO}")

    answer = await ingest.client.get("/v1/batches", params={"id_prefix": "5a398464", "ao_id": "RN9093"})

    assert answer.status_code == 403, answer.text
    assert ingest.batches.asked == []
