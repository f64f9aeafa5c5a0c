"""The batch page names the header's ResultsIssuedDate, from which timeliness MI counts the batch's working days, so
that an AO whose MI says a batch took 580 working days can find the batch and the date it counted from."""

from __future__ import annotations

import re

from services.portal.tests.unit.test_batch_pages import batch, batch_page

ROW = re.compile(r"<dt[^>]*>Results issued</dt>\s*<dd[^>]*>([^<]*)</dd>")


def test_the_results_issued_date_is_among_the_details_as_a_day_is_written() -> None:
    html = batch_page(batch(status="completed", failure_reason=None, results_issued_date="2024-08-22"))

    assert ROW.findall(html) == ["22 August 2024"]
    assert html.index("Results issued") < html.index("Received")


def test_a_batch_without_one_shows_no_empty_row() -> None:
    # no ResultsIssuedDate in its header, a refused file, or received before the batch view kept it
    assert "Results issued" not in batch_page(batch(status="completed", failure_reason=None))
    assert "Results issued" not in batch_page(batch(status="completed", failure_reason=None, results_issued_date=None))
