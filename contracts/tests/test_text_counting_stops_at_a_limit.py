"""`characters_read(text, stop_after=n)` counts exactly as `characters_read(text)` does up to `n`, and answers `n + 1`
for any text of more characters, having read no further (review 1, finding 3: a 6 MB value at the door was counted in
full, in Python). And a text never counts more characters than its composed form has code points, the C-speed gate
the name rules ask first (finding 2)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrs_contracts.text import (
    _CODE_POINTS_A_CHARACTER_STANDS_FOR,
    LONGEST_DECOMPOSITION,
    MARKS_A_LETTER_CARRIES,
    characters_read,
)

# Letters, composed and not, combining marks (one a letter carries, and runs past the two), a mark standing first,
# U+0F43 (which NFC writes as two), an astral letter, Hangul jamo that compose, and ASCII.
_PIECES = st.sampled_from(
    ["a", "Z", " ", "é", "e\u0301", "\u0301", "\u0323", "\u0302", "ẹ́", "\u0f43", "𠮷", "\u1100\u1161", "王", "'"]
)
_TEXTS = st.lists(_PIECES, max_size=60).map("".join)


@given(text=_TEXTS, stop_after=st.integers(min_value=0, max_value=70))
def test_counts_exactly_up_to_the_limit_and_one_past_it_beyond(text: str, stop_after: int) -> None:
    assert characters_read(text, stop_after=stop_after) == min(characters_read(text), stop_after + 1)


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(_PIECES, min_size=1, max_size=12),
    times=st.integers(min_value=300, max_value=2_000),
    stop_after=st.integers(min_value=0, max_value=12_000),
)
def test_a_long_text_composed_a_part_at_a_time_counts_as_composed_whole(
    pieces: list[str], times: int, stop_after: int
) -> None:
    """Over 4,096 code points, the text is composed a part at a time, each ending before an ASCII character."""
    text = "".join(pieces) * times
    assert characters_read(text, stop_after=stop_after) == min(characters_read(text), stop_after + 1)


@given(text=_TEXTS)
def test_never_more_than_the_composed_form_and_no_limit_is_a_full_count(text: str) -> None:
    read = characters_read(text)
    assert read <= len(unicodedata.normalize("NFC", text))
    assert characters_read(text, stop_after=None) == read
    assert characters_read(text, stop_after=read) == read  # at the limit: not past it


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("a\u0302" * 1_024, 1_024),  # at the limit, decomposed
        ("a\u0302" * 1_025, 1_025),
        ("é" * 3_000_000, 1_025),  # the finding's 6 MB value: stops one past the limit
        ("e\u0301" * 2_000_000, 1_025),
        ("K" + "\u0300" * 2_000, 1_025),  # marks past the two a letter carries count
        ("\u0f43" * 600, 1_025),  # 600 code points, 1,200 characters composed
        ("x" * 1_048_576, 1_025),  # ASCII: its own length, stopped too
        ("x" * 1_024, 1_024),
        ("é" * 5_000 + "e\u0301" * 5_000, 1_025),
        ("Ẹ́mẹ́ " * 2_000, 1_025),
    ],
)
def test_a_long_text_is_counted_one_past_a_limit_of_1024(text: str, read: int) -> None:
    assert characters_read(text, stop_after=1_024) == read


def test_no_code_point_decomposes_into_more_than_the_bound_assumes() -> None:
    """The bound of code points a counted character stands for rests on the longest canonical decomposition."""
    longest = max(
        len(unicodedata.normalize("NFD", chr(code))) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF
    )
    assert longest == LONGEST_DECOMPOSITION
    assert _CODE_POINTS_A_CHARACTER_STANDS_FOR == LONGEST_DECOMPOSITION * (1 + MARKS_A_LETTER_CARRIES) == 12


# The texts composing least per counted character: the longest decompositions written decomposed, letters carrying
# the two marks they may, U+0F43 (whose NFC form is longer than itself), and no ASCII character to end a part at.
_DENSEST = st.sampled_from(
    ["\u1faf\u03a9\u0314\u0342\u0345", "\u03a9\u0314\u0342\u0345", "e\u0323\u0301", "\u1100\u1161\u11a8"]
)


@given(
    pieces=st.lists(_DENSEST | _PIECES, min_size=1, max_size=8),
    times=st.integers(min_value=1, max_value=400),
    stop_after=st.integers(min_value=0, max_value=400),
)
def test_the_bound_never_answers_for_a_text_that_counts_up_to_the_limit(
    pieces: list[str], times: int, stop_after: int
) -> None:
    text = "".join(pieces) * times
    assert characters_read(text, stop_after=stop_after) == min(characters_read(text), stop_after + 1)
    assert characters_read(text) * _CODE_POINTS_A_CHARACTER_STANDS_FOR >= len(text)


@pytest.mark.parametrize(
    "text",
    [
        "\u0f43" * 1_900_000,  # the finding's 5.7 MB file: no ASCII character, so one part
        "a" + "\u0301" * 2_900_000,
        "é" * 2_900_000,
        "e\u0323\u0301" * 1_000_000,
    ],
)
def test_a_long_value_without_ascii_is_answered_composing_no_more_than_the_bound(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of session 61's work, finding 2: such a value was one part, composed whole (1.6 s) before the count could
    stop. Now a value longer than the bound composes nothing, and one at the bound no more than itself."""
    composed: list[int] = []
    normalize = unicodedata.normalize

    def counted(form: str, value: str) -> str:
        composed.append(len(value))
        return normalize(form, value)  # type: ignore[arg-type]

    monkeypatch.setattr(unicodedata, "normalize", counted)
    assert characters_read(text, stop_after=10_000) == 10_001
    assert composed == []
    at_the_bound = text[: _CODE_POINTS_A_CHARACTER_STANDS_FOR * 10_000]
    assert characters_read(at_the_bound, stop_after=10_000) == 10_001
    assert sum(composed) <= len(at_the_bound)
