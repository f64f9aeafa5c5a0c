"""Where a CSV quote is not doubled, found without a Python loop over each character: a 6 MB file of a quoted value
holding millions of line breaks (`"x` + 6.29 M line breaks + `"y",`) took seconds of the parser's single slot to
refuse (a review of the ingest door found it). The line and field said are the same as the loop over each character
said, kept here as the reference; and so are those of a non-UTF-8 byte (`_field_position`), which split the whole
file into lines to count them."""

from __future__ import annotations

import csv
import random
import re
import sys
from types import FrameType
from typing import Any

import pytest
from libs.domain.tests.unit.formats.batch_documents import CSV_HEADER_NAMES_ROW, CSV_RECORD_HEADINGS_ROW

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, csv_batch, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
TOP = f"{CSV_HEADER_NAMES_ROW}\r\n{HEADER_VALUES_ROW}\r\n{CSV_RECORD_HEADINGS_ROW}\r\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _undoubled_quote_a_character_at_a_time(text: str, row_start: int) -> tuple[int, int] | None:
    """The reference: `csv_batch._undoubled_quote` as it was, a loop over each character of the rest of the file."""
    lines = _LINE_BREAK.split(text)
    row = "\n".join(lines[row_start - 1 :])
    line, field, index, quoted_value, field_starts = row_start, 1, 0, False, True
    while index < len(row):
        character = row[index]
        if quoted_value and character == '"':
            after = row[index + 1 : index + 2]
            if after == '"':
                index += 1  # a doubled quote
            elif after in (",", "\n", ""):
                quoted_value = False
            else:
                return line, field
        elif character == "\n":
            if not quoted_value:
                return None
            line += 1
        elif not quoted_value and character == ",":
            field += 1
            field_starts = True
            index += 1
            continue
        elif character == '"' and field_starts:
            quoted_value = True
        field_starts = False
        index += 1
    return None


def _field_position_of_split_lines(content: bytes, offset: int) -> tuple[int, int]:
    """The reference: `csv_batch._field_position` as it was, splitting all the lines before the byte."""
    lines_before = _LINE_BREAK.split(content[:offset].decode("utf-8", errors="replace"))
    try:
        fields_before = next(csv.reader([lines_before[-1]]), [""])
    except csv.Error:
        fields_before = lines_before[-1].split(",")
    return len(lines_before), max(len(fields_before), 1)


TRICKY = [
    'a,"Ev"ie,c',  # the plain case: field 2
    '"x"y',  # at the row's start
    'a,"b""c"d',  # after a doubled quote
    'a,"b""""",c\n"d"e',  # doubled quotes then a closing one at the row's end: no fault in row 1
    '"a,b","c"d',  # a comma inside a quoted value is no field
    '"a\r\nb",x,"c\nd\re"f',  # CR LF, LF and a lone CR inside quoted values: three lines on
    'a\r"b"c',  # a lone CR ends a row
    'a\r\n"b"c',
    'a\n\r"b"c',  # LF then a lone CR: two line breaks
    '"a"\r\n"b"c',  # a quote at the row's end, before CR LF
    '"a"\r"b"c',  # before a lone CR
    '"a"',  # at the file's end
    '"a""',  # a doubled quote at the file's end: the value never closes
    '"abc',  # a quoted value the file ends in
    'x,"abc',
    'ab"c,"d"e',  # a quote inside a value that starts with none is a character of it
    'a, "b"c,"d"e',  # nor is one after a space
    ',,,"x"y',  # empty fields
    '""x',  # an empty quoted value followed by text
    '"""x"y',  # a doubled quote first
    '\r\n\r\n"x"y',  # blank lines before
    '"\r\n"\r\n"\r"\r\n"x"y',  # rows of quoted line breaks before
    "",
    "\r\n",
    'a,b\r\n"c",d',  # no fault at all
]


@pytest.mark.parametrize("text", TRICKY)
def test_the_quote_not_doubled_is_found_where_the_loop_over_each_character_found_it(text: str) -> None:
    for row_start in range(1, len(_LINE_BREAK.split(text)) + 2):
        expected = _undoubled_quote_a_character_at_a_time(text, row_start)
        assert csv_batch._undoubled_quote(text, row_start) == expected, (text, row_start)


