"""`GET /v1/batches/{id}/records.csv?status=rejected` writes only the rejected records (as `/records` lists them),
so that `lrs batch status ID --only rejected --csv FILE` gets the file of the records to put right and send again;
`?code=RV004` only those with a finding of that code, as `/records?code=` lists them. The results of a batch not
decided yet are 409 BATCH_NOT_DECIDED naming its status (as its view shows it), not a file of no rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance

from ingest import api
from ingest.maintenance import MaintenanceStore
from ingest.uploads import UploadGate
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.maintenance import Closure


@dataclass(frozen=True)
class Settings:
    environment: Environment
    upload_idle_seconds: float = 30.0  # a results download's send deadline


class Paused(MaintenanceStore):
    def __init__(self) -> None:
        pass

    async def closure(self) -> Closure:
        return Closure("database upgrade", datetime(2026, 6, 2, 2, 0, tzinfo=UTC), paused=True)


def _record(line: int, status: str, codes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "line": line,
        "mis_identifier": f"M{line}",
        "action": "Create",
        "uln_masked": "******0043",
        "status": status,
        "errors": [{"code": code, "field": "uln", "message": "not registered"} for code in codes],
        "warnings": [],
        "achievement_id": None,
    }


class OneBatch:
    """A batch of five records, two of them rejected (RV004, RV008), read as the repository reads them."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.rows = [
            _record(4, "accepted"),
            _record(5, "rejected", ("RV004",)),
            _record(6, "no_op"),
            _record(7, "accepted"),
            _record(8, "rejected", ("RV008",)),
        ]
        self.asked: list[str | None] = []

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any]:
        return {"status": self.status}

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        self.asked.append(status)
        chosen = [
            row
            for row in self.rows
            if (status is None or row["status"] == status)
            and (code is None or any(error["code"] == code for error in row["errors"]))
        ]
        return (chosen[offset:] if limit is None else chosen[offset : offset + limit]), len(chosen)


async def _download(
    batch: OneBatch, params: dict[str, str], maintenance: MaintenanceStore | None = None
) -> httpx.Response:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = batch
    app.state.settings = Settings(Environment.LIVE)
    app.state.downloads = UploadGate(per_caller=3, overall=None)
    app.state.maintenance = maintenance or NoMaintenance()
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        return await client.get(f"/v1/batches/{uuid.uuid4()}/records.csv", params=params)


def _lines(answer: httpx.Response) -> list[int]:
    return [int(row.split(",")[0]) for row in answer.text.removeprefix("\ufeff").splitlines()[1:]]


@pytest.mark.parametrize("batch_status", ["completed", "failed"])
async def test_the_results_csv_of_one_result_has_only_those_records(batch_status: str) -> None:
    batch = OneBatch(batch_status)

    answer = await _download(batch, {"status": "rejected"})

    assert answer.status_code == 200, answer.text
    assert _lines(answer) == [5, 8] and set(batch.asked) == {"rejected"}


async def test_without_a_status_the_results_csv_has_every_record() -> None:
    answer = await _download(OneBatch("completed"), {})

    assert answer.status_code == 200, answer.text
    assert _lines(answer) == [4, 5, 6, 7, 8]


async def test_a_status_no_record_has_is_refused() -> None:
    answer = await _download(OneBatch("completed"), {"status": "lost"})

    assert answer.status_code == 422


async def test_the_results_csv_of_one_code_has_only_the_records_with_that_finding() -> None:
    answer = await _download(OneBatch("completed"), {"code": "RV004"})

    assert answer.status_code == 200, answer.text
    assert _lines(answer) == [5]


async def test_a_code_and_a_status_together_are_the_records_of_both() -> None:
    assert _lines(await _download(OneBatch("completed"), {"code": "RV008", "status": "rejected"})) == [8]
    assert _lines(await _download(OneBatch("completed"), {"code": "RV008", "status": "accepted"})) == []


@pytest.mark.parametrize("code", ["rv004", "RV04", "XX001", "RV004;"])
async def test_a_code_that_is_no_finding_code_is_refused_as_the_json_view_refuses_it(code: str) -> None:
    answer = await _download(OneBatch("completed"), {"code": code})

    assert answer.status_code == 422, answer.text
    assert "code" in answer.json()["detail"]


@pytest.mark.parametrize("stored", ["received", "accepted", "validating"])
async def test_the_results_of_a_batch_not_decided_yet_are_409_naming_its_status(stored: str) -> None:
    batch = OneBatch(stored)

    answer = await _download(batch, {})

    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert (problem["code"], problem["batch_status"]) == ("BATCH_NOT_DECIDED", stored)
    assert f"is {stored}, not decided yet: it has no results to download" in problem["detail"]
    assert batch.asked == []  # no record was read


async def test_a_batch_held_by_maintenance_is_said_queued_as_its_view_says() -> None:
    answer = await _download(OneBatch("accepted"), {}, Paused())

    assert answer.status_code == 409, answer.text
    assert answer.json()["batch_status"] == "queued"


@pytest.mark.parametrize("decided", ["completed", "failed", "abandoned", "refused"])
async def test_a_decided_batch_has_its_results_to_download(decided: str) -> None:
    answer = await _download(OneBatch(decided), {})

    assert answer.status_code == 200, answer.text
