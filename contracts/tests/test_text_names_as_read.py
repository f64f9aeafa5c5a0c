"""A name's characters counted as a reader counts them, and its letters lost when the file was saved (decision 0167,
later note of 2026-12-07): `characters_read` counts the composed form's characters that are not combining marks, so
a letter with two accents that Unicode has no composed form for (Yoruba ẹ́, Lithuanian ė̃) is one character; every
"at character N" a name's message says is counted so, whichever Unicode form the name is written in; and a name
holding '?' or U+FFFD, what Windows' "ANSI" encodings and a decoder write for a letter they lack, is named by
`lost_letter_in_name`."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrs_contracts.text import (
    character_position,
    characters_read,
    lost_letter_in_name,
    refused_character,
    unseen_in_name,
)

SAVE_AGAIN = 'save it again from the original as UTF-8 (in Excel, "CSV UTF-8 (Comma delimited)")'


def _forms(text: str) -> tuple[str, str]:
    return unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("Siân", 4),
        ("Ẹ́mẹ́", 3),  # Yoruba: a dotted e with an acute has no composed form
        ("Ọ̀lá", 3),
        ("ė̃", 1),  # Lithuanian
        ("Nguyễn", 6),
        ("Olúwaṣẹ́gun Olúwadámilọ́lá Adéyọ̀sẹ́", 32),  # 36 code points composed, 42 decomposed
        ("王芳", 2),
        ("𠮷野", 2),  # an astral character is one
        ("O'Neill", 7),
    ],
)
def test_a_letter_with_its_marks_is_one_character_in_either_form(name: str, read: int) -> None:
    composed, decomposed = _forms(name)
    assert characters_read(composed) == characters_read(decomposed) == read


def test_a_yoruba_letter_with_two_marks_has_no_composed_form_but_counts_once() -> None:
    composed = unicodedata.normalize("NFC", "ẹ́")
    assert len(composed) == 2  # what the count was before: the composed form's code points
    assert characters_read(composed) == 1


def test_marks_past_the_two_a_letter_carries_count_so_no_run_of_marks_passes_a_limit() -> None:
    """A review's finding: with every mark free, "A" and 2,000 marks was one character, and a name of marks alone none."""
    assert characters_read("A\u0301\u0323") == 1  # two marks: carried
    assert characters_read("A" + "\u0301" * 34) == 32  # Á (composed) and 33 marks: 1 + the 31 past the two
    assert characters_read("K" + "\u0300" * 2_000) == 1_999
    assert characters_read("\u0301" * 5) == 5  # no letter to carry them
    assert characters_read(" \u0301\u0301") == 1  # a space carries marks as a letter does


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_a_text_never_counts_fewer_than_a_third_of_its_code_points(text: str) -> None:
    composed = unicodedata.normalize("NFC", text)
    assert characters_read(text) * (1 + 2) >= len(composed)


@given(st.text(max_size=40))
def test_the_count_does_not_depend_on_the_unicode_form(text: str) -> None:
    composed, decomposed = _forms(text)
    assert characters_read(text) == characters_read(composed) == characters_read(decomposed)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=60))
def test_an_ascii_text_is_its_own_length(text: str) -> None:
    assert characters_read(text) == len(text)


@given(st.text(alphabet=st.sampled_from("aeiouAEIOU\u0300\u0301\u0302\u0308\u0323\u0303wŵŷỵ"), max_size=20))
def test_a_position_is_the_same_in_either_form(prefix: str) -> None:
    composed, decomposed = _forms(prefix)
    for name in (f"{composed}\u00a0X", f"{decomposed}\u00a0X"):
        assert character_position(name, name.index("\u00a0")) == characters_read(prefix) + 1
    assert unseen_in_name(f"{composed}\u00a0X") == unseen_in_name(f"{decomposed}\u00a0X")
    assert lost_letter_in_name(f"{composed}?X") == lost_letter_in_name(f"{decomposed}?X")
    assert refused_character(f"{composed}\nX", one_line=True) == refused_character(f"{decomposed}\nX", one_line=True)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Siân\u00a0Ŵyn", "U+00A0 (a no-break space) at character 5: write an ordinary space"),
        ("Llŷr\u200d", "U+200D (a zero-width joiner) at character 5, which shows as nothing: delete it"),
        ("Siân  Ŵyn", "2 spaces in a row at character 5: separate the name's words with one space"),
    ],
)
def test_a_character_a_reader_cannot_see_is_named_at_the_same_place_written_composed_or_decomposed(
    name: str, said: str
) -> None:
    composed, decomposed = _forms(name)
    assert unseen_in_name(composed) == unseen_in_name(decomposed) == said


def test_a_refused_characters_place_is_counted_as_a_reader_counts() -> None:
    composed, decomposed = _forms("Siân\nŴyn")
    said = "a line break (U+000A) at character 5: a name is one line"
    assert refused_character(composed, one_line=True, one_line_is="a name") == said
    assert refused_character(decomposed, one_line=True, one_line_is="a name") == said


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Ll?r", f"'?' at character 3, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
        ("?", f"'?' at character 1, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
        ("Si?n ?yn", f"'?' at character 3, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
        (
            "Gw\ufffdr",
            f"U+FFFD (the replacement character) at character 3, where a letter was lost when the file was saved:"
            f" {SAVE_AGAIN}",
        ),
        # counted as a reader counts: the circumflex written apart is no character
        ("Sia\u0302n ?yn", f"'?' at character 6, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
    ],
)
def test_a_letter_lost_when_the_file_was_saved_is_named_with_its_place(name: str, said: str) -> None:
    assert lost_letter_in_name(name) == said


@pytest.mark.parametrize("name", ["Llŷr", "O'Neill", "Smith-Jones", "王芳", "¿Lily", "Zoë"])
def test_a_name_whose_letters_were_kept_has_none_lost(name: str) -> None:
    assert lost_letter_in_name(name) is None


def test_the_name_itself_is_never_said() -> None:
    said = lost_letter_in_name("Ynys-Gw?r")
    assert said is not None and "Ynys" not in said
