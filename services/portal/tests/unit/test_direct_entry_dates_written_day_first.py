"""Direct entry: a date typed the UK way (13/05/2007) is told how to write it (2007-05-13), as the person types and
on the form sent, and the date of birth and the award date are told alike: neither quotes the value typed (it is in
the field beside the message), each names its field, gives its rule's code and, where the value reads as a date
written day first, the date as it should be written."""

from __future__ import annotations

import html
from typing import Any

import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from portal.direct_entry import day_first_date

ENTRY = {
    "action": "Create",
    "job_type": "Final",
    "uln": "1000000043",
    "given_name": "Lily",
    "family_name": "McCarthy",
    "qualification_number": "500/0002/0",
    "grade": "Distinction",
    "notification_email": "results@ao.example",
}


def _checked(**dates: str) -> dict[str, Any]:
    """What the form's check as it is typed says of the entry with these dates."""
    portal = stubbed_portal()
    client, person = portal.signed_in()
    answer = client.post("/direct-entry/check", data=form(person, **ENTRY, **dates))
    assert answer.status_code == 200
    errors: dict[str, Any] = answer.json()["errors"]
    return errors


def test_dates_written_day_first_are_told_how_to_write_them_alike() -> None:
    errors = _checked(date_of_birth="13/05/2007", award_date="22/08/2024")

    assert errors["date_of_birth"] == (
        "RV021: Date of birth is not a date written yyyy-mm-dd: write it as 2007-05-13 (13 May 2007)."
    )
    assert errors["award_date"] == (
        "RV008: Award date is not a date written yyyy-mm-dd: write it as 2024-08-22 (22 August 2024)."
    )


def test_the_form_sent_says_the_same() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **ENTRY, date_of_birth="1.3.2001", award_date="22-08-2024"))

    assert answer.status_code == 400
    shown = html.unescape(answer.text)
    assert "Date of birth is not a date written yyyy-mm-dd: write it as 2001-03-01 (1 March 2001)." in shown
    assert "Award date is not a date written yyyy-mm-dd: write it as 2024-08-22 (22 August 2024)." in shown
    assert not portal.sent_to("POST", "ingest/v1/batches")


def test_other_dates_not_written_yyyy_mm_dd_are_told_alike_without_a_guess() -> None:
    errors = _checked(date_of_birth="next tuesday", award_date="31/02/2024")

    assert errors["date_of_birth"] == "RV021: Date of birth is not a date written yyyy-mm-dd."
    assert errors["award_date"] == "RV008: Award date is not a date written yyyy-mm-dd."


def test_a_date_written_as_asked_keeps_the_rules_words() -> None:
    errors = _checked(date_of_birth="2007-02-30", award_date="2099-01-01")

    assert errors["date_of_birth"] == "RV021: Date of birth is written yyyy-mm-dd, but the calendar has no such day."
    assert errors["award_date"].startswith("RV008: Award date 2099-01-01 is in the future")


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("13/05/2007", "2007-05-13"),
        ("1/3/2001", "2001-03-01"),
        (" 05.06.2007 ", "2007-06-05"),
        ("29/02/2024", "2024-02-29"),
        ("29/02/2023", None),
        ("13/13/2007", None),
        ("2007/05/13", None),
        ("13/05/07", None),
        ("2007-05-13", None),
    ],
)
def test_a_date_reads_as_written_day_first_only_when_it_is_a_day(typed: str, written: str | None) -> None:
    assert day_first_date(typed) == written
