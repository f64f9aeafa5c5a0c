"""What a value may hold: the rule set the three formats share (`lrs_domain.formats.values`)."""

import json

import pytest
from libs.domain.tests.unit.formats.batch_documents import (
    HEADER,
    document,
    first_record_line,
    json_object,
    record,
    records,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch
from lrs_domain.formats.values import MAX_VALUE_CHARACTERS, value_fault

ALL_FORMATS = list(BatchFormat)
# what a refusal names the field as, in each format's own spelling
GIVEN_NAME = {BatchFormat.CSV: "GivenName", BatchFormat.XML: "GivenName", BatchFormat.JSON: "record 2 givenName"}
BATCH_REFERENCE = {
    BatchFormat.CSV: "BatchReference",
    BatchFormat.XML: "BatchReference",
    BatchFormat.JSON: "header.batchReference",
}


def _refusal(fmt: BatchFormat, content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, fmt)
    return refused.value


def _with_second_given_name(fmt: BatchFormat, given_name: str) -> bytes:
    return document(fmt, HEADER, [record(1), record(2, given_name=given_name), record(3)])


UNSTORABLE = [
    ("\x00", "the control character U+0000"),
    ("\x1b", "the control character U+001B"),
    ("\ufdd0", "the Unicode non-character U+FDD0"),
]
# XML 1.0 cannot carry C0 controls at all: its parser refuses them first (test_xml_refuses_c0_controls...).
CASES = [(fmt, character, kind) for fmt in ALL_FORMATS for character, kind in UNSTORABLE]
CASES = [case for case in CASES if not (case[0] is BatchFormat.XML and case[1] < " ")]


@pytest.mark.parametrize(("fmt", "character", "kind"), CASES)
def test_a_record_value_that_cannot_be_stored_refuses_the_file_naming_line_and_field(
    fmt: BatchFormat, character: str, kind: str
) -> None:
    refusal = _refusal(fmt, _with_second_given_name(fmt, f"Li{character}ly"))

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == f"{GIVEN_NAME[fmt]} holds {kind} at character 3"
    # CSV: the physical line and the field number; XML: where the element starts; JSON: the record's position
    assert (refusal.line, refusal.column) == {
        BatchFormat.CSV: (first_record_line(fmt) + 1, 4),
        BatchFormat.XML: (6, 98),  # where <GivenName> starts
        BatchFormat.JSON: (2, None),
    }[fmt]


@pytest.mark.parametrize("reference", ["\x00", "&#0;", "&#1;"])
def test_xml_refuses_c0_controls_with_its_own_rs001(reference: str) -> None:
    content = document(BatchFormat.XML, HEADER, records(2)).replace(b"Priya", f"Pri{reference}ya".encode())

    refusal = _refusal(BatchFormat.XML, content)

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.line == 5


def test_a_lone_surrogate_in_json_refuses_the_file() -> None:
    rows = [record(1), record(2, given_name="Li\ud800ly")]
    content = json.dumps(json_object(HEADER, rows)).encode()
    assert b"Li\\ud800ly" in content  # an escape is the only way to send one

    refusal = _refusal(BatchFormat.JSON, content)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 2)
    assert (
        refusal.detail == "record 2 givenName holds a lone surrogate (U+D800) at character 3, which has no UTF-8 form"
    )


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029"])
def test_a_line_break_in_a_header_value_refuses_the_file(fmt: BatchFormat, line_break: str) -> None:
    header = {**HEADER, "batch_reference": f"JUNE{line_break}Bcc: everyone@example.org"}
    content = document(fmt, header, records(2))
    if fmt is BatchFormat.XML:
        content = content.replace(b"\r", b"&#13;")  # a raw CR would be read as LF

    refusal = _refusal(fmt, content)

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail.startswith(f"{BATCH_REFERENCE[fmt]} holds a line break (U+{ord(line_break[0]):04X}")
    assert refusal.detail.endswith(") at character 5: a header value is one line")
    if fmt is BatchFormat.CSV:
        assert (refusal.line, refusal.column) == (2, 5)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_bidirectional_control_in_a_header_value_refuses_the_file(fmt: BatchFormat) -> None:
    content = document(fmt, {**HEADER, "batch_reference": "JUNE\u202eFER"}, records(2))

    refusal = _refusal(fmt, content)

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == (
        f"{BATCH_REFERENCE[fmt]} holds the bidirectional control U+202E at character 5"
        " (a header value is shown as it is written)"
    )


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_an_arabic_letter_mark_in_a_header_value_refuses_the_file(fmt: BatchFormat) -> None:
    """U+061C makes the digits after it Arabic numbers: "JUNE<U+061C> 2024-06-01" read "JUNE01-06-2024" in the
    completion email's subject (decision 0138's later note)."""
    content = document(fmt, {**HEADER, "batch_reference": "JUNE\u061c 2024-06-01"}, records(2))

    refusal = _refusal(fmt, content)

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == (
        f"{BATCH_REFERENCE[fmt]} holds the bidirectional control U+061C at character 5"
        " (a header value is shown as it is written)"
    )


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_tabs_and_record_line_breaks_are_kept(fmt: BatchFormat) -> None:
    header = {**HEADER, "batch_reference": "JUNE\t2024"}
    rows = [record(1, mis_identifier="first line\nsecond line", grade="Pass\tMerit")]

    batch = parse_batch(document(fmt, header, rows), fmt)

    assert batch.header.batch_reference == "JUNE\t2024"
    assert batch.records[0].mis_identifier == "first line\nsecond line"
    assert batch.records[0].grade == "Pass\tMerit"


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("length", [MAX_VALUE_CHARACTERS + 1, 200_000, 1_048_576])
def test_one_length_limit_for_every_format(fmt: BatchFormat, length: int) -> None:
    at_the_limit = parse_batch(_with_second_given_name(fmt, "x" * MAX_VALUE_CHARACTERS), fmt)
    refusal = _refusal(fmt, _with_second_given_name(fmt, "x" * length))

    assert at_the_limit.records[1].given_name == "x" * MAX_VALUE_CHARACTERS
    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == f"{GIVEN_NAME[fmt]} is {length:,} characters long; a value may have at most 1,024"


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_the_limit_counts_the_trimmed_value(fmt: BatchFormat) -> None:
    padded = " " * 5_000 + "Lily" + " " * 5_000

    batch = parse_batch(_with_second_given_name(fmt, padded), fmt)

    assert batch.records[1].given_name == "Lily"


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_value_fault_counts_where_it_is_read(fmt: BatchFormat) -> None:
    header = {**HEADER, "batch_reference": "a\nb", "job_type": "Interim"}

    assert _refusal(fmt, document(fmt, header, records(1))).code is BatchCode.MALFORMED
    assert _refusal(fmt, document(fmt, {**HEADER, "job_type": "Interim"}, [record(1, grade="\ufdd0")])).code is (
        BatchCode.BAD_JOB_TYPE
    )


