"""The MI asks reporting for each report once, for all the months shown, the reports at once (scale review, finding
1): `/ops/mi?months=24` made 51 calls one after another (a submissions and a timeliness call per month, then the three
range reports), 3.9 s for every AO's; every chart's CSV made the same 51. The pages show the same figures as the
per-month assembly did, and a chart's CSV asks only for the report its chart is drawn from."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import SERVICE_URLS, StubbedPortal, stubbed_portal

from portal.accounts import Role
from portal.backend import ServiceCalls
from portal.charts import svg
from portal.mi import CHARTS, MiData, chart_csv, months_ending
from portal.web.ao_pages import CHART_REPORTS, MI_REPORTS, gather_mi
from portal.web.common import UK

AOS = ("RN5133", "RN9093", "RN9008")
MONTH_REPORTS = ("submissions", "timeliness")
RANGE_REPORTS = ("plr-timeliness", "rejections", "challenges")


def _rows(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Every report's rows for three AOs over the 26 months up to this one (a month outside the 24 shown either
    side of them), some months of some AOs without any, as reporting answers them."""
    pick = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {report: [] for report in MI_REPORTS}
    for ao_id in AOS:
        for period in months_ending(datetime.now(UK).date(), 26):
            if pick.random() < 0.25:
                continue  # no batch and no challenge this month
            month = {"ao_id": ao_id, "period": period}
            completed, failed, abandoned = pick.randint(0, 40), pick.randint(0, 3), pick.randint(0, 2)
            accepted, rejected, unchanged, not_added = (pick.randint(0, 500) for _ in range(4))
            codes = {code: pick.randint(1, 30) for code in ("RV002", "RV004", "RV014", "RV021", "RV030", "RV041")}
            codes = {code: n for code, n in codes.items() if pick.random() < 0.6} | (
                {"RS005": failed} if failed else {}
            )
            rows["submissions"].append(
                month
                | {
                    "batches_completed": completed,
                    "batches_failed": failed,
                    "batches_abandoned": abandoned,
                    "records_total": accepted + rejected + unchanged + not_added,
                    "records_accepted": accepted,
                    "records_rejected": rejected,
                    "records_unchanged": unchanged,
                    "records_not_added": not_added,
                    "rejections_by_code": codes,
                }
            )
            measured = pick.randint(0, completed)
            rows["timeliness"].append(
                month
                | {
                    "batches_measured": measured,
                    "batches_within_10_working_days": pick.randint(0, measured),
                    "worst_working_days": pick.randint(0, 30),
                }
            )
            by_type = [
                {
                    "qualification_type": kind,
                    "batches_measured": (n := pick.randint(0, measured)),
                    "batches_within_10_working_days": pick.randint(0, n),
                    "median_working_days": pick.randint(0, 12),
                    "worst_working_days": pick.randint(12, 30),
                }
                for kind in ("GCSE (9 to 1)", "Vocationally-Related Qualification", "unknown")
                if pick.random() < 0.7
            ]
            rows["plr-timeliness"].append(
                month
                | {
                    "projection_lag_bound_seconds": 300,
                    "batches_measured": measured,
                    "batches_within_10_working_days": pick.randint(0, measured),
                    "median_working_days": pick.randint(0, 12),
                    "worst_working_days": pick.randint(12, 30),
                    "by_qualification_type": by_type,
                }
            )
            by_code = [{"code": code, "batches": pick.randint(1, 5), "records": n} for code, n in codes.items()]
            rows["rejections"].append(
                month | {"records_rejected": rejected, "batches_failed": failed, "by_code": by_code}
            )
            raised = pick.randint(0, 12)
            resolved = pick.randint(0, raised)
            withdrawn = pick.randint(0, resolved)
            by_desk = pick.randint(0, resolved - withdrawn)
            rows["challenges"].append(
                month
                | {
                    "raised": raised,
                    "acknowledged": pick.randint(resolved, raised),
                    "resolved": resolved,
                    "still_open": raised - resolved,
                    "resolutions": {"withdrawn": withdrawn, "amended": resolved - withdrawn} if resolved else {},
                    "median_working_days_to_resolve": pick.randint(0, 8),
                    "worst_working_days_to_resolve": pick.randint(8, 20),
                    "acknowledged_by_service_desk": pick.randint(0, by_desk),
                    "resolved_by_service_desk": by_desk,
                }
            )
    return rows


