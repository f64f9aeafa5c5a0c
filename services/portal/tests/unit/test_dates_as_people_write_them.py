"""Dates are written as people write them: an award date "2 July 2013" on the learner page, as the challenge pages
say it (a screen reader reads "2013-07-02" as a string of numbers), and a month "Jul 2026" in the MI charts, their
tables and descriptions; an MI CSV keeps yyyy-mm, for the programs that read it."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.test_charts_and_mi import data
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, _learner_page

from portal.charts import svg, table_rows
from portal.mi import CHARTS, chart_csv, month_label, period_of
from portal.web.common import TEMPLATES


@pytest.mark.parametrize(
    ("value", "said"),
    [("2013-07-02", "2 July 2013"), ("2025-12-31", "31 December 2025"), ("", ""), (None, ""), ("soon", "soon")],
)
def test_a_day_is_said_in_words(value: str | None, said: str) -> None:
    assert TEMPLATES.from_string("{{ value | long_date }}").render(value=value) == said


def test_the_learner_page_says_the_award_date_in_words() -> None:
    _, page = _learner_page(ACHIEVEMENT)

    row = re.search(r'Award date</dt><dd class="govuk-summary-list__value">([^<]*)</dd>', page)
    assert row is not None and row.group(1) == "31 March 2025"
    assert "awarded 2025-03-31" not in page


def test_a_month_is_said_as_people_read_it_and_given_back_as_yyyy_mm() -> None:
    assert month_label("2026-07") == "Jul 2026"
    assert [month_label(f"2026-{month:02d}") for month in (1, 12)] == ["Jan 2026", "Dec 2026"]
    assert all(period_of(month_label(f"2025-{month:02d}")) == f"2025-{month:02d}" for month in range(1, 13))


def test_the_mi_charts_say_their_months_in_words_and_their_csv_in_yyyy_mm() -> None:
    chart = CHARTS["records"](data())

    assert [category for category, _ in table_rows(chart)] == ["Oct 2026", "Nov 2026"]
    assert "each month, Oct 2026 to Nov 2026." in chart.description
    assert 'data-category="Oct 2026"' in str(svg(chart))
    assert [line.split(",")[:3] for line in chart_csv(chart).splitlines()] == [
        ["Month", "Accepted", "Rejected"],
        ["2026-10", "150", "60"],
        ["2026-11", "100", "5"],
    ]
    assert "2026-10" not in chart.description
