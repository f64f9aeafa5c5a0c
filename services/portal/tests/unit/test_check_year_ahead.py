"""The portal's check judges a file as if it were sent on the day it is checked: a ResultsIssuedDate more than a year
after that day is refused whole (RS001), as ingest refuses it (decision 0133, later)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from lrs_contracts.batch import LATEST_RESULTS_ISSUED_AHEAD
from lrs_domain.reference_files import load_catalogue
from portal.checking import check_upload

SAMPLE = Path(__file__).resolve().parents[4] / "samples" / "sample-100.csv"
CHECKED_ON = date(2026, 12, 6)


def _issued(day: date) -> bytes:
    text = SAMPLE.read_text(encoding="utf-8")
    return text.replace(",SAMPLE-100,2024-08-22", f",SAMPLE-100,{day.isoformat()}", 1).encode()


def test_a_date_more_than_a_year_after_the_check_is_refused_whole() -> None:
    far = CHECKED_ON + LATEST_RESULTS_ISSUED_AHEAD + timedelta(days=1)

    checked = check_upload("ahead.csv", _issued(far), "text/csv", load_catalogue(), CHECKED_ON)

    assert checked.refusal is not None
    assert checked.refusal.code == "RS001"
    assert "more than a year ahead" in checked.refusal.detail


def test_a_date_a_year_after_the_check_is_checked_as_usual() -> None:
    latest = CHECKED_ON + LATEST_RESULTS_ISSUED_AHEAD

    checked = check_upload("ahead.csv", _issued(latest), "text/csv", load_catalogue(), CHECKED_ON)

    assert checked.refusal is None
