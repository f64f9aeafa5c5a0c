"""Words AO staff meet around a batch file: the help page's advice on a CSV saved by a spreadsheet and on the
template's other header fields; the check page on a header still holding the template's placeholders (its AO id
refuses the batch as another AO's, its email would tell no one: a warning, as the API accepts it); the results CSV's
columns; a record that changed nothing; and the generic RS001 advice as the portal says it."""

from __future__ import annotations

import html
from typing import Any

import pytest
from services.portal.tests.unit.stubbed_portal import AO_ID, form, stubbed_portal
from services.portal.tests.unit.test_batch_files_help import DEMO_AO, as_the_demo_aos, demo_template
from services.portal.tests.unit.test_batch_pages import BATCH_ID, batch, batch_page, page

from lrs_contracts.batch import BatchFormat
from portal.batch_files import PLACEHOLDERS, template
from portal.explanations import explain

EMAIL_LEFT = "You left the template's placeholder email in the file's header"


def _checked(content: bytes, name: str = "batch.csv", media_type: str = "text/csv") -> str:
    client, person = stubbed_portal().signed_in()
    answer = client.post("/batches/check", data=form(person), files={"batch_file": (name, content, media_type)})
    assert answer.status_code == 200, answer.text
    shown: str = answer.text
    return shown


def test_the_help_page_tells_staff_what_a_spreadsheet_does_to_a_csv_file() -> None:
    client, _ = stubbed_portal().signed_in()

    shown = client.get("/help/batch-files").text

    csv_section = shown.split('id="csv"', 1)[1].split('id="xml"', 1)[0]
    assert "saved by a spreadsheet" in csv_section and "Start from" in csv_section
    assert "delete the commas" in csv_section and "text editor" in csv_section
    assert "CSV UTF-8 (Comma delimited)" in csv_section and 'href="/batches/new"' in csv_section


def test_the_check_of_a_csv_file_a_spreadsheet_padded_names_every_padded_line() -> None:
    """Excel pads the two header lines to the records' 14 fields: mending line 1 alone would be refused again."""
    names, values, *rest = as_the_demo_aos(demo_template(BatchFormat.CSV)).decode().splitlines()
    padded = "\r\n".join([names + "," * 8, values + "," * 8, *rest]) + "\r\n"

    shown = html.unescape(_checked(padded.encode()))

    assert "The whole file would be refused: RS001" in shown
    assert "the header names row has 14 fields, the last 8 empty" in shown
    assert (
        "delete the last 8 commas of lines 1 and 2 (a line keeps the comma before an empty last value) (line 1)."
        in shown
    )


def test_the_template_instructions_name_the_results_issued_date_and_job_type() -> None:
    client, _ = stubbed_portal().signed_in()

    shown = client.get("/help/batch-files").text

    templates = shown.split(">Templates</h2>", 1)[1].split("data-templates", 1)[0]
    assert "<code>ResultsIssuedDate</code>" in templates
    assert "to the day the results were issued to learners" in templates
    assert "<code>JobType</code> to Provisional or Final" in templates


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [(BatchFormat.CSV, "text/csv"), (BatchFormat.XML, "application/xml"), (BatchFormat.JSON, "application/json")],
)
def test_a_header_still_holding_the_placeholder_email_is_warned_of_and_may_still_be_submitted(
    fmt: BatchFormat, media_type: str
) -> None:
    content = demo_template(fmt)
    for attribute in ("awarding_organisation", "batch_reference"):
        content = content.replace(PLACEHOLDERS[attribute].encode(), DEMO_AO[attribute].encode())

    shown = _checked(content, f"batch.{fmt.value}", media_type)

    assert EMAIL_LEFT in shown and 'data-placeholder-left="notification_email"' in shown
    assert PLACEHOLDERS["notification_email"] in shown
    assert "The check found nothing that would fail the whole batch." in shown and "Submit this batch" in shown


REFERENCE_LEFT = "You left the template's placeholder batch reference in the file's header"
# the line of the template's header field holding each placeholder, as a text editor numbers it
TEMPLATE_LINES = {
    BatchFormat.CSV: {"notification_email": 2, "batch_reference": 2},
    BatchFormat.XML: {"notification_email": 7, "batch_reference": 8},
    BatchFormat.JSON: {"notification_email": 6, "batch_reference": 7},
}


def _but(content: bytes, *left: str) -> bytes:
    """`content` with every placeholder the demo AO's own, but those of the fields `left`."""
    for attribute, placeholder in PLACEHOLDERS.items():
        if attribute not in left:
            content = content.replace(placeholder.encode(), DEMO_AO[attribute].encode())
    return content


