"""A report's months are ones a date can be read from: year 0 or the month after 9999-12 is a 422, not a 500."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.api import PERIOD_PATTERN, router


def _reporting_app() -> FastAPI:
    """Reporting's routes, called by an AO, with nothing behind them: a refusal here comes before any read."""
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting")


@pytest.mark.parametrize(
    "query",
    [{"from": "0000-01"}, {"from": "9999-12"}, {"from": "9999-11", "to": "9999-12"}, {"from": "2026-13"}],
)
@pytest.mark.parametrize("report", ["challenges", "rejections", "plr-timeliness"])
async def test_a_month_no_report_can_hold_is_refused_before_any_read(report: str, query: dict[str, str]) -> None:
    app = _reporting_app()
    async with _client(app) as client:
        answer = await client.get(f"/v1/reports/{report}", params=query)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "query.from" in answer.json()["detail"] or "query.to" in answer.json()["detail"]


@pytest.mark.parametrize("report", ["submissions", "timeliness"])
async def test_a_month_mistyped_is_refused_in_words_not_as_a_regular_expression(report: str) -> None:
    app = _reporting_app()
    async with _client(app) as client:
        answer = await client.get(f"/v1/reports/{report}", params={"period": "2026-13"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "query.period: not a calendar month: write yyyy-mm, such as 2026-11"
    assert (
        app.openapi()["paths"][f"/v1/reports/{report}"]["get"]["parameters"][0]["schema"]["pattern"] == PERIOD_PATTERN
    )


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "1899-12", "3000-01"])
async def test_a_month_outside_the_years_reported_on_is_refused_saying_which_years(month: str) -> None:
    app = _reporting_app()
    async with _client(app) as client:
        answer = await client.get("/v1/reports/submissions", params={"period": month})
    assert (answer.status_code, answer.json()["detail"]) == (
        422,
        "query.period: a month of the years 1900 to 2999 only",
    )


@pytest.mark.parametrize(
    ("report", "named"),
    [
        ("submissions", "period"),
        ("timeliness", "period"),
        ("challenges", "first_period"),
        ("rejections", "first_period"),
        ("plr-timeliness", "first_period"),
    ],
)
async def test_a_report_asked_for_no_month_is_this_months_in_uk_time(report: str, named: str) -> None:
    app = _reporting_app()
    app.state.reporting, app.state.projection_lag_bound = _NoRows(), timedelta(minutes=5)
    async with _client(app) as client:
        answer = await client.get(f"/v1/reports/{report}")
    assert answer.status_code == 200, answer.text
    assert answer.json()[named] == datetime.now(ZoneInfo("Europe/London")).strftime("%Y-%m")


class _NoRows:
    async def catching_up(self) -> dict[tuple[str, int], int]:
        return {}

    async def held_in_dead_letters(self, topics: object) -> None:
        return None

    async def aggregates(self, *_: object) -> list[object]:
        return []

    async def plr_timeliness(self, *_: object) -> list[object]:
        return []

    async def rejections(self, *_: object) -> list[object]:
        return []

    async def challenges(self, *_: object) -> list[object]:
        return []


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            {"from": "2023-12", "to": "2026-12"},
            "The range from 2023-12 to 2026-12 is 37 months: a report covers at most 36, `from` and `to` included.",
        ),
        ({"from": "2026-12", "to": "2026-11"}, "`to` (2026-11) is before `from` (2026-12)."),
    ],
)
async def test_a_range_a_report_cannot_cover_says_why_in_months_counted_as_the_limit_counts_them(
    query: dict[str, str], detail: str
) -> None:
    """36 months after 2023-12 is 2026-12, but 2023-12 to 2026-12 is 37 months: the words count as the rule does."""
    app = _reporting_app()
    async with _client(app) as client:
        answer = await client.get("/v1/reports/rejections", params=query)
    assert answer.status_code == 422
    assert answer.json()["detail"] == detail


@pytest.mark.parametrize(
    ("report", "query", "said"),
    [
        (
            "submissions",
            {"period": "2023-01", "from": "2023-01"},
            "`period` and `from` given together: this report's months are one, `period`, or a range, `from` and `to`.",
        ),
        (
            "timeliness",
            {"period": "2023-01", "from": "2023-01", "to": "2023-02"},
            "`period` and `from` and `to` given together",
        ),
        ("submissions", {"period": "2023-01", "to": "2023-02"}, "`period` and `to` given together"),
        ("rejections", {"period": "2023-01"}, "does not take `period`: its months are `from` and `to`"),
        ("challenges", {"period": "2023-01"}, "does not take `period`: its months are `from` and `to`"),
    ],
)
async def test_the_other_kind_of_reports_month_is_refused_not_ignored(
    report: str, query: dict[str, str], said: str
) -> None:
    """`submissions?from=2023-01` answered this month, as if it had been filtered (before it took a range): one kind
    of month is refused where the report does not take it, and both kinds together where it takes either."""
    app = _reporting_app()
    async with _client(app) as client:
        answer = await client.get(f"/v1/reports/{report}", params=query)
    assert answer.status_code == 422
    assert said in answer.json()["detail"]
