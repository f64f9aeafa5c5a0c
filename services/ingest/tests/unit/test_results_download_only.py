"""`GET /v1/batches/{id}/records.csv?status=rejected` writes only the rejected records (as `/records` lists them),
so that `lrs batch status ID --only rejected --csv FILE` gets the file of the records to put right and send again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ingest import api
from ingest.uploads import UploadGate
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal


@dataclass(frozen=True)
class Settings:
    environment: Environment


def _record(line: int, status: str) -> dict[str, Any]:
    return {
        "line": line,
        "mis_identifier": f"M{line}",
        "action": "Create",
        "uln_masked": "******0043",
        "status": status,
        "errors": [{"code": "RV004", "field": "uln", "message": "not registered"}] if status == "rejected" else [],
        "warnings": [],
        "achievement_id": None,
    }


class OneBatch:
    """A batch of four records, one of them rejected, read as the repository reads them."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.rows = [_record(4, "accepted"), _record(5, "rejected"), _record(6, "no_op"), _record(7, "accepted")]
        self.asked: list[str | None] = []

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any]:
        return {"status": self.status}

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        self.asked.append(status)
        chosen = [row for row in self.rows if status is None or row["status"] == status]
        return (chosen[offset:] if limit is None else chosen[offset : offset + limit]), len(chosen)


async def _download(batch: OneBatch, params: dict[str, str]) -> httpx.Response:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = batch
    app.state.settings = Settings(Environment.LIVE)
    app.state.downloads = UploadGate(per_caller=3, overall=None)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        return await client.get(f"/v1/batches/{uuid.uuid4()}/records.csv", params=params)


def _lines(answer: httpx.Response) -> list[int]:
    return [int(row.split(",")[0]) for row in answer.text.removeprefix("\ufeff").splitlines()[1:]]


@pytest.mark.parametrize("batch_status", ["completed", "validating"])
async def test_the_results_csv_of_one_result_has_only_those_records(batch_status: str) -> None:
    batch = OneBatch(batch_status)

    answer = await _download(batch, {"status": "rejected"})

    assert answer.status_code == 200, answer.text
    assert _lines(answer) == [5] and set(batch.asked) == {"rejected"}


async def test_without_a_status_the_results_csv_has_every_record() -> None:
    answer = await _download(OneBatch("completed"), {})

    assert answer.status_code == 200, answer.text
    assert _lines(answer) == [4, 5, 6, 7]


async def test_a_status_no_record_has_is_refused() -> None:
    answer = await _download(OneBatch("completed"), {"status": "lost"})

    assert answer.status_code == 422
