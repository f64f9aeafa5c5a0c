"""The batch view answers the header's ResultsIssuedDate (`results_issued_date`), from which timeliness MI counts the
batch's working days; null when the header gave none, and for a batch stored before ingest kept it."""

from __future__ import annotations

from datetime import date

from services.ingest.tests.unit.test_ingest_views import row

from ingest.repository import results_issued_on
from ingest.views import BatchView, batch_view

ROW = row(status="completed")


def test_the_view_says_the_results_issued_date_as_a_yyyy_mm_dd_day() -> None:
    view = batch_view({**ROW, "results_issued_date": date(2024, 8, 22)})

    assert view.results_issued_date == date(2024, 8, 22)
    assert view.model_dump(mode="json")["results_issued_date"] == "2024-08-22"


def test_a_batch_stored_before_the_date_was_kept_answers_null() -> None:
    assert batch_view(ROW).model_dump(mode="json")["results_issued_date"] is None  # a row of no such column
    assert batch_view({**ROW, "results_issued_date": None}).results_issued_date is None


def test_the_documented_view_names_it() -> None:
    assert "results_issued_date" in BatchView.model_json_schema()["properties"]


def test_the_stored_day_is_the_headers_date_or_none() -> None:
    assert results_issued_on("2024-08-22") == date(2024, 8, 22)
    assert results_issued_on(None) is None
    assert results_issued_on("") is None
    assert results_issued_on("22/08/2024") is None  # refused at the door (RS001): never stored as a wrong day