def _reporting(
    portal: StubbedPortal, rows: dict[str, list[dict[str, Any]]], complete: dict[str, bool] | None = None
) -> None:
    """Reporting as it answers: a month (`period`: submissions and timeliness) or a range (`from`, `to`), one AO or
    every AO, an item per AO and month in that order; each report's figures `complete` as `complete` says."""

    def report(name: str) -> Callable[[httpx.Request], httpx.Response]:
        def answer(request: httpx.Request) -> httpx.Response:
            params, said = request.url.params, (complete or {}).get(name, True)
            if "period" in params:
                assert name in MONTH_REPORTS and "from" not in params and "to" not in params
                first = last = params["period"]
                months: dict[str, Any] = {"period": first}
            else:
                first, last = params["from"], params["to"]
                months = {"first_period": first, "last_period": last}
            items = sorted(
                (
                    row
                    for row in rows[name]
                    if first <= row["period"] <= last and params.get("ao_id") in (None, row["ao_id"])
                ),
                key=lambda row: (row["ao_id"], row["period"]),
            )
            return httpx.Response(200, json={**months, "complete": said, "items": items})

        return answer

    for name in MI_REPORTS:
        portal.on("GET", f"reporting/v1/reports/{name}", report(name))


async def _per_month(service: ServiceCalls, months: int, ao_id: str | None = None) -> MiData:
    """The MI as `gather_mi` assembled it before: a submissions and a timeliness call per month, one after another,
    then the three range reports (services/portal/src/portal/web/ao_pages.py before this change, unchanged)."""
    periods = months_ending(datetime.now(UK).date(), months)
    submissions: dict[str, Any] = {}
    timeliness: dict[str, Any] = {}
    partial = False
    for period in periods:
        month = await service.report("submissions", period, ao_id), await service.report("timeliness", period, ao_id)
        submissions[period], timeliness[period] = (answer["items"] for answer in month)
        partial = partial or any(answer.get("complete") is False for answer in month)
    first, last = periods[0], periods[-1]
    return MiData(
        periods,
        submissions,
        timeliness,
        plr_timeliness=await service.report_range("plr-timeliness", first, last, ao_id),
        rejections=await service.report_range("rejections", first, last, ao_id),
        challenges=await service.report_range("challenges", first, last, ao_id),
        partial=partial,
    )


async def _gathered(
    portal: StubbedPortal, gather: Callable[[ServiceCalls], Awaitable[MiData]]
) -> tuple[MiData, list[httpx.Request]]:
    portal.sent.clear()
    async with httpx.AsyncClient(transport=httpx.MockTransport(portal.answer)) as client:
        data = await gather(ServiceCalls(client, SERVICE_URLS, "a-service-key"))
    return data, [sent for sent in portal.sent if sent.url.host == "reporting"]


@pytest.mark.parametrize("ao_id", [None, "RN9093"])
@pytest.mark.parametrize("months", [1, 6, 24])
async def test_the_mi_from_one_call_per_report_is_the_mi_assembled_month_by_month(
    months: int, ao_id: str | None
) -> None:
    portal = stubbed_portal()
    _reporting(portal, _rows())

    before, asked_before = await _gathered(portal, lambda service: _per_month(service, months, ao_id))
    after, asked_after = await _gathered(portal, lambda service: gather_mi(service, months, ao_id))

    assert after == before
    for name, build in CHARTS.items():
        assert chart_csv(build(after)) == chart_csv(build(before)), name
        assert str(svg(build(after))) == str(svg(build(before))), name
    assert sum(len(rows) for rows in after.submissions.values()) > 0 and after.challenges  # figures were compared
    assert (len(asked_before), len(asked_after)) == (2 * months + 3, 5)
    whose = {"ao_id": ao_id} if ao_id else {}
    range_asked = {"from": after.periods[0], "to": after.periods[-1]} | whose
    assert [dict(sent.url.params) for sent in asked_after] == [range_asked] * 5
    assert sorted(sent.url.path.rsplit("/", 1)[1] for sent in asked_after) == sorted(MI_REPORTS)


