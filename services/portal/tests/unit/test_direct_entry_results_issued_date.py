"""Direct entry: an optional "Date the results were issued to the learner", put into the one-record batch's header as a
file's ResultsIssuedDate, so that timeliness MI measures the entry as it measures the same record sent in a file (it
left every direct entry out: parity walk, finding 8). The date is judged by the header's own check (`header_from`),
in its words and with its code (RS001: yyyy-mm-dd, a day the calendar has, not before 1 September 2006, not too far
ahead), the date named as the form names it; left empty, the entry is sent as before, with no date."""

from __future__ import annotations

import html
import json
from datetime import date, timedelta
from typing import Any

import pytest
from services.portal.tests.unit.stubbed_portal import AO_ID, form, stubbed_portal
from services.portal.tests.unit.test_direct_entry_sent_from_another_form import ENTRY, Ingest, text_of, with_ingest

from lrs_domain.formats import BatchRefused
from lrs_domain.formats.limits import header_from
from lrs_platform.clock import today_in_england
from portal.direct_entry import entry_batch, read_entry

TODAY = date(2026, 12, 7)


def _sent_header(**values: str) -> dict[str, Any]:
    """The header of the one file the form sent ingest for the entry with `values`."""
    portal = with_ingest(Ingest())
    client, person = portal.signed_in()
    answer = client.post("/direct-entry", data=form(person, **ENTRY, **values))
    assert answer.status_code == 303, answer.text
    (sent,) = portal.sent_to("POST", "ingest/v1/batches")
    header: dict[str, Any] = json.loads(sent.content)["header"]
    return header


def test_the_date_typed_goes_into_the_batchs_header_as_a_files_results_issued_date() -> None:
    assert _sent_header(results_issued_date=" 2024-08-22 ")["resultsIssuedDate"] == "2024-08-22"


def test_left_empty_the_entry_is_sent_as_before_without_one() -> None:
    assert "resultsIssuedDate" not in _sent_header(results_issued_date="")
    assert "resultsIssuedDate" not in _sent_header()  # a form of the release before, or a script's


def test_today_is_taken() -> None:
    today = today_in_england().isoformat()

    assert _sent_header(results_issued_date=today)["resultsIssuedDate"] == today


def _header_check_says(typed: str, today: date) -> str:
    """What the header's own check says of a ResultsIssuedDate, after "ResultsIssuedDate '<typed>' "."""
    with pytest.raises(BatchRefused) as refused:
        header_from(
            {"awarding_organisation": AO_ID, "notification_email": "results@ao.example", "results_issued_date": typed},
            received_on=today,
        )
    assert refused.value.code.value == "RS001"
    return refused.value.detail.removeprefix(f"ResultsIssuedDate {typed!r} ")


FAR_AHEAD = (TODAY + timedelta(days=3 * 366)).isoformat()  # a slip of the year: refused, however far ahead is allowed


def test_a_date_too_far_ahead_is_told_in_the_header_checks_own_words() -> None:
    entry = read_entry({**ENTRY, "results_issued_date": FAR_AHEAD}, today=TODAY)

    said = _header_check_says(FAR_AHEAD, TODAY)
    assert entry.header_errors == {"results_issued_date": f"RS001: Date the results were issued {said}."}
    assert "ResultsIssuedDate" not in entry.header_errors["results_issued_date"]  # named as the form names it


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        (
            "22/08/2024",
            "RS001: Date the results were issued is not a date written yyyy-mm-dd: write it as 2024-08-22"
            " (22 August 2024).",
        ),
        ("2024-02-30", "RS001: Date the results were issued is written yyyy-mm-dd, but the calendar has no such day."),
        (
            "2006-08-31",
            "RS001: Date the results were issued is before 1 September 2006: no result on a PLR was issued before then.",
        ),
    ],
)
def test_a_date_a_files_header_could_not_hold_is_told_in_the_headers_words(typed: str, said: str) -> None:
    entry = read_entry({**ENTRY, "results_issued_date": typed}, today=TODAY)

    assert entry.header_errors == {"results_issued_date": said}
    assert entry_batch(entry, AO_ID, "check").header.results_issued_date is None  # never into a header


def test_a_refused_date_is_told_as_it_is_typed_and_on_the_form_sent_and_nothing_is_sent() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()
    today = today_in_england()
    far_ahead = (today + timedelta(days=3 * 366)).isoformat()
    said = f"RS001: Date the results were issued {_header_check_says(far_ahead, today)}."

    checked = client.post("/direct-entry/check", data=form(person, **ENTRY, results_issued_date=far_ahead))
    sent = client.post("/direct-entry", data=form(person, **ENTRY, results_issued_date=far_ahead))

    assert checked.status_code == 200
    assert checked.json()["errors"]["results_issued_date"] == said
    assert sent.status_code == 400
    assert said in html.unescape(sent.text)
    assert f'value="{far_ahead}"' in sent.text  # kept in its field, to correct
    assert not portal.sent_to("POST", "ingest/v1/batches")


def test_the_form_asks_for_the_date_and_says_what_it_is_for() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()

    page = client.get("/direct-entry")

    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Date the results were issued to the learner (optional)" in shown
    assert (
        "yyyy-mm-dd. MI measures from this date how soon the result reaches the learner's record; left empty, this"
        " entry is not measured" in shown
    )
    assert 'name="results_issued_date"' in page.text
    # after the award date, before the grade: where the error summary's order puts it too
    assert page.text.index('name="award_date"') < page.text.index('name="results_issued_date"')
    assert page.text.index('name="results_issued_date"') < page.text.index('name="grade"')
