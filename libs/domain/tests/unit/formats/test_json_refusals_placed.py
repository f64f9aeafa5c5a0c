"""A JSON file refused for a value the JSON parser reads but a batch cannot take (a key given twice, NaN or Infinity,
a number of thousands of digits, arrays nested too deeply) is told where, as a syntax fault is: the line and column
of the value (or of the key given twice), and the record it is in. Columns count characters, not bytes, and a line
ends in CR LF, LF or CR alone."""

from __future__ import annotations

import json

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

HEADER = {"awardingOrganisation": "RN5133", "notificationEmail": "results@example.org"}
RECORD = '{"uln": "1000000043", "givenName": "Alex", "familyName": "Smith", "grade": "Pass"}'


def _file(faulty: str, *, newline: str = "\n") -> bytes:
    """Ten records, one a line from line 2; the seventh (line 8) `faulty`."""
    lines = [RECORD] * 10
    lines[6] = faulty
    return ('{"header": ' + json.dumps(HEADER) + ', "records": [' + newline + f",{newline}".join(lines) + "]}").encode()


def _refusal(content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, BatchFormat.JSON)
    assert refused.value.code is BatchCode.MALFORMED
    return refused.value


def _column_of(text: str, piece: str) -> int:
    return text.index(piece) + 1


@pytest.mark.parametrize(
    ("faulty", "at", "detail"),
    [
        (
            RECORD.replace('"grade": "Pass"', '"grade": "Pass", "grade": "Merit"'),
            '"grade": "Merit"',
            "unreadable JSON in record 7: the key 'grade' appears twice in one object",
        ),
        (
            RECORD.replace('"grade": "Pass"', '"grade": "Pass", "credits": NaN'),
            "NaN",
            "unreadable JSON in record 7 credits: NaN is not a JSON number",
        ),
        (
            RECORD.replace('"grade": "Pass"', '"grade": "Pass", "credits": -Infinity'),
            "-Infinity",
            "unreadable JSON in record 7 credits: -Infinity is not a JSON number",
        ),
        (
            RECORD.replace('"1000000043"', "1" * 5_000),
            "1" * 5_000,
            "unreadable JSON in record 7 uln: a number of 5,000 digits is too long: the numbers of a batch (a ULN, a"
            " UKPRN) have a few digits",
        ),
        (
            RECORD.replace('"Pass"', "[" * 100_000 + "]" * 100_000),
            "[",
            "unreadable JSON in record 7 grade: arrays or objects nested too deeply (a batch nests three levels)",
        ),
        (
            RECORD.replace('"Pass"', '{"a": 1, "a": 2}'),
            '{"a"',
            "unreadable JSON in record 7 grade: the key 'a' appears twice in one object",
        ),
    ],
    ids=["key-twice", "nan", "infinity", "long-number", "nested-too-deeply", "key-twice-in-a-value"],
)
def test_a_value_a_batch_cannot_take_is_refused_at_its_line_and_column_naming_its_record(
    faulty: str, at: str, detail: str
) -> None:
    refusal = _refusal(_file(faulty))

    assert (refusal.line, refusal.column, refusal.detail) == (8, _column_of(faulty, at), detail)


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_lines_ending_in_cr_are_counted_as_lines(newline: str) -> None:
    faulty = RECORD.replace('"grade": "Pass"', '"grade": "Pass", "grade": "Merit"')

    refusal = _refusal(_file(faulty, newline=newline))

    assert (refusal.line, refusal.column) == (8, _column_of(faulty, '"grade": "Merit"'))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_a_syntax_fault_in_a_file_of_lines_ending_in_cr_is_at_its_line(newline: str) -> None:
    faulty = RECORD.replace(', "grade"', ' "grade"')

    refusal = _refusal(_file(faulty, newline=newline))

    assert (refusal.line, refusal.column) == (8, _column_of(faulty, ' "grade"') + 1)  # at its quote
    assert refusal.detail == "malformed JSON: Expecting ',' delimiter"


def test_the_column_of_a_byte_that_is_not_utf8_counts_characters() -> None:
    """The JSON parser's own columns, and XML's, count characters: so does this one (it counted bytes)."""
    content = _file(RECORD.replace('"Alex"', '"Zoë-Éloïse-Siân?"')).replace(b"Si\xc3\xa2n?", b"Si\xc3\xa2n\xff")

    refusal = _refusal(content)

    assert (refusal.line, refusal.column) == (8, _column_of(RECORD, '"Alex"') + len('"Zoë-Éloïse-Siân'))
    assert refusal.detail == "byte 0xFF is not UTF-8: save the file as UTF-8"


def test_a_byte_that_is_not_utf8_after_a_byte_order_mark_is_the_one_named() -> None:
    refusal = _refusal(b'\xef\xbb\xbf{"header": {"batchReference": "A\xe9"}}')

    assert (refusal.line, refusal.column) == (1, len('{"header": {"batchReference": "A') + 1)
    assert refusal.detail == "byte 0xE9 is not UTF-8: save the file as UTF-8"


@pytest.mark.parametrize(
    ("content", "line", "column", "detail"),
    [
        (
            b'{"header": {}, \n "header": {}, "records": []}',
            2,
            2,
            "unreadable JSON: the key 'header' appears twice in one object",
        ),
        (
            b'{"header": {"batchReference": "A",\n "batchReference": "B"}, "records": []}',
            2,
            2,
            "unreadable JSON in the header: the key 'batchReference' appears twice in one object",
        ),
        (
            b'{"header": {"jobType": {"x": 1,\n "x": 2}, "jobType": "Final"}}',
            2,
            2,
            "unreadable JSON in header.jobType: the key 'x' appears twice in one object",
        ),
        (
            b"[\n" + b"[" * 100_000,
            2,
            3,
            "unreadable JSON: arrays or objects nested too deeply (a batch nests three levels)",
        ),
    ],
    ids=["top-level", "header", "header-value", "no-batch-at-all"],
)
def test_faults_outside_the_records_are_placed_too(content: bytes, line: int, column: int, detail: str) -> None:
    refusal = _refusal(content)

    assert (refusal.line, refusal.column, refusal.detail) == (line, column, detail)


def test_a_hostile_file_of_millions_of_values_is_refused_without_a_position_as_before() -> None:
    """The search for the fault reads a value at a time: it stops after as many as a full batch has, and the file is
    refused as it was before it was placed."""
    refusal = _refusal(b'{"header": {}, "records": [' + b"{}," * 100_000 + b"NaN]}")

    assert (refusal.line, refusal.column, refusal.detail) == (None, None, "unreadable JSON: NaN is not a JSON number")


def test_a_fault_in_the_last_record_of_a_full_batch_is_placed() -> None:
    records = [RECORD] * 10_000
    records[-1] = RECORD.replace('"Pass"', "NaN")
    content = ('{"header": ' + json.dumps(HEADER) + ', "records": [\n' + ",\n".join(records) + "]}").encode()

    refusal = _refusal(content)

    assert (refusal.line, refusal.detail) == (10_001, "unreadable JSON in record 10000 grade: NaN is not a JSON number")
