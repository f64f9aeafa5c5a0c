import pytest
from libs.domain.tests.unit.formats.batch_documents import (
    CSV_HEADER_NAMES_ROW,
    CSV_RECORD_HEADINGS_ROW,
    HEADER,
    csv_document,
    record,
    records,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, ParsedBatch, file_field_name, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
RECORD_ROW = "Create,CAND-1,1000000043,Alex,Smith,2006-04-01,1,601/4491/X,,2024-08-22,Pass,10001234,English,"


def _parse(text: str) -> ParsedBatch:
    return parse_batch(text.encode(), BatchFormat.CSV)


def _refusal(content: bytes | str) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content.encode() if isinstance(content, str) else content, BatchFormat.CSV)
    return refused.value


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_a_byte_order_mark_changes_nothing() -> None:
    rows = records(3)

    with_bom = parse_batch(csv_document(HEADER, rows, bom=True), BatchFormat.CSV)
    without_bom = parse_batch(csv_document(HEADER, rows), BatchFormat.CSV)

    assert with_bom == without_bom
    assert with_bom.header.file_version == "1.0"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_any_line_ending_is_read_and_numbered(newline: str) -> None:
    batch = parse_batch(csv_document(HEADER, records(3), newline=newline), BatchFormat.CSV)

    assert [record.line for record in batch.records] == [4, 5, 6]


def test_blank_lines_are_skipped_but_keep_their_line_numbers() -> None:
    batch = _parse(
        _lines(
            "",
            CSV_HEADER_NAMES_ROW,
            HEADER_VALUES_ROW,
            "",
            CSV_RECORD_HEADINGS_ROW,
            RECORD_ROW,
            "",
            "   ",
            ",,,,,,,,,,,,,",
            " , ,",
            RECORD_ROW.replace("CAND-1", "CAND-2"),
        )
        + "\n\n"
    )

    assert [(record.line, record.mis_identifier) for record in batch.records] == [(6, "CAND-1"), (11, "CAND-2")]


def test_values_are_trimmed_and_empty_values_are_none() -> None:
    batch = _parse(
        _lines(
            CSV_HEADER_NAMES_ROW,
            " 1.0 , RN5133 ,  , results@example.org ,,",
            CSV_RECORD_HEADINGS_ROW,
            " Update ,  , 1000000043 ,\tAlex\t, Smith ,,,601/4491/X,   ,2024-08-22, Merit ,,,",
        )
    )

    assert batch.header.awarding_organisation == "RN5133"
    assert batch.header.job_type is None
    assert batch.header.batch_reference is None
    assert batch.records[0].model_dump() == {
        **dict.fromkeys(batch.records[0].model_dump(), None),
        "learner_erased": False,
        "line": 4,
        "action": "Update",
        "uln": "1000000043",
        "given_name": "Alex",
        "family_name": "Smith",
        "qualification_number": "601/4491/X",
        "award_date": "2024-08-22",
        "grade": "Merit",
    }


def test_quoted_values_may_hold_commas_quotes_and_line_breaks_and_lines_count_physical_lines() -> None:
    rows = [
        record(1, family_name="Brown, Jr", given_name='Ann "Annie"'),
        record(2, mis_identifier="two\nlines"),
        record(3),
    ]

    batch = parse_batch(csv_document(HEADER, rows), BatchFormat.CSV)

    assert batch.records[0].family_name == "Brown, Jr"
    assert batch.records[0].given_name == 'Ann "Annie"'
    assert batch.records[1].mis_identifier == "two\nlines"
    assert [record.line for record in batch.records] == [4, 5, 7]