@pytest.mark.parametrize(
    "partial", [(), ("submissions",), ("timeliness",), ("submissions", "timeliness")], ids=lambda said: "-".join(said)
)
async def test_figures_said_partial_by_a_month_report_are_partial_as_before(partial: tuple[str, ...]) -> None:
    portal = stubbed_portal()
    _reporting(portal, _rows(), {name: name not in partial for name in MI_REPORTS})

    before, _ = await _gathered(portal, lambda service: _per_month(service, 6))
    after, _ = await _gathered(portal, lambda service: gather_mi(service, 6))

    assert after.partial is before.partial is bool(partial)


async def test_figures_said_partial_by_a_range_report_are_partial_too() -> None:
    """Read at once, no report is read after another has said the store complete: any says partial, all are."""
    portal = stubbed_portal()
    _reporting(portal, _rows(), {"challenges": False})

    after, _ = await _gathered(portal, lambda service: gather_mi(service, 6))

    assert after.partial


async def test_the_reports_are_asked_at_once() -> None:
    """Each report answers only once all five were asked: asked one after another, the first never would."""
    rows = _rows()
    first = months_ending(datetime.now(UK).date(), 24)[0]
    asked: list[str] = []
    all_asked = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[1]
        asked.append(name)
        if len(asked) == len(MI_REPORTS):
            all_asked.set()
        await asyncio.wait_for(all_asked.wait(), timeout=10)
        return httpx.Response(200, json={"items": [row for row in rows[name] if row["period"] >= first]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        data = await gather_mi(ServiceCalls(client, SERVICE_URLS, "a-service-key"), 24)

    assert sorted(asked) == sorted(MI_REPORTS) and data.challenges


def _reporting_calls(portal: StubbedPortal) -> list[str]:
    return [sent.url.path.rsplit("/", 1)[1] for sent in portal.sent if sent.url.host == "reporting"]


def test_the_24_month_mi_pages_ask_reporting_5_times_not_51() -> None:
    portal = stubbed_portal()
    _reporting(portal, _rows())
    ao, _ = portal.signed_in()
    operator, _ = portal.signed_in(Role.OPERATOR, frozenset({"support"}))

    for client, path, params in [
        (ao, "/mi", {"months": "24"}),
        (operator, "/ops/mi", {"months": "24"}),
        (operator, "/ops/mi", {"months": "24", "ao": "RN9093"}),
    ]:
        portal.sent.clear()
        page = client.get(path, params=params)
        assert page.status_code == 200, page.text
        assert sorted(_reporting_calls(portal)) == sorted(MI_REPORTS), path  # before: 24 + 24 + 3 = 51


@pytest.mark.parametrize("chart", CHARTS)
def test_a_charts_csv_asks_only_for_its_report_and_is_the_csv_of_the_whole_mi(chart: str) -> None:
    portal = stubbed_portal()
    rows = _rows()
    _reporting(portal, rows)
    ao, _ = portal.signed_in()  # the stubbed portal's AO: its reporting is asked without `ao_id`
    operator, _ = portal.signed_in(Role.OPERATOR, frozenset({"support"}))
    whole = asyncio.run(_gathered(portal, lambda service: _per_month(service, 24)))[0]
    of_one = asyncio.run(_gathered(portal, lambda service: _per_month(service, 24, "RN9093")))[0]

    downloads = [(ao, f"/mi/{chart}.csv", {"months": "24"}, whole)]
    downloads += [(operator, f"/ops/mi/{chart}.csv", {"months": "24", "ao": "RN9093"}, of_one)]
    if chart != "challenge-days":  # every AO's: no median of medians (support_pages.ONE_AO_ONLY)
        downloads += [(operator, f"/ops/mi/{chart}.csv", {"months": "24"}, whole)]
    for client, path, params, data in downloads:
        portal.sent.clear()
        download = client.get(path, params=params)
        assert download.status_code == 200, download.text
        assert download.text == chart_csv(CHARTS[chart](data)), path
        assert _reporting_calls(portal) == list(CHART_REPORTS[chart]), path  # before: 51 calls
    assert len(whole.periods) == 24 and any(whole.submissions.values())


def test_every_chart_names_the_reports_it_is_drawn_from() -> None:
    assert set(CHART_REPORTS) == set(CHARTS)
    assert {report for reports in CHART_REPORTS.values() for report in reports} == set(MI_REPORTS)
