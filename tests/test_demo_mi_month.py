"""`make up`'s MI step asks for the month every report counts in, the UK month (not the UTC month: from 23:00 UTC on
the last day of a BST month they differ), and waits until reporting has counted the sample batches: an empty month
answers a body too, `{"period": ..., "items": []}` (analyst review, finding 4)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from scripts.dev import demo

from reporting.aggregates import period_of

REPORTING_URL = "http://reporting.test"
OPERATOR_KEY = {"Authorization": "Bearer lrs_demo_operator_key"}


@pytest.mark.parametrize(
    ("now", "month"),
    [
        (datetime(2027, 3, 31, 23, 30, tzinfo=UTC), "2027-04"),  # BST: already 1 April in the UK
        (datetime(2027, 3, 31, 22, 59, 59, tzinfo=UTC), "2027-03"),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "2026-12"),  # GMT: UK = UTC
        (datetime(2027, 10, 31, 23, 30, tzinfo=UTC), "2027-10"),  # BST ended on 31 October 2027
        (datetime(2027, 9, 30, 23, 0, tzinfo=UTC), "2027-10"),
    ],
)
def test_the_demo_asks_for_the_uk_month_reporting_counts_in(now: datetime, month: str) -> None:
    assert demo.mi_period(now) == month == period_of(now)


def test_the_demo_asks_for_this_uk_month_by_default() -> None:
    before = period_of(datetime.now(UTC))
    asked = demo.mi_period()
    assert asked in {before, period_of(datetime.now(UTC))}


async def test_the_demo_waits_for_the_months_items_not_for_any_body(monkeypatch: pytest.MonkeyPatch) -> None:
    item = {"ao_id": "RN9093", "batches_completed": 3, "records_total": 300}
    answers = [{"period": "2027-04", "items": []}, {"period": "2027-04", "items": [item]}]
    asked: list[httpx.Request] = []

    def reporting(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json=answers[min(len(asked), len(answers)) - 1])

    monkeypatch.setenv("LRS_REPORTING_URL", REPORTING_URL)
    async with httpx.AsyncClient(transport=httpx.MockTransport(reporting)) as client:
        response = await demo._wait_for_report(client, OPERATOR_KEY, "2027-04")

    assert response.json()["items"] == [item]
    assert len(asked) == 2
    assert str(asked[0].url) == f"{REPORTING_URL}/v1/reports/submissions?period=2027-04"
    assert asked[0].headers["Authorization"] == OPERATOR_KEY["Authorization"]


async def test_a_refused_report_is_answered_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[httpx.Request] = []

    def reporting(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(403, json={"title": "Forbidden"})

    monkeypatch.setenv("LRS_REPORTING_URL", REPORTING_URL)
    async with httpx.AsyncClient(transport=httpx.MockTransport(reporting)) as client:
        response = await demo._wait_for_report(client, OPERATOR_KEY, "2027-04")

    assert (response.status_code, len(asked)) == (403, 1)
