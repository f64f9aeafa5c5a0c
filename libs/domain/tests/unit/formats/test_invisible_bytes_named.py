"""A file whose last bytes are a character no reader sees (a DOS Ctrl-Z end-of-file mark, still written by some
MIS exports; NUL padding from a file written into a pre-allocated buffer), or with a line of such characters between
records, is refused naming the character and its line and position, alike in CSV, XML and JSON and in a learner file.
Before, the message named nothing the AO could find: "the record has 1 field; 14 are expected", "malformed JSON:
Extra data", "malformed XML: not well-formed (invalid token)", a learner file's "line 3: wrong number of fields"."""

from __future__ import annotations

from datetime import date

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, document, records

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch
from lrs_domain.reference_data import ReferenceDataError, load_learners

TAILS = [
    (b"\x1a", "the control character U+001A (an end-of-file mark, Ctrl-Z) at character {at}: delete it"),
    (b"\x1a\r\n", "the control character U+001A (an end-of-file mark, Ctrl-Z) at character {at}: delete it"),
    (
        b"\x00" * 8,
        "the control character U+0000 (a null character) at character {at}, and 7 more characters a reader cannot"
        " see: delete them",
    ),
    (
        b"\x1a\x00",
        "the control character U+001A (an end-of-file mark, Ctrl-Z) at character {at}, and 1 more character a reader"
        " cannot see: delete them",
    ),
    ("\u200b".encode(), "U+200B (a zero-width space) at character {at}: delete it"),
]


def _end_of(content: bytes) -> tuple[int, int]:
    """The line and character (from 1) of a byte appended to `content`."""
    text = content.decode("utf-8")
    return text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1


@pytest.mark.parametrize(("tail", "said"), TAILS)
@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_invisible_bytes_at_the_end_of_a_file_are_named_in_every_format(
    fmt: BatchFormat, tail: bytes, said: str
) -> None:
    content = document(fmt, HEADER, records(2))
    line, at = _end_of(content)

    with pytest.raises(BatchRefused) as refused:
        parse_batch(content + tail, fmt)

    assert refused.value.code is BatchCode.MALFORMED
    assert refused.value.detail == f"line {line} holds " + said.format(at=at)
    assert refused.value.line == line


@pytest.mark.parametrize(
    ("between", "said"),
    [
        (b"\x1a", "the control character U+001A (an end-of-file mark, Ctrl-Z) at character 1: delete it"),
        (b"\x0c", "the control character U+000C (a form feed) at character 1: delete it"),
        (b"\x7f", "the control character U+007F (a delete character) at character 1: delete it"),
        (b" \x00", "the control character U+0000 (a null character) at character 2: delete it"),
        ("\u200b".encode(), "U+200B (a zero-width space) at character 1: delete it"),
    ],
)
def test_a_csv_line_of_invisible_characters_between_records_is_named(between: bytes, said: str) -> None:
    lines = document(BatchFormat.CSV, HEADER, records(2)).split(b"\n")  # names, values, headings, records

    with pytest.raises(BatchRefused) as refused:
        parse_batch(b"\n".join([*lines[:4], between, *lines[4:]]), BatchFormat.CSV)

    assert refused.value.code is BatchCode.MALFORMED
    assert refused.value.detail == f"line 5 holds {said}"
    assert refused.value.line == 5


def test_a_csv_row_of_the_wrong_width_also_names_a_control_character_it_holds() -> None:
    lines = document(BatchFormat.CSV, HEADER, records(2)).split(b"\n")

    with pytest.raises(BatchRefused) as refused:
        parse_batch(b"\n".join([*lines[:4], b"Create,\x00x", *lines[4:]]), BatchFormat.CSV)

    assert refused.value.detail == (
        "the record has 2 fields; 14 are expected; line 5 also holds the control character U+0000 (a null character)"
        " at character 8, which cannot be stored: delete it"
    )


def test_a_row_of_the_wrong_width_with_nothing_invisible_is_said_as_before() -> None:
    lines = document(BatchFormat.CSV, HEADER, records(2)).split(b"\n")

    with pytest.raises(BatchRefused) as refused:
        parse_batch(b"\n".join([*lines[:4], b"Create,x", *lines[4:]]), BatchFormat.CSV)

    assert refused.value.detail == "the record has 2 fields; 14 are expected"


def test_a_control_character_between_xml_elements_is_named_where_it_stands() -> None:
    content = document(BatchFormat.XML, HEADER, records(1))
    at = content.index(b"<Record")
    line, column = _end_of(content[:at])

    with pytest.raises(BatchRefused) as refused:
        parse_batch(content[:at] + b"\x1a" + content[at:], BatchFormat.XML)

    assert refused.value.detail == (
        f"line {line} holds the control character U+001A (an end-of-file mark, Ctrl-Z) at character {column}: delete it"
    )


@pytest.mark.parametrize(
    ("fmt", "junk", "words"),
    [(BatchFormat.JSON, b"x\x1a", "malformed JSON: Extra data"), (BatchFormat.XML, b"<x/>\x1a", "malformed XML: junk")],
)
def test_visible_junk_after_the_document_keeps_the_parsers_words(fmt: BatchFormat, junk: bytes, words: str) -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(document(fmt, HEADER, records(1)) + junk, fmt)
    assert refused.value.detail.startswith(words)


_LEARNERS = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n1000000043,Ann,Lee,2000-01-01,1,1,\n"


@pytest.mark.parametrize(
    ("tail", "said"),
    [
        ("\x1a", "line 3 holds the control character U+001A (an end-of-file mark, Ctrl-Z) at character 1: delete it"),
        (
            "\x00" * 4,
            "line 3 holds the control character U+0000 (a null character) at character 1, and 3 more characters a"
            " reader cannot see: delete them",
        ),
        ("\u200b\r\n", "line 3 holds U+200B (a zero-width space) at character 1: delete it"),
        (
            "1000000043,A\x00\n",
            "line 3: wrong number of fields; line 3 also holds the control character U+0000 (a null character) at"
            " character 13, which cannot be stored: delete it",
        ),
        ("1000000043,Ann\n", "line 3: wrong number of fields"),
    ],
)
def test_a_learner_files_invisible_last_bytes_are_named(tail: str, said: str) -> None:
    with pytest.raises(ReferenceDataError) as refused:
        load_learners(_LEARNERS + tail, date(2026, 1, 1))

    assert str(refused.value) == said
