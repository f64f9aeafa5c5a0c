"""Files as an exams officer's office software writes them, checked in the portal (office walk, findings 1 to 3):
Notepad's "Unicode" (UTF-16) saved under its own name, `results.txt`, is told it is UTF-16, as ingest tells it, not
that it is no batch file; a spreadsheet workbook uploaded for the CSV saved from it (.xlsx, .xls, whatever the browser
calls it) is told it is a workbook and how to save the CSV, not that it is "malformed"; and the template's example
record left in a file under the officer's own records is warned of, naming its line and masked ULN."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
from services.portal.tests.unit.test_batch_files_help import as_the_demo_aos, demo_template
from services.portal.tests.unit.test_file_check_field_names import _checked

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import parse_batch
from lrs_domain.formats.json_batch import TEMPLATE_EXAMPLE_MIS_IDENTIFIER
from lrs_domain.reference_files import load_catalogue
from portal.checking import MEDIA_TYPES, check_upload

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
ZIP_START = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"  # every .xlsx, .ods and .numbers is a ZIP archive
OLE_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003's .xls
SAVE_AS_CSV = (
    "open it in the spreadsheet and save it as CSV (in Excel, File &gt; Save As &gt; &#39;CSV UTF-8 (Comma"
    " delimited)&#39;), then submit the .csv file"
)


def _refusal(page: str) -> str:
    found = re.search(r'<div class="govuk-error-summary__body">\s*<p class="govuk-body">(.*?)</p>', page, re.DOTALL)
    assert found is not None, "the whole file is refused"
    return " ".join(found.group(1).split())


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
def test_notepads_unicode_txt_is_told_it_is_utf16_not_that_it_is_no_batch_file(content_type: str) -> None:
    content = (SAMPLES / "sample-100.csv").read_text(encoding="utf-8").encode("utf-16")  # little-endian, with a BOM

    page = _checked("results.txt", content, content_type)

    assert "The whole file would be refused: RS001" in page
    said = _refusal(page)
    assert "UTF-16, not UTF-8: save it as UTF-8" in said, said
    assert "not a batch file" not in said


@pytest.mark.parametrize(
    ("filename", "content", "content_type", "kind"),
    [
        (
            "results.xlsx",
            ZIP_START + b"\x00" * 40,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
        ),
        ("results.ods", ZIP_START + b"\x00" * 40, "application/vnd.oasis.opendocument.spreadsheet", ".ods"),
        # Windows names an .xls as it names a .csv: the type alone would read it as CSV
        ("results.xls", OLE_START + b"\x00" * 40, "application/vnd.ms-excel", ".xls"),
        # renamed .csv, as the old message told: still a workbook
        ("results.csv", ZIP_START + b"\x00" * 40, "text/csv", ".xlsx, .ods or .numbers"),
    ],
)
def test_a_spreadsheet_workbook_is_told_so_and_how_to_save_it_as_csv(
    filename: str, content: bytes, content_type: str, kind: str
) -> None:
    page = _checked(filename, content, content_type)

    assert "The whole file would be refused: RS001" in page
    said = _refusal(page)
    assert said.startswith(f"The file is a spreadsheet workbook ({kind}), not a batch file: {SAVE_AS_CSV}"), said
    assert "malformed" not in said.lower()
    assert "data-advice" not in page  # RS001's advice, to check the file against its format, is no help with it


def test_a_text_file_of_no_batch_format_is_still_not_a_batch_file() -> None:
    page = _checked("notes.txt", b"some notes, not a batch\r\n", "text/plain")

    assert "not a batch file (CSV, XML or JSON text)" in _refusal(page)


def _example_warning(page: str) -> tuple[str, str] | None:
    found = re.search(
        r'<div class="govuk-warning-text" data-template-example="([^"]*)">.*?>Warning</span>(.*?)</strong>',
        page,
        re.DOTALL,
    )
    return (found.group(1), " ".join(html.unescape(found.group(2)).split())) if found else None


def test_the_templates_example_record_left_above_the_officers_own_is_warned_of_with_its_line_and_masked_uln() -> None:
    template = as_the_demo_aos(demo_template(BatchFormat.CSV)).decode()
    lines = template.splitlines()
    # the officer's own two records under the example, as the office walk's file has them
    own = [
        lines[3].replace(TEMPLATE_EXAMPLE_MIS_IDENTIFIER, f"CAND-00{n}").replace("1000000043", uln)
        for n, uln in ((1, "1277971837"), (2, "2319338550"))
    ]
    content = ("\r\n".join([*lines, *own]) + "\r\n").encode("utf-8-sig")  # Excel's CSV UTF-8

    page = _checked("results.csv", content, "text/csv")

    assert "The check found nothing that would fail the whole batch." in page  # a warning: it can still be sent
    assert "Submit this batch" in page
    warning = _example_warning(page)
    assert warning is not None, "the example record is warned of"
    assert warning == (
        "4",
        "Line 4 (ULN ******0043) is the template's example record (MISIdentifier EXAMPLE-DELETE-ME), not one of your"
        " learners: delete it, then check the file again. Sent, it would be recorded on that learner's record, or"
        " rejected (RV004) and counted towards failing the whole batch (more than 30% rejected, RS005).",
    )


def test_the_example_record_of_a_json_file_is_named_by_its_record_number_and_key() -> None:
    checked = check_upload(
        "batch.json",
        as_the_demo_aos(demo_template(BatchFormat.JSON)),
        MEDIA_TYPES[BatchFormat.JSON],
        load_catalogue(),
        date(2026, 12, 7),
    )

    assert checked.template_example_in == ((1, "1000000043"),)
    assert checked.template_example_warning is not None
    assert checked.template_example_warning.startswith(
        "Record 1 (ULN ******0043) is the template's example record (misIdentifier EXAMPLE-DELETE-ME)"
    )


def test_the_samples_and_the_officers_own_records_are_no_template_example() -> None:
    """The project's sample files hold the OpenAPI example's record (PE-2024-0001), which is no mistake to send."""
    for fmt in BatchFormat:
        content = (SAMPLES / f"sample-100.{fmt.value}").read_bytes()
        checked = check_upload(f"sample-100.{fmt.value}", content, MEDIA_TYPES[fmt], load_catalogue(), date.today())
        assert checked.template_example_in == () and checked.template_example_warning is None, fmt


def test_every_template_holds_the_telling_example_identifier() -> None:
    for fmt in BatchFormat:
        parsed = parse_batch(as_the_demo_aos(demo_template(fmt)), fmt)
        assert [record.mis_identifier for record in parsed.records] == [TEMPLATE_EXAMPLE_MIS_IDENTIFIER]
