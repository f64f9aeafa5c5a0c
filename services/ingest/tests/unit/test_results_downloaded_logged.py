"""After an API key leaked, an operator asks what it took: every read of a batch's results (a page of its records,
or its records.csv) is logged `results_downloaded` with the batch, the key's id, the format and how many records'
rows were sent, and whether the whole file went (a CSV whose reader stopped did not); never personal data (no ULN,
no MISIdentifier)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance
from services.ingest.tests.unit.test_results_download_only import OneBatch
from services.ingest.tests.unit.test_results_download_stalled import (
    ManyRecords,
    Settings,
    StoppedReader,
    _scope,
)

from ingest import api
from ingest.api import CSV_SLICE
from ingest.repository import RecordsRead
from ingest.uploads import UploadGate
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal, PrincipalKind

KEY_ID = "0123456789abcdef"
CALLER = Principal(PrincipalKind.AO, "RN5133", key_id=KEY_ID)


class BatchOfPages(OneBatch):
    async def records_and_codes(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> RecordsRead:
        rows, total = await self.records(batch_id, status=status, limit=limit, offset=offset, code=code)
        return RecordsRead(rows, total, [])


def _app(batch: OneBatch) -> FastAPI:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = batch
    app.state.settings = Settings(Environment.LIVE)
    app.state.downloads = UploadGate(per_caller=3, overall=None)
    app.state.maintenance = NoMaintenance()
    app.dependency_overrides[current_principal] = lambda: CALLER
    return app


def _downloads_logged(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [log for log in logs if log["event"] == "results_downloaded"]


async def _get(app: FastAPI, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        return await client.get(path, params=params)


async def test_a_page_of_records_read_is_logged_with_the_key_and_the_rows_sent() -> None:
    batch_id = uuid.uuid4()

    with structlog.testing.capture_logs() as logs:
        answer = await _get(_app(BatchOfPages("completed")), f"/v1/batches/{batch_id}/records", {"page_size": "2"})

    assert answer.status_code == 200, answer.text
    assert _downloads_logged(logs) == [
        {
            "event": "results_downloaded",
            "log_level": "info",
            "batch_id": str(batch_id),
            "key_id": KEY_ID,
            "caller_kind": "ao",
            "format": "json",
            "rows_sent": 2,
            "whole": True,
        }
    ]


async def test_a_results_csv_sent_whole_is_logged_with_every_row() -> None:
    batch_id = uuid.uuid4()
    count = CSV_SLICE + 5

    with structlog.testing.capture_logs() as logs:
        answer = await _get(_app(ManyRecords(count)), f"/v1/batches/{batch_id}/records.csv")

    assert answer.status_code == 200, answer.text
    logged = _downloads_logged(logs)
    assert [(log["batch_id"], log["key_id"], log["format"], log["rows_sent"], log["whole"]) for log in logged] == [
        (str(batch_id), KEY_ID, "csv", count, True)
    ]
    assert "M1" not in str(logged) and "0043" not in str(logged)  # no MISIdentifier, no ULN


async def test_a_results_csv_whose_reader_stopped_is_logged_as_not_whole() -> None:
    batch_id = uuid.uuid4()
    reader = StoppedReader()

    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(5):
            await _app(ManyRecords(CSV_SLICE + 5))(_scope(batch_id), reader.receive, reader.send)

    logged = _downloads_logged(logs)
    # the head's piece was never taken: no record's row went
    assert [(log["format"], log["rows_sent"], log["whole"]) for log in logged] == [("csv", 0, False)]
