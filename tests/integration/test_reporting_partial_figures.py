"""A store being rebuilt (decision 0161: `reporting.catching_up` holds the ends it reads to) answers its figures said
partial, in JSON and in a CSV's header, and complete once caught up; a submissions row gives the records of its failed
batches that were not added (analyst review, finding 1). Real PostgreSQL, reporting's own migrations."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from tests.integration.test_reporting import random_ao

from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.aggregates import BatchFact
from reporting.api import router
from reporting.store import ReportingStore

pytestmark = pytest.mark.integration

PERIOD = "2023-05"


@pytest.fixture
async def store(pool: asyncpg.Pool) -> ReportingStore:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "reporting", "reporting.migrations")
    return ReportingStore(pool)


@pytest.fixture
async def reporting(store: ReportingStore) -> AsyncIterator[httpx.AsyncClient]:
    """Reporting's routes on the store, asked by an operator."""
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.reporting = store
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:mi")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:
        yield client


async def test_a_store_catching_up_says_its_figures_are_partial_until_it_has_caught_up(
    store: ReportingStore, reporting: httpx.AsyncClient
) -> None:
    ao = random_ao()
    # a completed batch (12 records: 7 accepted, 2 rejected, 3 unchanged) and a failed one (10: 4 rejected, 6 not added)
    await store.record_fact(BatchFact(uuid.uuid4(), ao, PERIOD, True, 12, 7, 2, None, None, records_unchanged=3))
    await store.record_fact(BatchFact(uuid.uuid4(), ao, PERIOD, False, 10, 0, 4, "RS005", None))
    await store.begin_reading({("lrs.batch.outcomes.v1", 0): 120})  # a rebuilt store, its history still to read
    month = {"period": PERIOD, "ao_id": ao}

    partial = await reporting.get("/v1/reports/submissions", params=month)
    partial_csv = await reporting.get("/v1/reports/submissions", params={**month, "format": "csv"})
    partial_range = await reporting.get("/v1/reports/rejections", params={"from": PERIOD, "ao_id": ao})
    await store.caught_up()
    complete = await reporting.get("/v1/reports/submissions", params=month)
    complete_csv = await reporting.get("/v1/reports/submissions", params={**month, "format": "csv"})

    assert (partial.json()["complete"], partial.headers["X-LRS-Figures"]) == (False, "partial")
    assert partial_csv.headers["X-LRS-Figures"] == "partial"
    assert (partial_range.json()["complete"], partial_range.headers["X-LRS-Figures"]) == (False, "partial")
    assert (complete.json()["complete"], complete.headers["X-LRS-Figures"]) == (True, "complete")
    assert complete_csv.headers["X-LRS-Figures"] == "complete" and complete_csv.text == partial_csv.text
    [row] = complete.json()["items"]
    assert (row["records_total"], row["records_unchanged"], row["records_not_added"]) == (22, 3, 6)
    [flat] = csv.DictReader(io.StringIO(complete_csv.text))
    assert flat["records_not_added"] == "6" and list(flat)[-1] == "records_not_added"
