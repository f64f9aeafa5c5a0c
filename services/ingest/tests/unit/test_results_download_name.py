"""A Sandpit's results CSV is named for the Sandpit (`sandpit-batch-<id>-records.csv`, as the portal's download
is), so a file saved beside live's results still says where it came from; live's keeps its name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance

from ingest import api
from ingest.uploads import UploadGate
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal


@dataclass(frozen=True)
class Settings:
    environment: Environment
    upload_idle_seconds: float = 30.0  # a results download's send deadline


class OneDecidedBatch:
    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any]:
        return {"status": "completed"}

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        return [], 0


@pytest.mark.parametrize(
    ("environment", "prefix"), [(Environment.SANDPIT, "sandpit-batch-"), (Environment.LIVE, "batch-")]
)
async def test_the_results_csv_is_named_for_its_environment(environment: Environment, prefix: str) -> None:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = OneDecidedBatch()
    app.state.settings = Settings(environment)
    app.state.downloads = UploadGate(per_caller=3, overall=None)
    app.state.maintenance = NoMaintenance()
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
    batch_id = uuid.uuid4()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        answer = await client.get(f"/v1/batches/{batch_id}/records.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == f'attachment; filename="{prefix}{batch_id}-records.csv"'
