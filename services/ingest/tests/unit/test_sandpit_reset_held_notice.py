"""`GET /v1/sandpit/resets/{id}` asks the store with what holds batches now: a pending reset behind a batch of the
AO's that Sandpit maintenance holds then carries the `maintenance` notice (tests/integration/test_sandpit_reset_held.py
tests which resets the store says it of)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from ingest import sandpit_api
from ingest.sandpit import ResetView, reset_notice
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.maintenance import Closure

AO = "RN9093"
RESET = ResetView(reset_id=uuid.uuid4(), ao_id=AO, status="pending", requested_by=f"ao:{AO}", requested_at=utc_now())
PAUSE = Closure("sandpit upgrade", None, paused=True)


class TheAo:
    environment = Environment.SANDPIT

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse(f"ao:{AO}")


class HeldBehindABatch:
    """The store: the reset waits behind a held batch of the AO's, so any closure holds it."""

    async def get(self, reset_id: uuid.UUID, closure: Closure | None = None) -> ResetView | None:
        if reset_id != RESET.reset_id:
            return None
        return RESET.model_copy(update={"maintenance": reset_notice(closure)}) if closure else RESET


@dataclass
class Resets:
    store: HeldBehindABatch


@dataclass
class Paused:
    closed: Closure | None

    async def closure(self) -> Closure | None:
        return self.closed


async def _status(closure: Closure | None) -> dict[str, object]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    app.include_router(sandpit_api.router)
    app.state.credentials = TheAo()
    app.state.sandpit_resets = Resets(HeldBehindABatch())
    app.state.maintenance = Paused(closure)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        answer = await client.get(
            f"/v1/sandpit/resets/{RESET.reset_id}", headers={"Authorization": "Bearer lrs_sbx_0123456789abcdef_x"}
        )
    assert answer.status_code == 200, answer.text
    view: dict[str, object] = answer.json()
    return view


async def test_a_reset_held_by_a_pause_carries_the_notice() -> None:
    view = await _status(PAUSE)

    assert view["status"] == "pending"
    assert view["maintenance"] == {
        "reason": "sandpit upgrade",
        "until": None,
        "paused": True,
        "message": "will be applied when the Sandpit resumes after an unplanned pause",
    }


async def test_without_maintenance_the_reset_carries_none() -> None:
    assert (await _status(None))["maintenance"] is None
