"""A CSV file a spreadsheet padded is refused at its first padded line, and the message names every padded line, so
that deleting the commas at the end of the line it points at is not the first of several checks: the lines one by
one, a run of three or more by its ends, and past a few of them how many more."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.formats.batch_documents import CSV_HEADER_NAMES_ROW, CSV_RECORD_HEADINGS_ROW

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
RECORD_ROW = "Create,CAND-1,1000000043,Alex,Smith,2006-04-01,1,601/4491/X,,2024-08-22,Pass,10001234,English,"
TO_RECORD_WIDTH = "," * (len(CSV_RECORD_HEADINGS_ROW.split(",")) - len(CSV_HEADER_NAMES_ROW.split(",")))


def _refusal(*lines: str) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(("\r\n".join(lines) + "\r\n").encode(), BatchFormat.CSV)
    return refused.value


def _mend(refusal: BatchRefused) -> str:
    assert refusal.code is BatchCode.MALFORMED and "a spreadsheet pads the shorter rows" in refusal.detail
    return refusal.detail.split("in a text editor, ", 1)[1].removesuffix(
        " (a line keeps the comma before an empty last value)"
    )


def _records(count: int, padding: str = "") -> list[str]:
    return [RECORD_ROW.replace("CAND-1", f"CAND-{number}") + padding for number in range(1, count + 1)]


def test_both_header_lines_a_spreadsheet_padded_are_named() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW + TO_RECORD_WIDTH,
        HEADER_VALUES_ROW + TO_RECORD_WIDTH,
        CSV_RECORD_HEADINGS_ROW,
        *_records(3),
    )

    assert refusal.line == 1
    assert _mend(refusal) == "delete the last 8 commas of lines 1 and 2"


def test_the_header_names_line_alone_padded_is_named_alone() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW + TO_RECORD_WIDTH, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, *_records(2))

    assert (refusal.line, _mend(refusal)) == (1, "delete the last 8 commas of line 1")


def test_every_line_padded_by_a_wider_column_is_named_as_one_run() -> None:
    """A stray cell out to the right of the records: the spreadsheet pads every row, the record rows too."""
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW + TO_RECORD_WIDTH + ",",
        HEADER_VALUES_ROW + TO_RECORD_WIDTH + ",",
        CSV_RECORD_HEADINGS_ROW + ",",
        *_records(40, ","),
    )

    assert (refusal.line, _mend(refusal)) == (
        1,
        "delete the last 9 commas of lines 1 and 2, and the last comma of lines 3-43",
    )


def test_lines_a_blank_line_parts_are_named_as_runs_and_a_record_row_not_padded_is_left_out() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW + TO_RECORD_WIDTH + ",",
        HEADER_VALUES_ROW + TO_RECORD_WIDTH + ",",
        "",
        CSV_RECORD_HEADINGS_ROW + ",",
        *_records(3, ","),
        RECORD_ROW.replace("CAND-1", "CAND-4"),  # line 8: as wide as a record should be
        *_records(2, ","),
    )

    assert _mend(refusal) == ("delete the last 9 commas of lines 1 and 2, and the last comma of lines 4-7, 9 and 10")


def test_a_file_of_padded_records_names_the_first_and_the_rest_as_a_run() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, *_records(500, ",,"))

    assert refusal.line == 4
    assert _mend(refusal) == "delete the last 2 commas of lines 4-503"


def test_one_padded_record_names_its_line() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, *_records(1, ", ,"))

    assert (refusal.line, _mend(refusal)) == (4, "delete the last 2 commas of line 4")


def test_a_few_lines_apart_are_each_named() -> None:
    refusal = _refusal(
        CSV_HEADER_NAMES_ROW + TO_RECORD_WIDTH,
        "",
        HEADER_VALUES_ROW + TO_RECORD_WIDTH,
        CSV_RECORD_HEADINGS_ROW,
        *_records(1),
    )

    assert (refusal.line, _mend(refusal)) == (1, "delete the last 8 commas of lines 1 and 3")
