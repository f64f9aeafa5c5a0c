"""What a spreadsheet does to a CSV batch is said so that following the message literally mends the file (the
spreadsheet walk, F1, F2, F7, F11, F12): how many commas of a padded line to delete; that an empty last value keeps
its comma; a value typed right of the table; a second file's header; lines pasted into one column."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.formats.batch_documents import CSV_HEADER_NAMES_ROW, CSV_RECORD_HEADINGS_ROW

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
HEADER_VALUES_ROW_NO_DATE = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,"
RECORD_ROW = "Create,CAND-1,1000000043,Alex,Smith,2006-04-01,1,601/4491/X,,2024-08-22,Pass,10001234,English,"
KEEPS_ITS_COMMA = "(a line keeps the comma before an empty last value)"


def _refusal(*lines: str) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"), BatchFormat.CSV)
    assert refused.value.code is BatchCode.MALFORMED
    return refused.value


def test_the_padding_message_says_how_many_commas_and_that_an_empty_last_value_keeps_its_comma() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW + "," * 8, HEADER_VALUES_ROW_NO_DATE + "," * 8, CSV_RECORD_HEADINGS_ROW, RECORD_ROW
    )

    assert refusal.line == 1
    assert refusal.detail.endswith(f"in a text editor, delete the last 8 commas of lines 1 and 2 {KEEPS_ITS_COMMA}")


def test_doing_what_the_padding_message_says_is_accepted() -> None:
    """Deleting the last 8 commas of each line, as said, keeps line 2's empty ResultsIssuedDate."""
    names, values = CSV_HEADER_NAMES_ROW + "," * 8, HEADER_VALUES_ROW_NO_DATE + "," * 8

    batch = parse_batch(
        ("\r\n".join([names[:-8], values[:-8], CSV_RECORD_HEADINGS_ROW, RECORD_ROW]) + "\r\n").encode(),
        BatchFormat.CSV,
    )

    assert batch.header.results_issued_date is None and len(batch.records) == 1


def test_rows_padded_by_different_widths_are_told_each_count() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW + "," * 10,
        HEADER_VALUES_ROW + "," * 10,
        CSV_RECORD_HEADINGS_ROW + ",,",
        RECORD_ROW + ",,",
        RECORD_ROW.replace("CAND-1", "CAND-2") + ",,",
    )

    assert refusal.detail.endswith(
        f"delete the last 10 commas of lines 1 and 2, and the last 2 commas of lines 3-5 {KEEPS_ITS_COMMA}"
    )


@pytest.mark.parametrize("values_row", [HEADER_VALUES_ROW, HEADER_VALUES_ROW_NO_DATE], ids=["dated", "date-empty"])
def test_a_header_values_row_padded_under_a_mended_names_row_is_told_it_is_padded(values_row: str) -> None:
    """Line 1 mended first, as the message allows: line 2, 14 fields with the last 8 empty, is still padding (F11)."""
    refusal = _refusal(CSV_HEADER_NAMES_ROW, values_row + "," * 8, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)

    assert refusal.line == 2
    assert refusal.detail.startswith("the header values row has 14 fields, the last 8 empty: a spreadsheet pads")
    assert refusal.detail.endswith(f"delete the last 8 commas of line 2 {KEEPS_ITS_COMMA}")


def test_a_header_values_row_that_lost_the_comma_of_its_empty_last_value_says_it_needs_it() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW_NO_DATE[:-1], CSV_RECORD_HEADINGS_ROW, RECORD_ROW)

    assert (refusal.line, refusal.detail) == (
        2,
        "the header values row has 5 fields; 6 are expected: it ends after BatchReference. An empty value at the end"
        " of a row still needs its comma: a row whose ResultsIssuedDate is empty ends in ','",
    )


def test_a_record_that_lost_the_comma_of_its_empty_credits_says_it_needs_it() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW[:-1])

    assert (refusal.line, refusal.detail) == (
        4,
        "the record has 13 fields; 14 are expected: it ends after LanguageForAssessment. An empty value at the end of"
        " a row still needs its comma: a row whose Credits is empty ends in ','",
    )


def test_a_record_short_of_a_field_in_its_middle_is_not_told_of_its_end() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW.replace("Alex,", "", 1)
    )

    assert refusal.detail == "the record has 13 fields; 14 are expected"


def test_a_value_right_of_the_last_heading_is_named_by_its_field_and_not_said_back() -> None:
    noted = RECORD_ROW.replace("CAND-1", "CAND-2") + ",resit in Nov"
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW, noted)

    assert (refusal.line, refusal.detail) == (
        5,
        "the record has 15 fields; 14 are expected: field 15, right of Credits, holds a value: delete that column in"
        " the spreadsheet, or the value",
    )


def test_a_stray_comma_inside_a_record_is_still_a_comma_too_many() -> None:
    stray = RECORD_ROW.replace("Alex,", "Alex,Jo,", 1)[:-1] + ",10"
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW, stray)

    assert refusal.detail.endswith("a value holds a comma that is not in quotes, or there is a comma too many")


def test_a_second_files_header_among_the_records_says_two_files_were_joined() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW,
        HEADER_VALUES_ROW,
        CSV_RECORD_HEADINGS_ROW,
        RECORD_ROW,
        "\ufeff" + CSV_HEADER_NAMES_ROW,
        HEADER_VALUES_ROW,
        CSV_RECORD_HEADINGS_ROW,
        RECORD_ROW.replace("CAND-1", "CAND-2"),
    )

    assert (refusal.line, refusal.detail) == (
        5,
        "the record has 6 fields; 14 are expected: line 5 holds the header names again, as when two files are joined:"
        " a batch has one header; delete lines 5-7 (and the invisible byte order mark at the start of line 5)",
    )


def test_lines_pasted_into_one_column_are_told_to_be_split_with_text_to_columns() -> None:
    quoted_lines = [f'"{line}"' for line in (CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW)]
    refusal = _refusal(*quoted_lines, f'"{RECORD_ROW}"')

    assert (refusal.line, refusal.detail) == (
        1,
        "the header names row has 1 field; 6 are expected: each line of the file is in one cell, as when lines are"
        " pasted into a spreadsheet without being split; in Excel select column A, then Data > Text to Columns >"
        " Delimited > Comma, and save the file again",
    )


def test_a_title_in_one_cell_above_the_headings_is_not_said_to_be_pasted_lines() -> None:
    refusal = _refusal('"Summer results, 2026"', CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW)

    assert "Text to Columns" not in refusal.detail
