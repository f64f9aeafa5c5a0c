"""While reporting's store reads the history again after a rebuild (decision 0161) its figures are partial, and every
report says so (analyst review, finding 1): `complete` in a JSON answer, the `X-LRS-Figures` header on every answer, a
CSV's included, whose columns stay as they were. A submissions row also gives the records its failed batches did not
add (`records_not_added`), which the CLI and the portal used to work out for themselves."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Collection
from datetime import timedelta
from typing import Any

import httpx
import pytest

from lrs_contracts.reporting import (
    AoMonthlyChallenges,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
    CodeRejections,
)
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.api import router
from reporting.store import Held

PERIOD = "2026-12"
REPORTS = {
    "submissions": {"period": PERIOD},
    "timeliness": {"period": PERIOD},
    "plr-timeliness": {"from": PERIOD},
    "rejections": {"from": PERIOD},
    "challenges": {"from": PERIOD},
}
# 53 records: 23 accepted, 7 rejected, 19 unchanged, and the 4 of a failed batch (RS005) that passed their checks
DECEMBER = AoMonthlySubmissions(
    ao_id="RN9008",
    period=PERIOD,
    batches_completed=4,
    batches_failed=1,
    records_total=53,
    records_accepted=23,
    records_rejected=7,
    records_unchanged=19,
    rejections_by_code={"RS005": 1, "RV014": 1, "RV002": 6},
)
TIMELY = AoMonthlyTimeliness(
    ao_id="RN9008", period=PERIOD, batches_measured=4, batches_within_10_working_days=4, worst_working_days=6
)


class RebuildingStore:
    """One AO's month; catching up (a rebuild's history not all read again) or not, as `catching_up_to` says."""

    def __init__(self) -> None:
        self.catching_up_to: dict[tuple[str, int], int] = {}
        self.held_by_topic: dict[str, Held] = {}
        self.asked: list[str] = []
        self.held_asked_of: list[set[str]] = []

    async def catching_up(self) -> dict[tuple[str, int], int]:
        self.asked.append("catching_up")
        return dict(self.catching_up_to)

    async def held_in_dead_letters(self, topics: Collection[str]) -> Held | None:
        self.asked.append("held")
        self.held_asked_of.append(set(topics))
        held = [self.held_by_topic[topic] for topic in topics if topic in self.held_by_topic]
        if not held:
            return None
        return Held(sum(each.messages for each in held), min(each.since for each in held))

    async def aggregates(self, period: str, ao_id: str | None = None) -> list[Any]:
        self.asked.append("figures")
        return [(DECEMBER, TIMELY)]

    async def plr_timeliness(self, first: str, last: str, ao_id: str | None, lag_bound: timedelta) -> list[Any]:
        self.asked.append("figures")
        return [
            AoMonthlyPlrTimeliness(
                ao_id="RN9008",
                period=PERIOD,
                projection_lag_bound_seconds=300,
                batches_measured=3,
                batches_within_10_working_days=3,
                median_working_days=2,
                worst_working_days=6,
                by_qualification_type=(),
            )
        ]

    async def rejections(self, first: str, last: str, ao_id: str | None) -> list[Any]:
        self.asked.append("figures")
        code = CodeRejections(code="RS005", batches=1, records=10)
        return [
            AoMonthlyRejections(ao_id="RN9008", period=PERIOD, records_rejected=7, batches_failed=1, by_code=(code,))
        ]

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[Any]:
        self.asked.append("figures")
        return [
            AoMonthlyChallenges(
                ao_id="RN9008",
                period=PERIOD,
                raised=2,
                acknowledged=1,
                resolved=1,
                still_open=1,
                resolutions={"upheld": 1, "rejected": 0, "corrected": 0, "withdrawn": 0},
                median_working_days_to_resolve=1,
                worst_working_days_to_resolve=1,
            )
        ]


Read = Callable[..., Any]


@pytest.fixture
async def reporting() -> AsyncIterator[tuple[RebuildingStore, Read]]:
    store = RebuildingStore()
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.reporting, app.state.projection_lag_bound = store, timedelta(minutes=5)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:mi")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:

        async def read(report: str, fmt: str = "json") -> httpx.Response:
            return await client.get(f"/v1/reports/{report}", params={**REPORTS[report], "format": fmt})

        yield store, read


@pytest.mark.parametrize("report", REPORTS)
async def test_while_the_store_catches_up_every_report_says_its_figures_are_partial(
    reporting: tuple[RebuildingStore, Read], report: str
) -> None:
    store, read = reporting
    store.catching_up_to = {("lrs.batch.outcomes.v1", 0): 120}

    answer = await read(report)
    download = await read(report, "csv")

    assert answer.status_code == 200 and answer.json()["complete"] is False
    assert answer.headers["X-LRS-Figures"] == "partial"
    assert answer.json()["items"], "the figures counted so far are still given"
    assert download.status_code == 200 and download.headers["X-LRS-Figures"] == "partial"
    # asked before the figures are read: a catch-up ending in between leaves them said partial, never the other way
    assert [asked for asked in store.asked if asked != "held"] == ["catching_up", "figures"] * 2


@pytest.mark.parametrize("report", REPORTS)
async def test_once_caught_up_every_report_says_its_figures_are_complete_and_a_csv_keeps_its_columns(
    reporting: tuple[RebuildingStore, Read], report: str
) -> None:
    store, read = reporting
    partial = {("lrs.batch.outcomes.v1", 0): 120}
    store.catching_up_to = partial
    while_partial = (await read(report, "csv")).text
    store.catching_up_to = {}

    answer = await read(report)
    download = await read(report, "csv")

    assert answer.json()["complete"] is True and answer.headers["X-LRS-Figures"] == "complete"
    assert download.headers["X-LRS-Figures"] == "complete"
    assert download.text == while_partial  # the file is the same either way: only the header says it
    assert "partial" not in download.text and "complete" not in next(csv.reader(io.StringIO(download.text)))


async def test_a_submissions_row_gives_the_records_its_failed_batches_did_not_add(
    reporting: tuple[RebuildingStore, Read],
) -> None:
    _, read = reporting

    [row] = (await read("submissions")).json()["items"]
    download = (await read("submissions", "csv")).text

    assert row["records_not_added"] == 4
    told = ("records_accepted", "records_rejected", "records_unchanged", "records_not_added")
    assert sum(row[name] for name in told) == row["records_total"]
    header, *_ = download.splitlines()
    # a new column after those there were, so that a reader of columns by their place reads on as before
    assert header == (
        "ao_id,period,batches_completed,batches_failed,batches_abandoned,records_total,records_accepted,"
        "records_rejected,records_unchanged,rejections_by_code,records_not_added"
    )
    [flat] = csv.DictReader(io.StringIO(download))
    assert flat["records_not_added"] == "4" and flat["rejections_by_code"] == "RS005=1;RV014=1;RV002=6"