@pytest.mark.parametrize(
    ("value", "in_header", "fault"),
    [
        ("Lily", True, None),
        ('Zoë "Zed" <O\'Brien> 😀 \u200f', True, None),
        ("JUNE\u202eREF", False, None),  # a record value may hold a bidirectional control, shown where it is read
        (
            "JUNE\u202eREF",
            True,
            "holds the bidirectional control U+202E at character 5 (a header value is shown as it is written)",
        ),
        (
            "\u2066x\u2069",
            True,
            "holds the bidirectional control U+2066 at character 1 (a header value is shown as it is written)",
        ),
        ("a\tb", True, None),
        ("a\nb", False, None),
        ("a\rb", False, None),
        ("a\nb", True, "holds a line break (U+000A) at character 2: a header value is one line"),
        ("a\x7fb", True, "holds the control character U+007F at character 2"),
        ("a\x7fb", False, "holds the control character U+007F at character 2"),
        ("\x9b2J", False, "holds the control character U+009B at character 1"),  # a terminal's escape
        ("JUNE\x80", True, "holds the control character U+0080 at character 5"),
        ("a\x85b", False, None),  # NEL is a line break: kept in a record value, as CR and LF are
        ("a\x85b", True, "holds a line break (U+0085) at character 2: a header value is one line"),
        ("\x00", False, "holds the control character U+0000 at character 1"),
        ("ab\x1f", False, "holds the control character U+001F at character 3"),
        ("\x0b", False, "holds the control character U+000B at character 1"),
        ("\udfff", False, "holds a lone surrogate (U+DFFF) at character 1, which has no UTF-8 form"),
        ("\ufffe", False, "holds the Unicode non-character U+FFFE at character 1"),
        ("\U0010ffff", False, "holds the Unicode non-character U+10FFFF at character 1"),
        ("\U0001fffe", False, "holds the Unicode non-character U+1FFFE at character 1"),
        ("\ufdef", False, "holds the Unicode non-character U+FDEF at character 1"),
        ("\ufdf0", False, None),
        ("x" * MAX_VALUE_CHARACTERS, False, None),
        ("é" * (MAX_VALUE_CHARACTERS + 1), False, "is 1,025 characters long; a value may have at most 1,024"),
    ],
)
def test_value_faults(value: str, in_header: bool, fault: str | None) -> None:
    assert value_fault(value, in_header=in_header) == fault