@pytest.mark.parametrize(
    ("rows", "line", "column", "advice"),
    [
        (
            (CSV_HEADER_NAMES_ROW.lower(), HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW),
            1,
            1,
            "header names: expected 'FileVersion', found 'fileversion' (headings are case-sensitive)",
        ),
        (
            (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW.replace("ULN", "Uln")),
            3,
            3,
            "record headings: expected 'ULN', found 'Uln' (headings are case-sensitive)",
        ),
        (
            (CSV_HEADER_NAMES_ROW.replace("JobType", " JobType "), HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW),
            1,
            3,
            "header names: expected 'JobType', found ' JobType ': remove the spaces around it",
        ),
        (
            (CSV_HEADER_NAMES_ROW.replace("JobType", "Job Type"), HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW),
            1,
            3,
            "header names: expected 'JobType', found 'Job Type': remove the spaces in it",
        ),
        (
            (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW.replace("CentreUKPRN", "UKPRN")),
            3,
            12,
            "record headings: expected 'CentreUKPRN', found 'UKPRN'",
        ),
        (
            (
                CSV_HEADER_NAMES_ROW,
                HEADER_VALUES_ROW,
                CSV_RECORD_HEADINGS_ROW.replace("GivenName,FamilyName", "FamilyName,GivenName"),
            ),
            3,
            4,
            "record headings: expected 'GivenName', found 'FamilyName': the headings are in the wrong order, which is"
            f" {CSV_RECORD_HEADINGS_ROW}",
        ),
    ],
)
def test_wrong_headings_are_malformed_with_line_and_column_and_say_what_differs(
    rows: tuple[str, ...], line: int, column: int, advice: str
) -> None:
    refusal = _refusal(_lines(*rows, RECORD_ROW))

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, line, column)
    assert refusal.detail == advice


def test_a_file_saved_with_a_second_byte_order_mark_says_so() -> None:
    """One byte order mark is read as one; a program that adds one to a file that has one leaves a second, which
    reads as an invisible character at the start of the first heading: said as XML and JSON say it."""
    content = b"\xef\xbb\xbf" + csv_document(HEADER, records(1), bom=True)

    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 1, 1)
    assert refusal.detail == (
        "the file starts with a second byte order mark (an invisible character): save it as UTF-8 once"
    )


@pytest.mark.parametrize("separator_line", ["sep=,", "sep=;", '"sep=,"'])
def test_a_separator_line_that_excel_adds_is_named_with_what_to_do(separator_line: str) -> None:
    refusal = _refusal(
        _lines(separator_line, CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)
    )

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert "which Excel adds to name the file's separator, is no part of a batch" in refusal.detail
    assert refusal.detail.endswith("delete it, so that the header names row comes first")


def test_rows_a_spreadsheet_padded_with_empty_fields_say_so_and_how_to_mend_them() -> None:
    """Excel and Google Sheets save every row as wide as the widest: the six header names get eight empty fields."""
    padding = "," * (len(CSV_RECORD_HEADINGS_ROW.split(",")) - len(CSV_HEADER_NAMES_ROW.split(",")))
    refusal = _refusal(
        _lines(CSV_HEADER_NAMES_ROW + padding, HEADER_VALUES_ROW + padding, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)
    )

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert refusal.detail == (
        "the header names row has 14 fields, the last 8 empty: a spreadsheet pads the shorter rows with empty fields"
        " when it saves rows of different lengths (the header rows have 6 fields, the record rows 14); in a text"
        " editor, delete the last 8 commas of lines 1 and 2 (a line keeps the comma before an empty last value)"
    )


def test_a_record_row_with_empty_fields_after_the_last_is_said_to_be_padded() -> None:
    refusal = _refusal(_lines(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW + ", ,"))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 4)
    assert refusal.detail.startswith("the record has 16 fields, the last 2 empty: a spreadsheet pads")


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        ((CSV_HEADER_NAMES_ROW + ",Extra", HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW), 1),
        ((CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW + ",", CSV_RECORD_HEADINGS_ROW, RECORD_ROW), 2),
        ((CSV_HEADER_NAMES_ROW, "1.0,RN5133", CSV_RECORD_HEADINGS_ROW, RECORD_ROW), 2),
        ((CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW, RECORD_ROW + ","), 5),
        ((CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW, "", "Create,CAND-9"), 6),
    ],
)
def test_a_row_with_the_wrong_number_of_fields_is_malformed_with_its_line(rows: tuple[str, ...], line: int) -> None:
    refusal = _refusal(_lines(*rows))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, line)
    assert "fields" in refusal.detail


