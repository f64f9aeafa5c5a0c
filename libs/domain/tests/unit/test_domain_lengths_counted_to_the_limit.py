"""The length rules count no further than they need to, and answer as a full count did (review 1, findings 2 and 3).

- The name and MIS identifier gate (`names.name_too_long`) asks the composed form's length, taken in C, before counting
  in Python: a name no longer than the limit composed is never too long, as a reader counts never passes it.
- The door (`value_fault`) counts a non-ASCII value only up to `COUNTED_UP_TO`: the verdict is a full count's, the
  length said is exact up to there, and a longer value is said to be "more than 10,000 characters long"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrs_contracts.text import characters_read
from lrs_domain.formats.values import COUNTED_UP_TO, MAX_VALUE_CHARACTERS, value_fault
from lrs_domain.names import name_length, name_too_long
from lrs_domain.rules import MAX_MIS_IDENTIFIER_LENGTH, MAX_NAME_LENGTH

_PIECES = st.sampled_from(
    ["a", "Z", " ", "-", "é", "e\u0301", "\u0301", "\u0323", "ẹ́", "\u0f43", "𠮷", "\u1100\u1161", "王", "\u0344"]
)


@given(name=st.lists(_PIECES, max_size=50).map("".join))
def test_the_gate_answers_as_counting_every_name(name: str) -> None:
    assert name_too_long(name, MAX_NAME_LENGTH) is (name_length(name) > MAX_NAME_LENGTH)


@pytest.mark.parametrize(
    ("name", "too_long"),
    [
        ("é" * 35, False),
        ("é" * 36, True),
        ("e\u0301" * 35, False),  # 70 code points, 35 characters
        ("ẹ́" * 35, False),  # 35 letters of two code points each composed
        ("ẹ́" * 36, True),
        ("\u0f43" * 18, True),  # 18 code points, 36 characters
        ("\u0f43" * 17 + "a", False),
        ("K" + "\u0300" * 36, False),  # K and 34 marks past the two it carries: 35
        ("K" + "\u0300" * 37, True),  # marks past the two a letter carries count
        (None, False),
    ],
)
def test_names_at_and_past_the_limit(name: str | None, too_long: bool) -> None:
    assert name_too_long(name, MAX_NAME_LENGTH) is too_long


def test_the_mis_identifier_gate_counts_as_a_name() -> None:
    assert not name_too_long("ẹ́" * MAX_MIS_IDENTIFIER_LENGTH, MAX_MIS_IDENTIFIER_LENGTH)
    assert name_too_long("\u0f43" * 65, MAX_MIS_IDENTIFIER_LENGTH)


def _full_count_fault(value: str) -> bool:
    """The verdict before the count stopped: too long when every character counted passes the limit."""
    return len(value) > MAX_VALUE_CHARACTERS and characters_read(value) > MAX_VALUE_CHARACTERS


@pytest.mark.parametrize(
    "value",
    [
        "a\u0302" * 1_024,
        "a\u0302" * 1_025,
        "ẹ́" * 1_024,
        "ẹ́" * 1_025,
        "\u0f43" * 512,
        "\u0f43" * 513,
        "K" + "\u0300" * 1_025,
        "K" + "\u0300" * 1_026,
        "é" * 1_024 + "\u0301",  # the last é carries it
        "é" * 1_024 + "\u0301" * 3,  # one past the two it carries
    ],
)
def test_the_door_gives_a_full_counts_verdict_at_the_limit(value: str) -> None:
    fault = value_fault(value, in_header=False)
    assert (fault is not None) is _full_count_fault(value)
    if fault is not None:
        assert fault == f"is {characters_read(value):,} characters long; a value may have at most 1,024"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("é" * COUNTED_UP_TO, "is 10,000 characters long"),
        ("e\u0301" * COUNTED_UP_TO, "is 10,000 characters long"),
        ("é" * (COUNTED_UP_TO + 1), "is more than 10,000 characters long"),
        ("é" * 3_000_000, "is more than 10,000 characters long"),  # the finding's 6 MB value
        ("e\u0301" * 2_000_000, "is more than 10,000 characters long"),
        ("x" * 1_048_576, "is 1,048,576 characters long"),  # an ASCII value's length is said whatever it is
    ],
)
def test_a_long_value_is_said_as_far_as_it_was_counted(value: str, said: str) -> None:
    assert value_fault(value, in_header=False) == f"{said}; a value may have at most 1,024"