@pytest.mark.parametrize(
    ("fmt", "media_type", "named"),
    [
        (BatchFormat.CSV, "text/csv", "BatchReference"),
        (BatchFormat.XML, "application/xml", "BatchReference"),
        (BatchFormat.JSON, "application/json", "batchReference"),
    ],
)
def test_a_header_still_holding_the_placeholder_batch_reference_is_warned_of_with_its_field_and_line(
    fmt: BatchFormat, media_type: str, named: str
) -> None:
    shown = _checked(_but(demo_template(fmt), "batch_reference"), f"batch.{fmt.value}", media_type)

    line = TEMPLATE_LINES[fmt]["batch_reference"]
    assert REFERENCE_LEFT in shown and 'data-placeholder-left="batch_reference"' in shown
    assert f"the {named} on line {line} is YOUR-BATCH-REFERENCE" in shown
    assert "Put your own name for the batch there, then check the file again." in shown
    assert EMAIL_LEFT not in shown  # only what was left is warned of
    assert "The check found nothing that would fail the whole batch." in shown and "Submit this batch" in shown


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [(BatchFormat.CSV, "text/csv"), (BatchFormat.XML, "application/xml"), (BatchFormat.JSON, "application/json")],
)
def test_the_placeholder_email_is_named_with_its_line_too(fmt: BatchFormat, media_type: str) -> None:
    shown = _checked(_but(demo_template(fmt), "notification_email"), f"batch.{fmt.value}", media_type)

    named = "notificationEmail" if fmt is BatchFormat.JSON else "NotificationEmail"
    line = TEMPLATE_LINES[fmt]["notification_email"]
    assert f"the {named} on line {line} is results@your-organisation.example" in shown
    assert REFERENCE_LEFT not in shown


def test_the_placeholder_reference_in_any_case_is_warned_of_on_the_line_the_file_has_it() -> None:
    """Blank lines before the header are skipped but keep their numbers: the header values are on line 4 here."""
    content = b"\r\n\r\n" + _but(demo_template(BatchFormat.CSV), "batch_reference").replace(
        b"YOUR-BATCH-REFERENCE", b"your-batch-reference"
    )

    shown = _checked(content)

    assert REFERENCE_LEFT in shown and "the BatchReference on line 4 is YOUR-BATCH-REFERENCE" in shown


def test_a_placeholder_the_file_writes_as_an_escape_is_warned_of_by_its_field_alone() -> None:
    content = _but(demo_template(BatchFormat.JSON), "batch_reference").replace(b"YOUR-BATCH", b"YOUR\\u002dBATCH")

    shown = _checked(content, "batch.json", "application/json")

    assert REFERENCE_LEFT in shown and "the batchReference is YOUR-BATCH-REFERENCE" in shown


def test_a_reference_that_holds_more_than_the_placeholder_is_not_warned_of() -> None:
    content = _but(demo_template(BatchFormat.CSV)).replace(b"JUNE-1", b"YOUR-BATCH-REFERENCE 2")

    shown = _checked(content)

    assert REFERENCE_LEFT not in shown and 'data-placeholder-left="batch_reference"' not in shown


def test_a_header_with_its_own_email_has_no_placeholder_warning() -> None:
    shown = _checked(as_the_demo_aos(demo_template(BatchFormat.CSV)))

    assert "data-placeholder-left" not in shown and "placeholder" not in shown


def test_the_templates_ao_id_left_in_says_so() -> None:
    shown = _checked(template(BatchFormat.CSV))

    assert "This batch is for another awarding organisation, YOUR-AO-ID" in shown
    assert "You left the template's placeholder in the file's header." in shown
    assert f"must be {AO_ID}" in shown
    assert EMAIL_LEFT in shown and REFERENCE_LEFT in shown  # the email and the reference are the template's too


def test_another_aos_id_is_not_called_a_placeholder() -> None:
    shown = _checked(template(BatchFormat.CSV).replace(b"YOUR-AO-ID", b"RN9001"))

    assert "This batch is for another awarding organisation, RN9001" in shown
    assert 'data-placeholder-left="awarding_organisation"' not in shown


def test_the_batch_page_explains_the_results_csvs_columns() -> None:
    counts = {"total": 3, "accepted": 1, "rejected": 1, "warnings": 0, "no_ops": 1}
    shown = batch_page(batch(status="completed", counts=counts, failure_reason=None))

    after_link = shown.split("Download every record's result as CSV", 1)[1]
    columns = after_link.split("</details>", 1)[0]
    for word in ("<code>accepted</code>", "<code>rejected</code>", "<code>no_op</code>", "<code>PLRChanged</code>"):
        assert word in columns
    assert "<code>Y</code> when the record changed the learner's record" in columns
    assert "already on the learner's record as sent" in columns


def _record_page(status: str) -> str:
    record: dict[str, Any] = {
        "line": 4,
        "mis_identifier": "PE-1",
        "action": "Create",
        "uln_masked": "******0043",
        "status": status,
        "errors": [],
        "warnings": [],
        "achievement_id": "64814f86-c0bc-510a-b751-e27ccb775acd",
        "plr_changed": False,
    }
    return page("record.html", batch=batch(status="completed", batch_id=BATCH_ID), record=record, direct_entry=False)


def test_a_record_that_changed_nothing_says_it_was_already_on_the_record_as_sent() -> None:
    assert "Already on the learner's record as sent: nothing changed." in _record_page("no_op")
    assert "Already on the learner" not in _record_page("accepted")


def test_the_generic_rs001_advice_prints_no_path_and_says_line_or_record() -> None:
    advice = explain("RS001")

    assert "/help/" not in advice.advice and "Batch file formats page lists every heading" in advice.advice
    assert "The line or record in the message points at the first fault." in advice.advice_at(1, None)
    assert "The line and column in the message point at the first fault." in advice.advice_at(1, 2)
