"""Refusals that were in the parser's own words say what to change: a CSV quote inside a quoted value that is not
doubled names its line and field; an XML file with anything before `<?xml` says to delete it; a DOCTYPE says to remove
its line. A CSV row one field too wide is said to be padding only when it is padding, else a comma too many."""

import pytest
from libs.domain.tests.unit.formats.batch_documents import (
    CSV_HEADER_NAMES_ROW,
    CSV_RECORD_HEADINGS_ROW,
    HEADER,
    document,
    records,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
RECORD_ROW = "Create,CAND-1,1000000043,Alex,Smith,2006-04-01,1,601/4491/X,,2024-08-22,Pass,10001234,English,"
UNDOUBLED = (
    ' holds a quote (") inside its quoted value that is not doubled: a quote inside a quoted value is written twice'
    ' (""), so double it, or remove it'
)
DECLARATION_NOT_FIRST = (
    "the XML declaration (<?xml ...?>) must come first in the file: delete what comes before '<?xml', blank lines and"
    " spaces included"
)
COMMA_TOO_MANY = "a value holds a comma that is not in quotes, or there is a comma too many"


def _refusal(fmt: BatchFormat, content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, fmt)
    return refused.value


def _csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


# --- a CSV quote not doubled ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "line", "field", "named"),
    [
        (
            (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW.replace("Alex", '"Ev"ie')),
            4,
            4,
            "GivenName (field 4)",
        ),
        (  # a quoted value over two lines before it: the line the quote is on
            (
                CSV_HEADER_NAMES_ROW,
                HEADER_VALUES_ROW,
                CSV_RECORD_HEADINGS_ROW,
                RECORD_ROW,
                "",
                RECORD_ROW.replace("CAND-1", '"CAND\n1"').replace("Smith", '"Smi""th\nJo"nes"'),
            ),
            8,  # the row starts on line 6, CAND's line break and Smith's end on 7 and 8
            5,
            "FamilyName (field 5)",
        ),
        (
            (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW.replace("JUNE-2024-01", '"JUNE "24"'), CSV_RECORD_HEADINGS_ROW),
            2,
            5,
            "BatchReference (field 5)",
        ),
        (
            (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW + ',"x"y'),
            4,
            15,
            "field 15",
        ),
    ],
    ids=["record", "after-a-quoted-line-break", "header-value", "past-the-headings"],
)
def test_a_quote_inside_a_quoted_csv_value_not_doubled_names_its_line_and_field(
    lines: tuple[str, ...], line: int, field: int, named: str
) -> None:
    refusal = _refusal(BatchFormat.CSV, _csv(*lines))

    assert (refusal.code, refusal.line, refusal.column, refusal.detail) == (
        BatchCode.MALFORMED,
        line,
        field,
        named + UNDOUBLED,
    )


# --- XML: what comes before the declaration, a DOCTYPE ----------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "line"),
    [("\n", 2), ("\r\n\r\n", 3), ("   ", 1), ("\ufeff\n", 2), ("<!-- made by the MIS -->", 1)],
    ids=["blank-line", "two-blank-lines", "spaces", "bom-then-blank-line", "comment"],
)
def test_anything_before_the_xml_declaration_is_to_be_deleted(before: str, line: int) -> None:
    content = before.encode() + document(BatchFormat.XML, HEADER, records(2))

    refusal = _refusal(BatchFormat.XML, content)

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, line, DECLARATION_NOT_FIRST)


def test_a_declaration_later_in_the_file_keeps_the_parsers_words() -> None:
    content = document(BatchFormat.XML, HEADER, records(1)).replace(b"<Records>", b'<Records><?xml version="1.0"?>')

    refusal = _refusal(BatchFormat.XML, content)

    assert refusal.detail == "malformed XML: XML or text declaration not at start of entity"


