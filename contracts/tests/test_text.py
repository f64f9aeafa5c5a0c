"""Text every API stores or sends keeps to the batch files' character rule (`lrs_contracts.text`)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from lrs_contracts.text import OneLineText, StorableText, shown_on_one_line, with_bidi_controls_shown


class _Note(BaseModel):
    note: StorableText
    name: OneLineText


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("a\x00b", "the control character U+0000 at character 2"),
        ("\x1b[31m", "the control character U+001B at character 1"),
        ("JUNE\x7f", "the control character U+007F at character 5"),
        ("\x80", "the control character U+0080 at character 1"),
        ("\x9b31m", "the control character U+009B at character 1"),
        ("Ann\x9f", "the control character U+009F at character 4"),
        ("x\ud800", "a lone surrogate (U+D800) at character 2, which has no UTF-8 form"),
        ("\ufffe", "the Unicode non-character U+FFFE at character 1"),
    ],
)
def test_what_cannot_be_stored_or_sent_is_refused_naming_the_character(value: str, said: str) -> None:
    for fields in ({"note": value, "name": "A"}, {"note": "a", "name": value}):
        with pytest.raises(ValidationError, match=re.escape(f"holds {said}, which cannot be stored or sent")):
            _Note.model_validate(fields)


def test_line_breaks_and_tabs_stand_in_text_but_a_one_line_value_refuses_a_line_break() -> None:
    assert _Note(note="first line\r\n\tsecond", name="Zoë O'Brien-Smith").note == "first line\r\n\tsecond"
    with pytest.raises(ValidationError, match="a line break \\(U\\+000A\\) at character 2: the value is one line"):
        _Note(note="fine", name="A\nB")
    for line_break in ("\x85", "\u2028", "\u2029"):  # where Python's email headers break a line too
        assert _Note(note=f"one{line_break}two", name="A").note == f"one{line_break}two"
        said = f"a line break (U+{ord(line_break):04X}) at character 2: the value is one line"
        with pytest.raises(ValidationError, match=re.escape(said)):
            _Note(note="fine", name=f"A{line_break}B")


def test_bidirectional_controls_are_shown_as_code_points_and_marks_are_kept() -> None:
    reason = "Grade \u202eC ton ,B\u202c, \u2066isolated\u2069 \u202a\u202b\u202d\u2067\u2068 \u200fmarks\u200e"
    assert with_bidi_controls_shown(reason) == (
        "Grade [U+202E]C ton ,B[U+202C], [U+2066]isolated[U+2069] [U+202A][U+202B][U+202D][U+2067][U+2068]"
        " \u200fmarks\u200e"
    )
    assert with_bidi_controls_shown("كتب الطالب: my grade") == "كتب الطالب: my grade"


@pytest.mark.parametrize(
    "control", ["\u061c", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
)
def test_a_one_line_value_refuses_a_bidirectional_control_and_text_over_lines_keeps_it(control: str) -> None:
    assert _Note(note=f"as {control}written", name="Nadia").note == f"as {control}written"
    said = f"the bidirectional control U+{ord(control):04X} at character 4 (the value is shown as it is written)"
    with pytest.raises(ValidationError, match=re.escape(said)):
        _Note(note="fine", name=f"Ann{control}")


def test_marks_and_right_to_left_names_stand_in_a_one_line_value() -> None:
    assert (
        _Note(note="n", name="\u0646\u0627\u062f\u064a\u0629 \u200fSmith\u200e").name
        == "\u0646\u0627\u062f\u064a\u0629 \u200fSmith\u200e"
    )


def test_the_arabic_letter_mark_is_refused_on_one_line_and_shown_as_its_code_point() -> None:
    """U+061C is a Bidi_Control of type AL: the digits after it become Arabic numbers, so "JUNE<U+061C> 2024-06-01"
    displays as "JUNE01-06-2024" (decision 0138's later note). Unlike U+200E and U+200F it is not a mark to keep."""
    said = "the bidirectional control U+061C at character 5 (the value is shown as it is written)"
    with pytest.raises(ValidationError, match=re.escape(said)):
        _Note(note="fine", name="JUNE\u061c 2024-06-01")
    assert with_bidi_controls_shown("Cohort\u061c 12-34") == "Cohort[U+061C] 12-34"
    assert shown_on_one_line("JUNE\u061c 2024") == "JUNE[U+061C] 2024"
    assert _Note(note="Cohort\u061c 12-34", name="A").note == "Cohort\u061c 12-34"


def test_a_value_accepted_before_its_controls_were_refused_is_shown_on_one_line_without_them() -> None:
    """A batch reference ending in DEL, on the log before DEL was refused, put a raw 0x7F byte in the completion
    email's subject; U+009B would start a terminal's escape sequence. A TAB stands."""
    assert shown_on_one_line("JUNE\x7f") == "JUNE[U+007F]"
    assert (
        shown_on_one_line("\x9b2J\x1b[0m Key\tStage\u2028\u202e") == "[U+009B]2J[U+001B][0m Key\tStage[U+2028][U+202E]"
    )
    assert shown_on_one_line("Siân O\u2019Neill \u2013 Lefèvre") == "Siân O\u2019Neill \u2013 Lefèvre"
