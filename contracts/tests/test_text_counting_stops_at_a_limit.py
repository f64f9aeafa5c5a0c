"""`characters_read(text, stop_after=n)` counts exactly as `characters_read(text)` does up to `n`, and answers `n + 1`
for any text of more characters, having read no further (review 1, finding 3: a 6 MB value at the door was counted in
full, in Python). And a text never counts more characters than its composed form has code points, the C-speed gate
the name rules ask first (finding 2)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrs_contracts.text import characters_read

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