@pytest.mark.parametrize(("separator", "named"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_saved_with_another_separator_says_so_and_how_to_save_it(separator: str, named: str) -> None:
    """A spreadsheet set to a locale whose list separator is not the comma saves "CSV" with semicolons."""
    rows = (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)
    refusal = _refusal(_lines(*(row.replace(",", separator) for row in rows)))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert refusal.detail.startswith(
        f"the header names row has 1 field; 6 are expected: its fields seem to be separated by {named}, and a batch's"
        " by commas. Excel writes your computer's list separator: in Excel, untick File > Options > Advanced > 'Use"
        " system separators'"
    )
    assert "in LibreOffice, tick 'Edit filter settings' when saving and choose ',' as the field delimiter" in (
        refusal.detail
    )


def test_a_file_whose_line_breaks_were_stripped_says_so_and_how_to_send_it() -> None:
    """`curl -d @batch.csv` drops the file's line breaks: each row runs on where the one before ends."""
    stripped = "".join((CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW))
    refusal = _refusal(stripped)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert refusal.detail.startswith("the header names row has ")
    assert refusal.detail.endswith(
        ": the rows after the headings run on in the same line, as when the line breaks were stripped"
        " (`curl -d @file` strips them: send the file with `--data-binary @file`)"
    )


def test_a_headings_row_with_a_field_too_many_is_counted_and_named_without_other_advice() -> None:
    refusal = _refusal(_lines(CSV_HEADER_NAMES_ROW + ",Extra", HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW))

    assert refusal.detail == (
        f"the header names row has 7 fields; 6 are expected: 'Extra' is not a heading; the header names are, in this"
        f" order, {CSV_HEADER_NAMES_ROW}"
    )


def test_a_one_field_row_with_no_other_separator_is_only_counted() -> None:
    refusal = _refusal(_lines(CSV_HEADER_NAMES_ROW, "1.0", CSV_RECORD_HEADINGS_ROW, RECORD_ROW))

    assert refusal.detail == "the header values row has 1 field; 6 are expected"


def test_a_byte_that_is_not_utf8_is_malformed_with_its_line_and_field() -> None:
    content = _lines(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW, RECORD_ROW).encode()
    latin1 = content.replace(b"Smith", b"Sm\xeftt", 1)

    refusal = _refusal(latin1)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 4, 5)
    assert refusal.detail.startswith("byte 0xEF is not UTF-8: save the file as CSV UTF-8")


@pytest.mark.parametrize(("encoding", "named"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_or_utf32_is_not_utf8_and_is_named(encoding: str, named: str) -> None:
    content = _lines(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW).encode(encoding)

    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 1, 1)
    assert refusal.detail.startswith(f"the file is {named}, not UTF-8: save the file as CSV UTF-8")


@pytest.mark.parametrize(
    "text",
    [
        _lines(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, 'Create,"CAND-1,1000000043'),
        _lines(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, 'Create,"CAND"-1,' + "," * 12),
    ],
)
def test_broken_quoting_is_malformed(text: str) -> None:
    refusal = _refusal(text)

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.line == 4


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("", "header names"),
        ("\n\n  \n", "header names"),
        (_lines(CSV_HEADER_NAMES_ROW), "header values"),
    ],
)
def test_a_file_that_ends_before_its_record_headings_is_malformed(text: str, missing: str) -> None:
    refusal = _refusal(text)

    assert refusal.code is BatchCode.MALFORMED
    assert missing in refusal.detail


def test_header_rows_and_headings_without_records_is_rs006() -> None:
    assert _refusal(_lines(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, "", " ")).code is (
        BatchCode.NO_RECORDS
    )


@pytest.mark.parametrize("line_break", [b"\r\n", b"\n", b"\r"])
def test_a_byte_that_is_not_utf8_is_refused_with_its_line_and_field_whatever_the_line_breaks(
    line_break: bytes,
) -> None:
    """Found by the fuzz run: with lone-CR line breaks, pointing at the bad byte used to crash (500)."""
    header = b"FileVersion,AwardingOrganisation,JobType"
    content = line_break.join([header, b"1.0,RN5196,Final", b"ULN,GivenName", b"1234567890,Li\xedly"])
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, BatchFormat.CSV)
    assert (refused.value.code, refused.value.line, refused.value.column) == (BatchCode.MALFORMED, 4, 2)


def test_a_field_is_named_as_the_file_of_its_format_names_it() -> None:
    assert file_field_name(BatchFormat.CSV, "award_date") == "AwardDate"
    assert file_field_name(BatchFormat.XML, "notification_email") == "NotificationEmail"
    assert file_field_name(BatchFormat.JSON, "given_name") == "givenName"
    assert file_field_name(BatchFormat.CSV, "no_such_field") is None
    assert file_field_name(BatchFormat.CSV, None) is None
