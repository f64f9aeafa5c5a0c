"""Submissions and timeliness over a range of months (scale review, finding 1): `from` and `to` as the range reports
take them, answered as they answer (`first_period`, `last_period`, an item per AO and month) from one read of the
store for the whole range, where the portal's MI asked once per month; `period` answers exactly as before."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from lrs_contracts.reporting import AoMonthlySubmissions, AoMonthlyTimeliness
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.api import router


def _submitted(ao_id: str, period: str, batches: int) -> AoMonthlySubmissions:
    return AoMonthlySubmissions(
        ao_id=ao_id,
        period=period,
        batches_completed=batches,
        batches_failed=1,
        records_total=10 * batches + 4,
        records_accepted=10 * batches - 2,
        records_rejected=2,
        records_unchanged=1,
        rejections_by_code={"RS005": 1, "RV002": 2},
    )


def _timely(ao_id: str, period: str, batches: int) -> AoMonthlyTimeliness:
    within = batches - 1
    return AoMonthlyTimeliness(
        ao_id=ao_id,
        period=period,
        batches_measured=batches,
        batches_within_10_working_days=within,
        worst_working_days=12,
    )


MONTHS = [
    ("RN5133", "2025-11", 3),
    ("RN5133", "2026-01", 5),
    ("RN9093", "2025-11", 2),
    ("RN9093", "2025-12", 7),
]


class MonthsStore:
    """The months above, by AO then month as the store orders them; remembers each read (first, AO, last)."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, str | None, str | None]] = []

    async def catching_up(self) -> dict[tuple[str, int], int]:
        return {}

    async def held_in_dead_letters(self, topics: object) -> None:
        return None

    async def aggregates(
        self, period: str, ao_id: str | None = None, *, last: str | None = None
    ) -> list[tuple[AoMonthlySubmissions, AoMonthlyTimeliness]]:
        self.reads.append((period, ao_id, last))
        return [
            (_submitted(ao, month, n), _timely(ao, month, n))
            for ao, month, n in MONTHS
            if period <= month <= (last or period) and ao_id in (None, ao)
        ]


@pytest.fixture
async def reporting() -> AsyncIterator[tuple[MonthsStore, httpx.AsyncClient]]:
    store = MonthsStore()
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.reporting = store
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:mi")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:
        yield store, client


async def test_submissions_over_a_range_are_one_read_answered_per_ao_and_month_as_the_range_reports_answer(
    reporting: tuple[MonthsStore, httpx.AsyncClient],
) -> None:
    store, client = reporting

    answer = await client.get("/v1/reports/submissions", params={"from": "2025-11", "to": "2026-01"})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["first_period"], body["last_period"], body["complete"]) == ("2025-11", "2026-01", True)
    assert "period" not in body
    assert [(item["ao_id"], item["period"], item["batches_completed"]) for item in body["items"]] == MONTHS
    assert [item["records_not_added"] for item in body["items"]] == [
        4 + 10 * n - (10 * n - 2) - 2 - 1 for *_, n in MONTHS
    ]
    assert store.reads == [("2025-11", None, "2026-01")]


async def test_timeliness_over_a_range_is_one_read_answered_per_ao_and_month(
    reporting: tuple[MonthsStore, httpx.AsyncClient],
) -> None:
    store, client = reporting

    answer = await client.get("/v1/reports/timeliness", params={"from": "2025-12", "to": "2026-01", "ao_id": "RN9093"})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {key: body[key] for key in ("first_period", "last_period", "complete", "target_working_days")} == {
        "first_period": "2025-12",
        "last_period": "2026-01",
        "complete": True,
        "target_working_days": 10,
    }
    assert [(item["ao_id"], item["period"], item["batches_measured"]) for item in body["items"]] == [
        ("RN9093", "2025-12", 7)
    ]
    assert store.reads == [("2025-12", "RN9093", "2026-01")]


@pytest.mark.parametrize("report", ["submissions", "timeliness"])
async def test_one_period_is_answered_as_before(report: str, reporting: tuple[MonthsStore, httpx.AsyncClient]) -> None:
    store, client = reporting

    body = (await client.get(f"/v1/reports/{report}", params={"period": "2025-11"})).json()

    assert body["period"] == "2025-11" and "first_period" not in body and "last_period" not in body
    assert [(item["ao_id"], item["period"]) for item in body["items"]] == [("RN5133", "2025-11"), ("RN9093", "2025-11")]
    assert store.reads == [("2025-11", None, None)]


