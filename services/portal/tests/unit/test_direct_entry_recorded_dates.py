"""Direct entry's "Fill in the recorded achievement" with an award date not written yyyy-mm-dd says so at the award
date, in the form's own words (a date written day first, or as the learner page shows it, "31 March 2025", told how to
write it), before the learner's record is read: not "you have recorded no achievement" of an achievement recorded
under that very day. The form's date words come from the one source the batch files' messages use."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from portal.accounts import Role
from portal.direct_entry import date_said

ULN = "1000000043"
ACHIEVEMENT = {
    "id": "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35",
    "subject_code": "60190541",
    "subject": "Diploma",
    "status": "F",
    "grade": "Pass",
    "achievement_award_date": "2025-03-31",
    "achievement_provider_ukprn": "10001234",
    "language_for_assessment": "English",
    "pathway": "Route B",
    "credits": 12,
    "withdrawn": False,
    "under_data_challenge": "N",
    "history": [],
}
ENTRY = {
    "action": "Update",
    "job_type": "Final",
    "uln": ULN,
    "given_name": "Lily",
    "family_name": "McCarthy",
    "qualification_number": "601/9054/1",
    "grade": "Merit",
    "notification_email": "results@ao.example",
    "entry_id": "3f2a9c1e-0000-4000-8000-000000000000",
}


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("31/03/2025", "Award date is not a date written yyyy-mm-dd: write it as 2025-03-31 (31 March 2025)."),
        ("31 March 2025", "Award date is not a date written yyyy-mm-dd: write it as 2025-03-31 (31 March 2025)."),
        ("2025-02-30", "Award date is written yyyy-mm-dd, but the calendar has no such day."),
        ("last march", "Award date is not a date written yyyy-mm-dd."),
    ],
)
def test_an_award_date_not_written_yyyy_mm_dd_is_said_at_the_award_date(typed: str, said: str) -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [ACHIEVEMENT]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))

    entry = client.post("/direct-entry/recorded", data=form(person, **ENTRY, award_date=typed))

    assert entry.status_code == 400
    shown = html.unescape(entry.text)
    assert f'href="#award_date">{said}' in shown
    assert "You have recorded no achievement" not in shown
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")


def test_the_award_date_written_as_recorded_still_fills_the_form_in() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [ACHIEVEMENT]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))

    entry = client.post("/direct-entry/recorded", data=form(person, **ENTRY, award_date=" 2025-03-31 "))

    assert entry.status_code == 200, entry.text
    assert "Filled in as recorded" in entry.text


def test_the_form_checks_a_date_as_the_fill_in_does() -> None:
    """One behaviour: the check as it is typed says of "6 July 2010" what the fill-in says."""
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)

    checked = client.post("/direct-entry/check", data=form(person, **ENTRY, award_date="6 July 2010"))

    assert checked.status_code == 200
    assert checked.json()["errors"]["award_date"] == f"RV008: {date_said('award_date', '6 July 2010')}"
    assert date_said("award_date", "6 July 2010") == (
        "Award date is not a date written yyyy-mm-dd: write it as 2010-07-06 (6 July 2010)."
    )


@pytest.mark.parametrize("born", ["2099-01-01", "1066-10-14"])
def test_a_date_of_birth_no_learner_can_have_is_said_as_a_batch_says_it_without_repeating_it(born: str) -> None:
    """The rules' RV021 (decision 0176's range, the learner registry's): the form checks as a batch is judged."""
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)

    checked = client.post(
        "/direct-entry/check", data=form(person, **ENTRY, award_date="2025-03-31", date_of_birth=born)
    )

    said = checked.json()["errors"]["date_of_birth"]
    assert re.fullmatch(
        r"RV021: Date of birth is not a date of birth from 1900-01-01 to [0-9]{4}-[0-9]{2}-[0-9]{2}\.", said
    )
    assert born not in said
