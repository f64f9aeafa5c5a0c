""" "Batch file formats" (/help/batch-files): every field of each format as the code that reads batch files defines
it, and a template of each format that the parser ingest uses reads, and that the upload page's check passes once
its placeholders are the AO's own."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from services.portal.tests.unit.stubbed_portal import AO_ID, form, stubbed_portal, with_a_sandpit

from lrs_contracts.batch import BatchFormat, RecordAction, SubmittedRecord
from lrs_domain.formats import HEADER_FIELDS, RECORD_FIELDS, SCHEMA_PATH, parse_batch
from lrs_domain.reference_files import load_catalogue
from lrs_domain.rules import check_mandatory_fields
from lrs_platform.clock import today_in_england
from portal.accounts import Role
from portal.batch_files import (
    LIMITS,
    PLACEHOLDERS,
    REFUSED_FILE_HEADING,
    REFUSED_FILE_MESSAGES,
    header_guide,
    record_guide,
    template,
)
from portal.checking import MEDIA_TYPES, check_upload

DOC = Path(__file__).resolve().parents[4] / "docs" / "batch-files.md"
DEMO_AO = {"awarding_organisation": AO_ID, "notification_email": "results@ao.example", "batch_reference": "JUNE-1"}


def demo_template(fmt: BatchFormat) -> bytes:
    """The template the demo AO downloads: its id in the header, a record of one of its qualifications."""
    return template(fmt, AO_ID, load_catalogue(), today_in_england())


def as_the_demo_aos(content: bytes) -> bytes:
    for attribute, placeholder in PLACEHOLDERS.items():
        content = content.replace(placeholder.encode(), DEMO_AO[attribute].encode())
    return content


def names_in(content: bytes, fmt: BatchFormat) -> set[str]:
    text = content.decode()
    if fmt is BatchFormat.CSV:
        lines = text.splitlines()
        return {*lines[0].split(","), *lines[2].split(",")}
    if fmt is BatchFormat.XML:
        return set(re.findall(r"<([A-Za-z]+)>", text))
    return set(re.findall(r'"([A-Za-z]+)":', text))


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_each_template_is_read_by_ingests_parser_as_one_record_with_its_placeholders(fmt: BatchFormat) -> None:
    parsed = parse_batch(template(fmt), fmt)

    assert len(parsed.records) == 1
    header = parsed.header.model_dump()
    assert {attribute: header[attribute] for attribute in PLACEHOLDERS} == PLACEHOLDERS


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_each_template_names_every_field_the_page_lists(fmt: BatchFormat) -> None:
    listed = [entry.name for entry in (*header_guide(), *record_guide())]
    named = {field.json_key if fmt is BatchFormat.JSON else field.heading for field in listed}

    assert listed == [*HEADER_FIELDS, *RECORD_FIELDS]
    assert named <= names_in(template(fmt), fmt)


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_each_template_passes_the_offline_check_once_its_placeholders_are_the_aos(fmt: BatchFormat) -> None:
    filename = f"batch-template.{fmt.value}"

    checked = check_upload(
        filename, as_the_demo_aos(demo_template(fmt)), MEDIA_TYPES[fmt], load_catalogue(), today_in_england()
    )

    assert checked.refusal is None and checked.report is not None
    assert checked.report.failure is None and checked.ao_id == AO_ID
    assert [outcome.errors + outcome.warnings for outcome in checked.report.outcomes] == [()]


def test_the_required_column_is_what_the_record_rules_reject_a_record_without() -> None:
    required = {entry.name.attribute: entry.required for entry in record_guide()}

    for action in RecordAction:
        missing = {finding.field for finding in check_mandatory_fields(SubmittedRecord(line=1), action)}
        said = {
            attribute
            for attribute, words in required.items()
            if words == "Required for every action" or (words.startswith("Required for") and action.value in words)
        }
        assert said == missing, action
    assert required["grade"] == "Required for Create and Update"
    assert required["action"] == "Optional: empty means Create"


def test_the_header_says_which_fields_the_file_is_refused_without() -> None:
    required = {entry.name.heading: entry.required for entry in header_guide()}

    assert required["AwardingOrganisation"].endswith("(RS001)")
    assert required["NotificationEmail"].endswith("(RS007)")
    assert required["JobType"] == required["BatchReference"] == "Optional"


def test_allowed_values_are_the_xsds_words_where_it_has_them() -> None:
    schema = SCHEMA_PATH.read_text()
    allowed = {entry.name.heading: entry.allowed for entry in (*header_guide(), *record_guide())}

    assert allowed["LanguageForAssessment"] == "English, Welsh or Irish."
    assert allowed["Gender"] in schema and allowed["JobType"] in schema
    assert all(words for words in allowed.values())


def rows_of(page: str, table: str) -> list[list[str]]:
    body = page.split(f'data-table="{table}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"govuk-table__row\" data-field=.*?</tr>", body, re.DOTALL)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td.*?</td>", row)]
        for row in rows
    ]


def test_an_ao_user_sees_every_field_of_every_format_and_the_templates() -> None:
    client, _ = stubbed_portal().signed_in()

    page = client.get("/help/batch-files")

    assert page.status_code == 200
    assert (
        "<title>Batch file formats" in page.text and '<h1 class="govuk-heading-l">Batch file formats</h1>' in page.text
    )
    for table, guide in (("header-fields", header_guide()), ("record-fields", record_guide())):
        expected = [[entry.name.heading, entry.name.json_key, entry.required, entry.allowed] for entry in guide]
        assert rows_of(page.text, table) == expected
    for fmt in BatchFormat:
        assert f'href="/help/batch-files/template.{fmt.value}"' in page.text
        shown = re.search(rf'data-template="{fmt.value}"><code>(.*?)</code>', page.text, re.DOTALL)
        assert shown is not None and html.unescape(shown.group(1)) == demo_template(fmt).decode()


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_template_downloads_as_a_file(fmt: BatchFormat) -> None:
    client, _ = stubbed_portal().signed_in()

    answer = client.get(f"/help/batch-files/template.{fmt.value}")

    assert answer.status_code == 200 and answer.content == demo_template(fmt)
    assert answer.headers["content-disposition"] == f'attachment; filename="batch-template.{fmt.value}"'
    assert answer.headers["content-type"].startswith(MEDIA_TYPES[fmt])


def test_a_downloaded_template_with_the_aos_values_is_checked_and_offered_for_submission() -> None:
    client, person = stubbed_portal().signed_in()
    content = as_the_demo_aos(client.get("/help/batch-files/template.csv").content)

    checked = client.post(
        "/batches/check", data=form(person), files={"batch_file": ("batch-template.csv", content, "text/csv")}
    )

    assert checked.status_code == 200
    assert "The check found nothing that would fail the whole batch." in checked.text
    assert "Submit this batch" in checked.text


def test_there_is_no_template_in_another_format() -> None:
    client, _ = stubbed_portal().signed_in()

    assert client.get("/help/batch-files/template.xlsx").status_code == 404


def test_an_operator_sees_the_page_too() -> None:
    client, _ = stubbed_portal().signed_in(Role.OPERATOR)

    assert client.get("/help/batch-files").status_code == 200


def test_the_page_asks_someone_not_signed_in_to_sign_in() -> None:
    answer = stubbed_portal().client().get("/help/batch-files")

    assert answer.status_code in (302, 303) and "sign-in" in answer.headers["location"]


def test_in_the_sandpit_the_page_and_its_templates_stay_in_the_sandpit(monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = with_a_sandpit(stubbed_portal(), monkeypatch).signed_in()

    page = client.get("/sandpit/help/batch-files")

    assert page.status_code == 200 and 'data-environment="sandpit"' in page.text
    assert 'href="/sandpit/help/batch-files/template.json"' in page.text
    assert client.get("/sandpit/help/batch-files/template.json").content == demo_template(BatchFormat.JSON)


def test_the_upload_page_links_to_the_formats() -> None:
    client, _ = stubbed_portal().signed_in()

    upload = client.get("/batches/new")

    assert 'href="/help/batch-files">Batch file formats</a>' in upload.text


def test_a_refused_file_links_to_the_formats() -> None:
    client, person = stubbed_portal().signed_in()

    checked = client.post(
        "/batches/check", data=form(person), files={"batch_file": ("batch.csv", b"Uln,Grade\r\n1,2\r\n", "text/csv")}
    )

    assert "The whole file would be refused: RS001" in checked.text
    assert (
        'data-format-help>Every field of each format, and templates: <a class="govuk-link" href="/help/batch-files">'
        in checked.text
    )


def test_the_page_says_headings_are_case_sensitive_and_learners_names_are_not() -> None:
    client, _ = stubbed_portal().signed_in()

    page = html.unescape(client.get("/help/batch-files").text)

    assert LIMITS in page and "Names are case-sensitive" not in page
    assert "CSV headings, XML element names and JSON keys are case-sensitive; learners' names are not" in page


def section_of(page: str, heading_id: str) -> str:
    """What follows the heading `heading_id`, to the next heading."""
    return page.split(f'id="{heading_id}">', 1)[1].split("</h2>", 1)[1].split("<h2", 1)[0]


def test_the_page_says_what_a_refused_files_message_says_as_the_docs_do() -> None:
    client, _ = stubbed_portal().signed_in()

    page = client.get("/help/batch-files").text

    heading = re.search(r'<h2 class="govuk-heading-m" id="refused">(.*?)</h2>', page)
    assert heading is not None and html.unescape(heading.group(1)) == REFUSED_FILE_HEADING
    shown = section_of(page, "refused")
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", "", shown)).split())
    assert words == " ".join(REFUSED_FILE_MESSAGES.replace("**", "").replace("`", "").replace("\n- ", " ").split())
    assert "<strong>CSV saved by a spreadsheet.</strong>" in shown and shown.count(
        "<li>"
    ) == REFUSED_FILE_MESSAGES.count("\n- ")
    assert "<code>&lt;Uln&gt;</code>" in shown and "<Uln>" not in shown  # the Markdown's code is text on the page


def test_the_docs_say_what_a_refused_files_message_says_in_the_pages_words() -> None:
    assert f"\n## {REFUSED_FILE_HEADING}\n\n{REFUSED_FILE_MESSAGES}\n\n" in DOC.read_text(encoding="utf-8")
