"""Ingest's operator routes refuse what could not be stored or sent with a 422 naming the field or the
rule, before PostgreSQL or Kafka is asked anything: an AO filter or a Sandpit reset for something that is
not an AO id, a maintenance window no operator would mean (ending in year 9999), a reason that is blank
or holds a control character. The stores here fail the test if they are asked."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ingest import api, sandpit_api
from ingest.maintenance import FURTHEST_START, MaintenanceStore
from ingest.repository import BatchHistory
from ingest.sandpit import ResetView
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment
from lrs_domain.reference_files import load_register
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

OPERATOR = Principal.parse("operator:ops")


class UntouchablePool:
    """A pool nothing may use: every refusal here comes before PostgreSQL."""

    def acquire(self) -> Any:
        raise AssertionError("PostgreSQL was asked")

    async def execute(self, *args: Any) -> Any:
        raise AssertionError("PostgreSQL was asked")


class Unannounced:
    async def announce(self) -> bool:
        raise AssertionError("a schedule change was announced")


@dataclass
class RecordingBatches:
    asked: list[str | None] = field(default_factory=list)

    async def history(self, *, ao_id: str | None, **_: Any) -> BatchHistory:
        self.asked.append(ao_id)
        return BatchHistory([], 0, None)


@dataclass(frozen=True)
class LiveSettings:
    environment: Environment = Environment.LIVE


class NoMaintenance(MaintenanceStore):
    async def closure(self) -> None:
        return None


@dataclass
class RecordingResets:
    asked: list[str] = field(default_factory=list)

    async def request(self, ao_id: str, requested_by: str) -> ResetView:
        self.asked.append(ao_id)
        return ResetView(
            reset_id=uuid.uuid4(), ao_id=ao_id, status="pending", requested_by=requested_by, requested_at=utc_now()
        )


@dataclass
class Ingest:
    client: httpx.AsyncClient
    batches: RecordingBatches
    resets: RecordingResets
    app: FastAPI


@pytest.fixture
async def ingest() -> AsyncIterator[Ingest]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.include_router(sandpit_api.router)
    batches, resets = RecordingBatches(), RecordingResets()
    app.state.batches = batches
    app.state.settings = LiveSettings()
    app.state.maintenance = NoMaintenance(UntouchablePool())
    app.state.maintenance_announcer = Unannounced()
    app.state.sandpit_resets = resets
    app.state.register = frozenset(load_register())
    app.dependency_overrides[current_principal] = lambda: OPERATOR
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield Ingest(client, batches, resets, app)


def problem(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    found: dict[str, Any] = response.json()
    return found


# ---------------------------------------------------------------- GET /v1/batches?ao_id=


@pytest.mark.parametrize("ao_id", ["RN5133\x00", "RN5133\n", "anything", "RN", ""])
async def test_an_ao_filter_that_is_not_an_ao_id_is_a_422_naming_it(ingest: Ingest, ao_id: str) -> None:
    answer = await ingest.client.get("/v1/batches", params={"ao_id": ao_id})
    assert "query.ao_id" in problem(answer)["detail"]
    assert ingest.batches.asked == []


async def test_an_operator_filters_the_history_by_an_ao_id(ingest: Ingest) -> None:
    answer = await ingest.client.get("/v1/batches", params={"ao_id": "RN5133"})
    assert answer.status_code == 200, answer.text
    assert ingest.batches.asked == ["RN5133"]


@pytest.mark.parametrize(
    ("caller", "ao_id", "says"),
    [
        ("ao:RN5133", "RN9001", "An awarding organisation sees only its own batches."),
        ("learner:1000000043", None, "Batches are not open to learner callers."),
    ],
)
async def test_a_caller_asking_for_batches_it_may_not_read_gets_403_and_nothing_is_read(
    ingest: Ingest, caller: str, ao_id: str | None, says: str
) -> None:
    ingest.app.dependency_overrides[current_principal] = lambda: Principal.parse(caller)
    answer = await ingest.client.get("/v1/batches", params={"ao_id": ao_id} if ao_id else {})
    assert problem(answer, 403)["detail"] == says
    assert ingest.batches.asked == []


# ---------------------------------------------------------------- maintenance windows and pauses


def window(starts_in: timedelta, *, lasting: timedelta = timedelta(hours=2), reason: str = "upgrade") -> dict[str, str]:
    starts_at = utc_now() + starts_in
    return {"starts_at": starts_at.isoformat(), "ends_at": (starts_at + lasting).isoformat(), "reason": reason}


async def test_a_window_at_the_end_of_year_9999_is_an_invalid_window(ingest: Ingest) -> None:
    # its instants have no UTC form: PostgreSQL could not be sent them
    body = {"starts_at": "9999-12-31T20:00:00-05:00", "ends_at": "9999-12-31T22:00:00-05:00", "reason": "x"}
    refused = problem(await ingest.client.post("/v1/admin/maintenance/windows", json=body))
    assert refused["title"] == "Invalid maintenance window"
    assert "366 days" in refused["detail"]


async def test_a_window_starts_at_most_366_days_from_now(ingest: Ingest) -> None:
    late = window(FURTHEST_START + timedelta(minutes=5))
    refused = problem(await ingest.client.post("/v1/admin/maintenance/windows", json=late))
    assert refused["title"] == "Invalid maintenance window"
    assert refused["detail"] == "a window starts at most 366 days from now: schedule it nearer the time"


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("disk\x00swap", "U+0000"),
        ("upgrade\x1b[2J", "U+001B"),
        # every AO reads it (the portal's banner, each held batch): it would read in another order than written
        ("Li\u202ely", "holds the bidirectional control U+202E at character 3"),
        ("database\nupgrade \u2067v2\u2069", "holds the bidirectional control U+2067 at character 18"),
        ("   ", "blank"),
        ("\t\n", "blank"),
        ("", "at least 1 character"),
        ("x" * 501, "at most 500 characters"),
    ],
)
async def test_a_reason_that_is_blank_or_cannot_be_stored_is_a_422_naming_it(
    ingest: Ingest, reason: str, said: str
) -> None:
    for path, body in (
        ("/v1/admin/maintenance/windows", window(timedelta(days=1), reason=reason)),
        ("/v1/admin/maintenance/pause", {"reason": reason}),
    ):
        detail = problem(await ingest.client.post(path, json=body))["detail"]
        assert "body.reason" in detail and said in detail, (path, detail)


async def test_a_reason_holding_a_lone_surrogate_is_a_422(ingest: Ingest) -> None:
    answer = await ingest.client.post(
        "/v1/admin/maintenance/pause", content=b'{"reason": "a\\ud800"}', headers={"Content-Type": "application/json"}
    )
    assert "body.reason" in problem(answer)["detail"]


# ---------------------------------------------------------------- POST /v1/sandpit/reset


@pytest.mark.parametrize(
    "body",
    [
        b'{"ao_id": "RN1\\u0000"}',
        b'{"ao_id": "\\ud800"}',
        b'{"ao_id": "anything"}',
        b'{"ao_id": "RN123456789"}',
        b'{"ao_id": ""}',
    ],
)
async def test_a_reset_for_something_that_is_not_an_ao_id_is_a_422_naming_it(ingest: Ingest, body: bytes) -> None:
    answer = await ingest.client.post("/v1/sandpit/reset", content=body, headers={"Content-Type": "application/json"})
    assert "body.ao_id" in problem(answer)["detail"]
    assert ingest.resets.asked == []


async def test_an_operator_resets_the_ao_it_names(ingest: Ingest) -> None:
    answer = await ingest.client.post("/v1/sandpit/reset", json={"ao_id": "RN9093"})
    assert answer.status_code == 202, answer.text
    assert ingest.resets.asked == ["RN9093"]


async def test_a_reset_of_an_ao_not_in_the_register_is_a_422_and_nothing_is_queued(ingest: Ingest) -> None:
    refused = problem(await ingest.client.post("/v1/sandpit/reset", json={"ao_id": "RN0001"}))
    assert (refused["code"], refused["title"]) == ("INVALID_REQUEST", "Not an awarding organisation")
    assert refused["detail"].startswith("RN0001 is not an awarding organisation in the register")
    assert ingest.resets.asked == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", None), ("application/x-www-form-urlencoded", b"reason=upgrade")],
    ids=["json-as-text-plain", "form"],
)
async def test_a_window_not_sent_as_json_is_415_saying_to_send_it_as_json(
    ingest: Ingest, content_type: str, body: bytes | None
) -> None:
    content = body if body is not None else json.dumps(window(timedelta(days=1))).encode()
    answer = await ingest.client.post(
        "/v1/admin/maintenance/windows", content=content, headers={"Content-Type": content_type}
    )
    refused = problem(answer, 415)
    assert refused["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "send the body as JSON with Content-Type: application/json" in refused["detail"]