@pytest.mark.parametrize("report", ["submissions", "timeliness"])
async def test_to_alone_runs_from_this_month_and_from_alone_is_that_month(
    report: str, reporting: tuple[MonthsStore, httpx.AsyncClient]
) -> None:
    """As the range reports read them: `from` defaults to this month, `to` to `from`."""
    store, client = reporting
    now = datetime.now(ZoneInfo("Europe/London"))
    next_december = f"{now.year + 1}-12"

    alone = (await client.get(f"/v1/reports/{report}", params={"from": "2025-11"})).json()
    to_alone = (await client.get(f"/v1/reports/{report}", params={"to": next_december})).json()

    assert (alone["first_period"], alone["last_period"]) == ("2025-11", "2025-11")
    assert (to_alone["first_period"], to_alone["last_period"]) == (now.strftime("%Y-%m"), next_december)
    assert store.reads == [("2025-11", None, "2025-11"), (now.strftime("%Y-%m"), None, next_december)]


@pytest.mark.parametrize("report", ["submissions", "timeliness"])
@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"from": "2026-12", "to": "2026-11"}, "`to` (2026-11) is before `from` (2026-12)."),
        (
            {"from": "2023-12", "to": "2026-12"},
            "The range from 2023-12 to 2026-12 is 37 months: a report covers at most 36, `from` and `to` included.",
        ),
        ({"from": "2026-13"}, "query.from: not a calendar month: write yyyy-mm, such as 2026-11"),
        ({"from": "2026-01", "to": "9999-12"}, "query.to: a month of the years 1900 to 2999 only"),
    ],
)
async def test_a_range_no_report_can_cover_is_refused_before_any_read(
    report: str, query: dict[str, str], detail: str, reporting: tuple[MonthsStore, httpx.AsyncClient]
) -> None:
    store, client = reporting

    answer = await client.get(f"/v1/reports/{report}", params=query)

    assert (answer.status_code, answer.json()["detail"]) == (422, detail)
    assert store.reads == []


async def test_a_range_as_csv_has_a_row_per_ao_and_month_under_the_same_columns_named_for_the_range(
    reporting: tuple[MonthsStore, httpx.AsyncClient],
) -> None:
    _, client = reporting

    month = await client.get("/v1/reports/submissions", params={"period": "2025-11", "format": "csv"})
    months = await client.get("/v1/reports/submissions", params={"from": "2025-11", "to": "2026-01", "format": "csv"})
    timely = await client.get("/v1/reports/timeliness", params={"from": "2025-11", "to": "2026-01", "format": "csv"})

    assert month.headers["content-disposition"] == 'attachment; filename="lrs-submissions-2025-11.csv"'
    assert months.headers["content-disposition"] == 'attachment; filename="lrs-submissions-2025-11-2026-01.csv"'
    assert timely.headers["content-disposition"] == 'attachment; filename="lrs-timeliness-2025-11-2026-01.csv"'
    assert months.text.splitlines()[0] == month.text.splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(months.text)))
    assert [(row["ao_id"], row["period"], row["batches_completed"]) for row in rows] == [
        (ao, period, str(n)) for ao, period, n in MONTHS
    ]
    assert [(row["ao_id"], row["period"]) for row in csv.DictReader(io.StringIO(timely.text))] == [
        (ao, period) for ao, period, _ in MONTHS
    ]


@pytest.mark.parametrize("report", ["submissions", "timeliness"])
def test_the_api_documents_both_kinds_of_months_and_both_answers(report: str) -> None:
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    operation: dict[str, Any] = app.openapi()["paths"][f"/v1/reports/{report}"]["get"]

    # as they were, then the range's
    assert [parameter["name"] for parameter in operation["parameters"]] == ["period", "ao_id", "format", "from", "to"]
    answers = operation["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    named = report.capitalize()
    assert [answer["$ref"] for answer in answers] == [
        f"#/components/schemas/{named}Report",
        f"#/components/schemas/{named}RangeReport",
    ]
