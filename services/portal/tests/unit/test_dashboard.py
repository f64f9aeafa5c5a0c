"""An AO's home page: its batches whatever else is missing."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.accounts import Role


def ao_home_without_batches_or_challenges() -> tuple[StubbedPortal, TestClient]:
    """A portal whose AO, signed in, has no batches yet, and whose challenges service does not answer."""
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    listed = {"items": [], "total": 0, "page": 1, "page_size": 8}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))
    portal.on("GET", "challenges/v1/challenges/open-counts", lambda _: httpx.Response(503, json={"title": "Away"}))
    return portal, client


def test_the_home_page_shows_the_batches_when_the_challenges_service_does_not_answer() -> None:
    portal, client = ao_home_without_batches_or_challenges()

    home = client.get("/")

    assert home.status_code == 200
    assert "Not available just now: the challenges service did not answer" in home.text
    assert "Recent batches" in home.text
    assert portal.sent_to("GET", "ingest/v1/batches")


def _home_with_timeliness(measured: int, within: int, median: int, worst: int) -> str:
    portal, client = ao_home_without_batches_or_challenges()
    month = {
        "period": "2026-12",
        "projection_lag_bound_seconds": 60,
        "batches_measured": measured,
        "batches_within_10_working_days": within,
        "median_working_days": median,
        "worst_working_days": worst,
        "by_qualification_type": [],
    }
    portal.on("GET", "reporting/v1/reports/plr-timeliness", lambda _: httpx.Response(200, json={"items": [month]}))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/").text)).replace("&#39;", "'")


def test_the_timeliness_figure_says_it_counts_only_the_batches_that_changed_learners_records() -> None:
    """`batches_measured` counts the month's batches with a results-issued date that put results on a PLR, not
    every batch decided this month (Recent batches lists those)."""
    said = _home_with_timeliness(measured=2, within=0, median=12, worst=14)

    assert (
        "0 of 2 batches in time Of the 2 batches decided this month that changed learners' records (and gave a"
        " results-issued date), 0 had their results on them within 10 working days of being issued." in said
    )
    assert "The median took 12 working days and the slowest 14 working days." in said
    assert "Batches that changed no learner's record" in said and "are not counted" in said
    assert "plus up to 1 minute for the record to show it" in said
    assert "counts as on the record from when the LRS recorded it" in said and "PLR's log" not in said


def test_one_batch_measured_reads_in_the_singular() -> None:
    said = _home_with_timeliness(measured=1, within=1, median=1, worst=1)

    assert (
        "1 of 1 batch in time Of the 1 batch decided this month that changed learners' records (and gave a"
        " results-issued date), 1 had its results on them within 10 working days of being issued. It took 1 working"
        " day." in said
    )
    assert "1 batches" not in said and "1 working days" not in said
