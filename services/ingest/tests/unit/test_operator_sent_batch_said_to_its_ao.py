"""Who sent a batch, as the caller may be told (decision 0169): an operator reads `submitted_by` and
`submitted_with_key` as kept; the AO reads its own batches' as kept, and for a batch an LRS operator sent on its
behalf only `an LRS operator`, with no key: neither the operator's name nor their key is its business. The batch's
own view and the batch list say it alike, live and in the Sandpit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ingest import api
from ingest.maintenance import MaintenanceStore
from ingest.repository import BatchHistory
from ingest.views import OPERATOR_SAID, submitter_said_to
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

AO = "RN5133"
BATCH_ID = uuid.UUID("5a398464-1f2e-4c3d-9b8a-7f6e5d4c3b2a")
RECEIVED = datetime(2026, 12, 7, 9, 58, tzinfo=UTC)
OPERATORS_KEY = "0f1e2d3c4b5a6978"
AOS_KEY = "a1b2c3d4e5f60718"


def _row(submitted_by: str | None, submitted_with_key: str | None) -> dict[str, Any]:
    columns = [
        *("format", "job_type", "batch_reference", "idempotency_key", "content_sha256", "size_bytes"),
        *("record_count", "total", "accepted", "rejected", "warnings", "no_ops", "refusal_code", "refusal_detail"),
        *("refusal_line", "refusal_column", "failure_code", "failure_reason", "accepted_at", "decided_at"),
    ]
    return {
        **dict.fromkeys(columns),
        "batch_id": BATCH_ID,
        "ao_id": AO,
        "status": "accepted",
        "received_at": RECEIVED,
        "submitted_by": submitted_by,
        "submitted_with_key": submitted_with_key,
    }


@dataclass
class Batches:
    row: dict[str, Any]

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any] | None:
        return self.row if batch_id == BATCH_ID and ao_id in (None, AO) else None

    async def history(self, **asked: Any) -> BatchHistory:
        return BatchHistory([self.row] if asked["ao_id"] in (None, AO) else [], 1, None)


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

    async def both_views(self) -> list[dict[str, Any]]:
        """The batch as its own view says it and as the batch list does."""
        view = await self.client.get(f"/v1/batches/{BATCH_ID}")
        listed = await self.client.get("/v1/batches")
        assert view.status_code == listed.status_code == 200, (view.text, listed.text)
        (item,) = listed.json()["items"]
        return [view.json(), item]


@pytest.fixture(params=[Environment.LIVE, Environment.SANDPIT])
async def ingest(request: pytest.FixtureRequest) -> AsyncIterator[Ingest]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    batches = Batches(_row(f"operator:jo.bloggs-{uuid.uuid4().hex[:4]}", OPERATORS_KEY))
    app.state.batches = batches
    app.state.settings = Settings(environment=request.param)
    app.state.maintenance = NoMaintenance(None)
    app.state.decision_signal = None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield Ingest(client, app, batches)


async def test_an_operators_batch_reads_to_its_ao_as_sent_by_an_lrs_operator_with_no_key(ingest: Ingest) -> None:
    ingest.call_as(f"ao:{AO}")

    for view in await ingest.both_views():
        assert view["submitted_by"] == "an LRS operator"
        assert view["submitted_with_key"] is None
        assert "jo.bloggs" not in str(view) and OPERATORS_KEY not in str(view)


async def test_an_operator_reads_who_sent_it_as_kept(ingest: Ingest) -> None:
    ingest.call_as("operator:desk")
    sent_by = ingest.batches.row["submitted_by"]

    for view in await ingest.both_views():
        assert (view["submitted_by"], view["submitted_with_key"]) == (sent_by, OPERATORS_KEY)


@pytest.mark.parametrize("caller", [f"ao:{AO}", "operator:desk"])
async def test_the_aos_own_batch_reads_as_kept_to_it_and_to_an_operator(ingest: Ingest, caller: str) -> None:
    ingest.batches.row = _row(f"ao:{AO}", AOS_KEY)
    ingest.call_as(caller)

    for view in await ingest.both_views():
        assert (view["submitted_by"], view["submitted_with_key"]) == (f"ao:{AO}", AOS_KEY)


async def test_a_batch_sent_before_this_was_kept_reads_null_to_everyone(ingest: Ingest) -> None:
    ingest.batches.row = _row(None, None)
    for caller in (f"ao:{AO}", "operator:desk"):
        ingest.call_as(caller)
        for view in await ingest.both_views():
            assert (view["submitted_by"], view["submitted_with_key"]) == (None, None)


def test_what_each_viewer_is_told() -> None:
    ao = Principal.parse(f"ao:{AO}")
    operator = Principal.parse("operator:desk")
    assert submitter_said_to(ao, "operator:jo", OPERATORS_KEY) == (OPERATOR_SAID, None) == ("an LRS operator", None)
    assert submitter_said_to(ao, f"ao:{AO}", AOS_KEY) == (f"ao:{AO}", AOS_KEY)
    assert submitter_said_to(ao, "ao:RN9093", AOS_KEY) == (None, None)  # never another AO's, whatever is stored
    assert submitter_said_to(operator, "operator:jo", OPERATORS_KEY) == ("operator:jo", OPERATORS_KEY)
    assert submitter_said_to(None, "operator:jo", OPERATORS_KEY) == ("operator:jo", OPERATORS_KEY)  # as kept


def test_the_document_says_what_an_ao_is_told(ingest: Ingest) -> None:
    properties = ingest.app.openapi()["components"]["schemas"]["BatchView"]["properties"]
    assert "an LRS operator" in properties["submitted_by"]["description"]
    assert "to the AO only for a batch it sent itself" in properties["submitted_with_key"]["description"]
