"""A date as a spreadsheet writes it, other than day first (the spreadsheet walk, F3): a serial number (a date column
formatted as General), a date and a time, a two-digit year. Told what it is and, where the value may be said back,
how to write it; where it may not (a date of birth), what a spreadsheet did without the day it names."""

from __future__ import annotations

from datetime import date

import pytest

from lrs_contracts.text import spreadsheet_date, why_not_a_date


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("46234", (date(2026, 7, 31), "serial")),
        ("18264", (date(1950, 1, 1), "serial")),
        ("73050", (date(2099, 12, 31), "serial")),
        ("2026-07-31 00:00:00", (date(2026, 7, 31), "date and time")),
        ("31/07/2026 00:00", (date(2026, 7, 31), "date and time")),
        ("2026-07-31T00:00:00Z", (date(2026, 7, 31), "date and time")),
        ("31-Jul-26", (date(2026, 7, 31), "short year")),
        ("31/07/26", (date(2026, 7, 31), "short year")),
        ("14-Mar-98", (date(1998, 3, 14), "short year")),
        ("31-Jul-2026", (date(2026, 7, 31), "short year")),
    ],
)
def test_the_dates_a_spreadsheet_writes_are_read(text: str, found: tuple[date, str]) -> None:
    assert spreadsheet_date(text) == found


@pytest.mark.parametrize("text", ["12345", "99999", "460234", "30/02/26", "31-Foo-26", "next tuesday", "2026-07-31"])
def test_other_texts_are_no_spreadsheet_date(text: str) -> None:
    assert spreadsheet_date(text) is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "46234",
            "is not a date written yyyy-mm-dd: it looks like a date a spreadsheet turned into a number (46234 is 31 July"
            " 2026): format the column as Text and write 2026-07-31",
        ),
        (
            "2026-07-31 00:00:00",
            "is not a date written yyyy-mm-dd: it is a date and a time; write the date alone, 2026-07-31 (31 July 2026)",
        ),
        ("31-Jul-26", "is not a date written yyyy-mm-dd: write it as 2026-07-31 (31 July 2026)"),
        ("31/07/26", "is not a date written yyyy-mm-dd: write it as 2026-07-31 (31 July 2026)"),
    ],
)
def test_a_date_that_may_be_said_back_is_told_how_to_write_it(text: str, said: str) -> None:
    assert why_not_a_date(text, suggest=True) == said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "39521",
            "is not a date written yyyy-mm-dd: it looks like a date a spreadsheet turned into a number: format the"
            " column as Text and write the date as yyyy-mm-dd",
        ),
        ("2008-03-14 00:00", "is not a date written yyyy-mm-dd: it is a date and a time; write the date alone"),
        ("14-Mar-08", "is not a date written yyyy-mm-dd"),
    ],
)
def test_a_date_that_may_not_be_said_back_is_told_what_a_spreadsheet_did_without_its_day(text: str, said: str) -> None:
    assert why_not_a_date(text, spreadsheet=True) == said
    assert "2008" not in said and "14" not in said and "March" not in said


def test_without_either_the_words_are_as_before() -> None:
    """An API body's date (`WrittenDate`) is told only that it is not written yyyy-mm-dd."""
    assert why_not_a_date("46234") == why_not_a_date("2026-07-31 00:00") == "is not a date written yyyy-mm-dd"


@pytest.mark.parametrize("text", ["24-08-22", "24.08.22", "22 08 24"])
def test_a_short_year_with_a_numeric_month_is_read_only_as_a_uk_spreadsheet_writes_it(text: str) -> None:
    """24-08-22 may be a short ISO date, year first: told day first, the wrong day would be suggested back (a review
    of session 64)."""
    assert spreadsheet_date(text) is None