def test_some_of_the_tricky_rows_said_as_line_and_field() -> None:
    assert csv_batch._undoubled_quote('"a\r\nb",x,"c\nd\re"f', 1) == (4, 3)
    assert csv_batch._undoubled_quote('"a,b","c"d', 1) == (1, 2)
    assert csv_batch._undoubled_quote('a\n\r"b"c', 3) == (3, 1)
    assert csv_batch._undoubled_quote('ab"c,"d"e', 1) == (1, 2)
    assert csv_batch._undoubled_quote('"a"\r\n"b"c', 1) is None


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 16])
def test_random_rows_agree_with_the_loop_over_each_character(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """Small blocks put a CR LF across the edge of the blocks the lines are counted in."""
    monkeypatch.setattr(csv_batch, "_BLOCK", block)
    pieces = ['"', '""', ",", "\r", "\n", "\r\n", "a", " "]
    chosen = random.Random(f"undoubled-{block}")
    for _ in range(600):
        text = "".join(chosen.choices(pieces, k=chosen.randint(0, 14)))
        for row_start in range(1, len(_LINE_BREAK.split(text)) + 2):
            expected = _undoubled_quote_a_character_at_a_time(text, row_start)
            assert csv_batch._undoubled_quote(text, row_start) == expected, (text, row_start)


@pytest.mark.parametrize("block", [1, 2, 3, 1 << 16])
def test_the_start_of_each_line_is_where_the_split_lines_start(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(csv_batch, "_BLOCK", block)
    for text in ["", "a", "\r\n", "ab\r\ncd\re\nf\n\r\r\n", "\n\n\r\r\n\r\n\r", "x\r\n" * 5 + "y"]:
        lines = _LINE_BREAK.split(text)
        starts = [match.end() for match in _LINE_BREAK.finditer(text)]
        for line in range(1, len(lines) + 3):
            expected = 0 if line == 1 else starts[line - 2] if line - 2 < len(starts) else len(text)
            assert csv_batch._line_start(text, line) == expected, (text, line)


@pytest.mark.parametrize(
    "before",
    [b"", b"a,b", b"a\r\nb,c,", b"a\rb\nc\r\n,d", b"\r\n\r\n\r", b'"x,\r\ny', b'a,"b,c', b"a\n\r,"],
)
def test_a_byte_not_utf8_is_placed_where_the_split_lines_placed_it(before: bytes) -> None:
    content = before + b"\xff,z\r\n"
    offset = len(before)
    assert csv_batch._field_position(content, offset) == _field_position_of_split_lines(content, offset)


def _python_lines_run_in_csv_batch(content: bytes) -> tuple[BatchRefused, int]:
    """The refusal of `content`, and how many lines of `csv_batch`'s own Python code ran to say it, but for the loop
    over the rows the csv module reads (a row of a blank line is a few lines of Python, as it always was)."""
    ran = [0]

    def in_csv_batch(frame: FrameType, event: str, _arg: Any) -> Any:
        if frame.f_code.co_filename != csv_batch.__file__ or frame.f_code.co_name == "_non_blank_rows":
            return None
        ran[0] += event == "line"
        return in_csv_batch

    was = sys.gettrace()
    sys.settrace(in_csv_batch)
    try:
        with pytest.raises(BatchRefused) as refused:
            parse_batch(content, BatchFormat.CSV)
    finally:
        sys.settrace(was)
    return refused.value, ran[0]


@pytest.mark.parametrize(
    ("row", "line", "column"),
    [
        ('"x' + "\n" * 100_000 + '"y",', 100_004, 1),  # the review's file, shorter
        ('"x' + "\r\n" * 100_000 + '"y",', 100_004, 1),
        ("\r" * 100_000 + '"x"y', 100_004, 1),  # the row after many blank lines
        ('"' + ",\n" * 50_000 + '"y', 50_004, 1),  # a quoted value of many commas and line breaks
        ('"' + '""' * 50_000 + '"y', 4, 1),  # of many doubled quotes
    ],
    ids=["line-breaks", "crlf", "blank-lines", "quoted-commas", "doubled-quotes"],
)
def test_the_quote_not_doubled_is_found_without_a_python_loop_over_each_character(
    row: str, line: int, column: int
) -> None:
    refusal, lines_run = _python_lines_run_in_csv_batch((TOP + row).encode())

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, line, column)
    assert refusal.detail.startswith('Action (field 1) holds a quote (") inside its quoted value that is not doubled')
    # a few hundred lines of Python for the three rows before it, and the blocks of 64 Ki characters counted;
    # the loop over each character ran a few lines for each of the 100,000
    assert lines_run < 5_000
