"""A challenge its learner withdrew (decision 0194) is resolved, but not by the AO: the MI shows it as "Withdrawn by
the learner" beside those the AO resolved, and the working days to resolve, which leave it out, say "—" (not 0) for a
month whose resolved challenges were all withdrawn: nothing was measured."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_charts_and_mi import SVG, bars

from portal.accounts import Role
from portal.charts import svg, table_rows
from portal.mi import CHARTS, MiData, chart_csv, month_label, months_ending

WITHDRAWN_ONLY, ANSWERED = "2026-10", "2026-11"
CHALLENGES = [
    {  # three raised: two withdrawn by their learners, one still open; the AO resolved none
        "period": WITHDRAWN_ONLY,
        "raised": 3,
        "acknowledged": 0,
        "resolved": 2,
        "still_open": 1,
        "resolutions": {"corrected": 0, "rejected": 0, "upheld": 0, "withdrawn": 2},
        "median_working_days_to_resolve": 0,
        "worst_working_days_to_resolve": 0,
    },
    {  # two raised: the AO rejected one the day it was raised (0 days, measured), the learner withdrew the other
        "period": ANSWERED,
        "raised": 2,
        "acknowledged": 1,
        "resolved": 2,
        "still_open": 0,
        "resolutions": {"corrected": 0, "rejected": 1, "upheld": 0, "withdrawn": 1},
        "median_working_days_to_resolve": 0,
        "worst_working_days_to_resolve": 0,
    },
]


def _data() -> MiData:
    return MiData([WITHDRAWN_ONLY, ANSWERED], {}, {}, challenges=CHALLENGES)


def test_challenges_per_month_tell_those_the_learner_withdrew_from_those_the_ao_resolved() -> None:
    chart = CHARTS["challenges"](_data())

    assert [series.name for series in chart.series] == [
        "Raised",
        "Resolved by the AO",
        "Resolved by the LRS service desk",
        "Withdrawn by the learner",
        "Still open",
    ]
    assert table_rows(chart) == [("Oct 2026", (3.0, 0.0, 0.0, 2.0, 1.0)), ("Nov 2026", (2.0, 1.0, 0.0, 1.0, 0.0))]
    assert chart_csv(chart).splitlines() == [
        "Month,Raised,Resolved by the AO,Resolved by the LRS service desk,Withdrawn by the learner,Still open",
        "2026-10,3,0,0,2,1",
        "2026-11,2,1,0,1,0",
    ]
    assert "the learner withdrew" in chart.description


def test_the_days_to_resolve_say_nothing_was_measured_when_the_learners_withdrew_every_resolved_challenge() -> None:
    chart = CHARTS["challenge-days"](_data())

    assert table_rows(chart) == [("Oct 2026", (None, None)), ("Nov 2026", (0.0, 0.0))]
    assert chart_csv(chart).splitlines() == ["Month,Median,Slowest", "2026-10,,", "2026-11,0,0"]
    assert (
        "A challenge the learner withdrew, or the LRS service desk resolved for the AO, is not counted; — when the AO"
        " resolved none." in chart.description
    )
    assert "0 when" not in chart.description
    drawn = str(svg(chart))
    assert bars(drawn)[("Oct 2026", "Median")] == "" and bars(drawn)[("Nov 2026", "Median")] == "0"
    titles = [rect.findtext(f"{SVG}title") for rect in ElementTree.fromstring(drawn).iter(f"{SVG}rect")]
    assert "Oct 2026, Median: none resolved by the AO" in titles
    assert "Nov 2026, Median: 0 working days" in titles


def _page(challenges: list[dict[str, Any]], path: str) -> httpx.Response:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    for report in ("submissions", "timeliness", "plr-timeliness", "rejections"):
        portal.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))
    portal.on("GET", "reporting/v1/reports/challenges", lambda _: httpx.Response(200, json={"items": challenges}))
    response: httpx.Response = client.get(path)
    return response


def test_the_mi_page_says_the_bars_order_and_shows_no_days_for_a_month_the_ao_resolved_nothing() -> None:
    this_month = months_ending(datetime.now(ZoneInfo("Europe/London")).date(), 1)[0]
    withdrawn = [{**CHALLENGES[0], "period": this_month}]

    rendered = _page(withdrawn, "/mi?months=3").text

    def section(name: str) -> str:
        return rendered.split(f'data-chart="{name}"', 1)[1].split("</section>", 1)[0]

    per_month = section("challenges")
    assert (
        "data-bar-order>Each month's bars, left to right: Raised, Resolved by the AO, Resolved by the LRS service desk,"
        " Withdrawn by the learner, Still open.</p>" in per_month
    )
    assert '<th scope="col" class="govuk-table__header govuk-table__header--numeric">Withdrawn by the learner</th>' in (
        per_month
    )
    days = section("challenge-days").split("<tbody", 1)[1]
    row = days.split(f">{month_label(this_month)}</th>", 1)[1].split("</tr>", 1)[0]
    assert row.count('govuk-table__cell--numeric">—</td>') == 2, row

    csv = _page(withdrawn, "/mi/challenge-days.csv?months=3")
    assert csv.status_code == 200 and csv.text.splitlines()[-1] == f"{this_month},,"
