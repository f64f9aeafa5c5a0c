"""Submissions and timeliness over a range of months (scale review, finding 1), against real PostgreSQL: one answer for
`from` to `to` holds, item for item, what each month's `period` answer held, so that the figures the portal's MI summed
month by month add up the same from the one answer; a CSV of the range is the months' CSVs one after another."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.test_reporting_range_memory import EMPTY_MONTHS, MONTHS, _generate

from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.api import router
from reporting.store import ReportingStore

pytestmark = pytest.mark.integration

FIRST, LAST = "2025-09", "2026-05"  # every month generated, with empty ones inside and either side


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@pytest.fixture
async def reporting(fresh_database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, list[str], list[Principal]]]:
    """Reporting's API on a store of generated months (tests/integration/test_reporting_range_memory.py's), and who
    calls it (an operator unless the test says otherwise)."""
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, "reporting", "reporting.migrations")
        aos = await _generate(connection, 11)
    finally:
        await connection.close()
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
        app.include_router(router)
        app.state.reporting = ReportingStore(pool)
        caller = [Principal.parse("operator:mi")]
        app.dependency_overrides[current_principal] = lambda: caller[0]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            yield client, aos, caller


async def _json(client: httpx.AsyncClient, report: str, **params: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/reports/{report}", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


SUMMED = {
    "submissions": (
        "batches_completed",
        "batches_failed",
        "batches_abandoned",
        "records_total",
        "records_accepted",
        "records_rejected",
        "records_unchanged",
        "records_not_added",
    ),
    "timeliness": ("batches_measured", "batches_within_10_working_days"),
}


@pytest.mark.parametrize("report", ["submissions", "timeliness"])
async def test_a_range_answers_what_each_months_answer_did_and_adds_up_as_they_did(
    reporting: tuple[httpx.AsyncClient, list[str], list[Principal]], report: str
) -> None:
    client, aos, _ = reporting
    for first, last in [(FIRST, LAST), (MONTHS[0], MONTHS[-1]), (*EMPTY_MONTHS,), (MONTHS[2], MONTHS[2])]:
        for ao_id in (None, aos[0], "RN0000"):
            whose = {"ao_id": ao_id} if ao_id else {}
            months = await _json(client, report, **{"from": first, "to": last}, **whose)
            each = [await _json(client, report, period=period, **whose) for period in _months(first, last)]

            assert (months["first_period"], months["last_period"], months["complete"]) == (first, last, True)
            by_month = sorted(
                (item for answer in each for item in answer["items"]), key=lambda item: (item["ao_id"], item["period"])
            )
            assert months["items"] == by_month
            # as the portal's MI sums them: month by month, then over the months
            for name in SUMMED[report]:
                summed = sum(item[name] for answer in each for item in answer["items"])
                assert sum(item[name] for item in months["items"]) == summed, name
            if report == "submissions":
                codes: Counter[str] = Counter()
                for answer in each:
                    for item in answer["items"]:
                        codes.update(item["rejections_by_code"])
                assert sum((Counter(item["rejections_by_code"]) for item in months["items"]), Counter()) == codes
            else:
                worst = max((item["worst_working_days"] for answer in each for item in answer["items"]), default=0)
                assert max((item["worst_working_days"] for item in months["items"]), default=0) == worst
    every = await _json(client, report, **{"from": FIRST, "to": LAST})
    assert {item["ao_id"] for item in every["items"]} == set(aos)
    assert {item["period"] for item in every["items"]} == set(MONTHS)  # generated months only: none empty


async def test_an_ao_reads_its_own_range_and_a_range_as_csv_is_its_months_csvs_one_after_another(
    reporting: tuple[httpx.AsyncClient, list[str], list[Principal]],
) -> None:
    client, aos, caller = reporting
    caller[:] = [Principal.parse(f"ao:{aos[1]}")]

    own = await _json(client, "submissions", **{"from": FIRST, "to": LAST})
    others = await client.get("/v1/reports/timeliness", params={"from": FIRST, "to": LAST, "ao_id": aos[0]})
    months = await client.get("/v1/reports/submissions", params={"from": FIRST, "to": LAST, "format": "csv"})
    each = [
        await client.get("/v1/reports/submissions", params={"period": period, "format": "csv"})
        for period in _months(FIRST, LAST)
    ]

    assert own["items"] and {item["ao_id"] for item in own["items"]} == {aos[1]}
    assert others.status_code == 403
    assert months.headers["content-disposition"] == f'attachment; filename="lrs-submissions-{FIRST}-{LAST}.csv"'
    header, *rows = months.text.splitlines()
    assert all(answer.text.splitlines()[0] == header for answer in each)
    assert rows == [line for answer in each for line in answer.text.splitlines()[1:]]
    assert [row["period"] for row in csv.DictReader(io.StringIO(months.text))] == sorted(
        item["period"] for item in own["items"]
    )
