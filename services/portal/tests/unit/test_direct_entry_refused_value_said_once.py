"""Direct entry: a value no batch file could hold either (a control character) is said once, by the door, as a
batch holding it is refused (RS001) before any rule reads it: no rule's finding (RV021, RV009, RV005, ...) is said
of it too. Neither a message nor the field written back holds the refused character raw: it is shown as its code
point ("[U+0000]"), as the message names it (a raw NUL is an HTML parse error the browser sends back as U+FFFD)."""

from __future__ import annotations

import html
from datetime import date

import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from lrs_domain.reference import Catalogue
from lrs_domain.reference_files import load_catalogue
from portal.checking import check_record
from portal.direct_entry import entry_batch, field_errors, read_entry

TODAY = date(2026, 11, 30)
ENTRY = {
    "action": "Create",
    "job_type": "Final",
    "uln": "1000000043",
    "given_name": "Lily",
    "family_name": "McCarthy",
    "qualification_number": "500/0002/0",
    "award_date": "2021-06-30",
    "grade": "Distinction",
    "notification_email": "results@ao.example",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _errors(catalogue: Catalogue, **changes: str) -> dict[str, str]:
    entry = read_entry({**ENTRY, **changes})
    return field_errors(entry, check_record(entry_batch(entry, "RN9093", "x"), catalogue, TODAY))


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("given_name", "Li\x00ly", "The value holds the control character U+0000 at character 3"),
        ("grade", "Li\x00ly", "The value holds the control character U+0000 at character 3"),
        ("grade", "Li\x1b[31mly", "The value holds the control character U+001B at character 3"),
        ("pathway", "Li\x1bly", "The value holds the control character U+001B at character 3"),
        ("qualification_number", "500/0002/0\x00", "The value holds the control character U+0000 at character 11"),
        ("uln", "10000\x0000043", "The value holds the control character U+0000 at character 6"),
        ("award_date", "2021-06\x7f-30", "The value holds the control character U+007F at character 8"),
        ("credits", "1\x002", "The value holds the control character U+0000 at character 2"),
        ("centre_ukprn", "1000\x9b1234", "The value holds the control character U+009B at character 5"),
    ],
)
def test_a_refused_value_is_said_once_without_a_rules_finding(
    catalogue: Catalogue, name: str, value: str, said: str
) -> None:
    assert _errors(catalogue, **{name: value}) == {name: said}


def test_the_other_fields_keep_their_findings(catalogue: Catalogue) -> None:
    errors = _errors(catalogue, given_name="Li\x00ly", grade="Nope")

    assert errors["given_name"] == "The value holds the control character U+0000 at character 3"
    assert errors["grade"].startswith("RV009: Grade 'Nope' is not a grade of 500/0002/0")


@pytest.mark.parametrize(("typed", "shown"), [("Me\u202erit", "Me[U+202E]rit"), ("Me\nrit", "Me[U+000A]rit")])
def test_a_finding_quoting_a_character_the_page_must_not_hold_shows_its_code_point(
    catalogue: Catalogue, typed: str, shown: str
) -> None:
    """A record value may hold a line break or a bidirectional control at the door (a batch's quoted CSV field
    can); the grade rule's finding quotes the grade, with that character shown as its code point."""
    errors = _errors(catalogue, grade=typed)

    assert errors["grade"].startswith(f"RV009: Grade '{shown}' is not a grade of 500/0002/0")


def test_the_form_sent_says_it_once_and_writes_no_control_character_into_the_page() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **{**ENTRY, "given_name": "Li\x00ly", "grade": "Li\x1bly"}))

    assert answer.status_code == 400
    assert "\x00" not in answer.text and "\x1b" not in answer.text
    assert 'name="given_name" type="text" value="Li[U+0000]ly"' in answer.text
    assert 'name="grade" type="text" value="Li[U+001B]ly"' in answer.text
    shown = html.unescape(answer.text)
    for code in ("RV021", "RV009"):
        assert code not in shown
    assert "The value holds the control character U+0000 at character 3" in shown
    assert not portal.sent_to("POST", "ingest/v1/batches")


def test_a_value_the_door_takes_is_written_back_as_typed() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **{**ENTRY, "given_name": "Siân <b>", "grade": "Nope"}))

    assert answer.status_code == 400
    assert 'name="given_name" type="text" value="Siân &lt;b&gt;"' in answer.text