# The C0 controls `str.strip()` takes for white space: XML has no character for them, so its parser refuses the file
# wherever one stands; CSV and JSON refuse it too, at either end of a value as inside one (docs/rules.md).
STRIPPED_CONTROLS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f"]


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, BatchFormat.JSON])
@pytest.mark.parametrize("control", STRIPPED_CONTROLS)
@pytest.mark.parametrize(
    ("given_name", "at"), [("Lily{}", 5), ("{}Lily", 1), ("  Lily {} ", 6), ("\u00a0{}\tLily", 1), ("{}", 1)]
)
def test_a_control_character_at_either_end_of_a_value_refuses_the_file_as_inside_it(
    fmt: BatchFormat, control: str, given_name: str, at: int
) -> None:
    refusal = _refusal(fmt, _with_second_given_name(fmt, given_name.format(control)))

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == f"{GIVEN_NAME[fmt]} holds the control character U+{ord(control):04X} at character {at}"
    assert refusal.line == {BatchFormat.CSV: first_record_line(fmt) + 1, BatchFormat.JSON: 2}[fmt]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("control", ["\x0b", "\x1c"])
def test_a_control_character_at_the_end_of_a_value_refuses_the_file_in_every_format(
    fmt: BatchFormat, control: str
) -> None:
    assert _refusal(fmt, _with_second_given_name(fmt, f"Lily{control}")).code is BatchCode.MALFORMED


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, BatchFormat.JSON])
def test_a_control_character_at_the_end_of_a_header_value_refuses_the_file(fmt: BatchFormat) -> None:
    refusal = _refusal(fmt, document(fmt, {**HEADER, "batch_reference": "JUNE\x0c"}, records(2)))

    assert (refusal.code, refusal.detail) == (
        BatchCode.MALFORMED,
        f"{BATCH_REFERENCE[fmt]} holds the control character U+000C at character 5",
    )


@pytest.mark.parametrize("row", [b"\x0c", b"\x1c,,"])
def test_a_csv_row_of_nothing_but_a_control_character_is_no_blank_row_to_skip(row: bytes) -> None:
    lines = document(BatchFormat.CSV, HEADER, records(2)).split(b"\r\n")
    lines.insert(first_record_line(BatchFormat.CSV) - 1, row)  # between the record headings and the first record
    content = b"\r\n".join(lines)

    assert _refusal(BatchFormat.CSV, content).code is BatchCode.MALFORMED
    blank = content.replace(row, row.replace(row[:1], b" "))
    assert len(parse_batch(blank, BatchFormat.CSV).records) == 2  # a row of spaces is blank: skipped


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("space", [" ", "\t", "\u00a0", "\u2003", "\u3000", "\r\n", "\x85"])
def test_white_space_at_either_end_of_a_value_is_still_trimmed(fmt: BatchFormat, space: str) -> None:
    batch = parse_batch(_with_second_given_name(fmt, f"{space}Lily{space}"), fmt)

    assert batch.records[1].given_name == "Lily"