def test_a_doctype_is_to_be_removed() -> None:
    content = document(BatchFormat.XML, HEADER, records(1)).replace(
        b"<AchievementBatch>", b"<!DOCTYPE AchievementBatch>\n<AchievementBatch>", 1
    )

    refusal = _refusal(BatchFormat.XML, content)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 2)
    assert refusal.detail == (
        "a DOCTYPE declaration is not allowed: remove the <!DOCTYPE ...> line (a batch file has no DTD)"
    )


# --- a CSV row too wide: padding, or a comma too many ---------------------------------------------------------


def _record(number: int, **values: str) -> str:
    fields = RECORD_ROW.replace("CAND-1", f"CAND-{number}").split(",")
    for index, value in values.items():
        fields[int(index.removeprefix("f"))] = value
    return ",".join(fields)


def test_one_record_with_a_stray_comma_among_records_of_14_fields_is_a_comma_too_many() -> None:
    stray = _record(12).replace("Create,CAND-12,", "Create,CAND-12,,", 1)  # 15 fields, Credits (the last) empty
    rows = [_record(number) for number in range(1, 12)]

    refusal = _refusal(
        BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, *rows, stray, *rows)
    )

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 15)
    assert refusal.detail == f"the record has 15 fields; 14 are expected: {COMMA_TOO_MANY}"
    assert "pads" not in refusal.detail


def test_a_first_record_with_a_stray_comma_before_records_of_14_fields_is_a_comma_too_many() -> None:
    stray = _record(1).replace("Alex,", "Alex,,", 1)

    refusal = _refusal(
        BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, stray, _record(2))
    )

    assert (refusal.line, refusal.detail) == (4, f"the record has 15 fields; 14 are expected: {COMMA_TOO_MANY}")


def test_a_header_values_row_with_empty_fields_past_the_last_is_said_to_be_padded() -> None:
    """Padded to the record rows' width, as a spreadsheet pads it: whatever line 1 was (walk F11)."""
    refusal = _refusal(
        BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW + "," * 8, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)
    )

    assert refusal.line == 2
    assert refusal.detail.startswith("the header values row has 14 fields, the last 8 empty: a spreadsheet pads")
    assert refusal.detail.endswith(
        "delete the last 8 commas of line 2 (a line keeps the comma before an empty last value)"
    )


@pytest.mark.parametrize(
    "values",
    [
        "1.0,RN5133,Final,results@example.org,Summer, 2026,",
        "1.0,RN5133,Final,results@example.org,Summer series, 2026,2026-08-13",
    ],
    ids=["before an empty date", "before a date"],
)
def test_a_header_values_row_with_a_stray_comma_is_told_so_not_padded_nor_a_note(values: str) -> None:
    """Deleting the last comma, or field 7, as padding or a note would have been told, would shift the date into the
    BatchReference (a review of session 64)."""
    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, values, CSV_RECORD_HEADINGS_ROW, RECORD_ROW))

    assert refusal.line == 2
    assert refusal.detail == (
        "the header values row has 7 fields; 6 are expected: a value holds a comma that is not in quotes, or there is"
        " a comma too many"
    )


def test_a_record_missing_a_comma_in_its_middle_is_not_told_it_ends_early() -> None:
    """The empty Pathway's comma lost: a grade 9 shifted under AwardDate is no date (a review of session 64)."""
    row = "Create,MIS1,1000000043,Ann,Smith,2005-01-02,2,600/1166/X,2024-08-22,9,10012345,,"
    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, row))

    assert refusal.detail == "the record has 13 fields; 14 are expected"


def test_every_record_padded_alike_is_said_to_be_padded() -> None:
    rows = [_record(number) + ",," for number in range(1, 6)]

    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, *rows))

    assert refusal.line == 4
    assert refusal.detail.startswith("the record has 16 fields, the last 2 empty: a spreadsheet pads the shorter rows")


def test_records_padded_unlike_are_a_comma_too_many() -> None:
    rows = [_record(1) + ",,", _record(2) + ","]

    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, *rows))

    assert (refusal.line, refusal.detail) == (4, f"the record has 16 fields; 14 are expected: {COMMA_TOO_MANY}")
