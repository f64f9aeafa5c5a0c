"""`GET /v1/maintenance` of the Sandpit's ingest says the Sandpit resumes, as the batches it holds do (Sandpit walk,
finding 3: it said "when the LRS resumes" while a held Sandpit batch said "when the Sandpit resumes")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from ingest import maintenance_api
from ingest.maintenance import MaintenanceStore
from lrs_contracts.environments import Environment
from lrs_contracts.operations import MaintenancePause, MaintenanceScheduleChanged
from lrs_platform.authentication import current_principal
from lrs_platform.identity import Principal, PrincipalKind

PAUSED = MaintenanceScheduleChanged(
    schedule_id=uuid.uuid4(),
    version=1,
    pause=MaintenancePause(since=datetime(2026, 6, 2, 1, tzinfo=UTC), reason="rehearsal pause"),
)


async def _schedule_of(environment: Environment) -> dict[str, object]:
    store = MaintenanceStore(None, environment=environment)  # never reaches the pool

    async def current() -> MaintenanceScheduleChanged:
        return PAUSED

    store.current = current  # type: ignore[method-assign]
    app = FastAPI()
    app.state.environment = environment
    app.state.maintenance = store
    app.include_router(maintenance_api.router)
    app.dependency_overrides[current_principal] = lambda: Principal(PrincipalKind.AO, "RN9093")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        answer = await client.get("/v1/maintenance")
    assert answer.status_code == 200
    schedule: dict[str, object] = answer.json()
    return schedule


async def test_the_sandpit_schedule_says_the_sandpit_resumes_and_live_says_the_lrs() -> None:
    for environment, who in ((Environment.SANDPIT, "the Sandpit"), (Environment.LIVE, "the LRS")):
        active = (await _schedule_of(environment))["active"]

        assert isinstance(active, dict) and active["paused"] is True
        assert active["message"] == f"will be processed when {who} resumes after an unplanned pause"
