"""A value a message says back that holds a character no reader sees, or cannot tell from a space, names it and its
position, as a name's is named (the spreadsheet walk, F6): quoted alone, "Action 'Create' is not recognised:
expected Create" (a byte order mark before it) reads as nonsense."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.domain_builders import decide, record


def _said(**fields: str) -> str:
    [finding] = decide(record(4, **fields)).outcomes[0].errors
    return finding.message


def test_a_byte_order_mark_before_an_action_is_named_as_two_files_joined() -> None:
    assert _said(action="\ufeffCreate") == (
        "Action '\ufeffCreate' (which starts with an invisible byte order mark, U+FEFF, as when two files are joined:"
        " delete it) is not recognised: expected Create, Update, Withdraw or Reinstate (exact spelling)."
    )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"grade": "5\u200b"}, "'5\u200b' (which holds U+200B (a zero-width space) at character 2, which shows as"),
        (
            {"language_for_assessment": "Eng\u00a0lish"},
            "'Eng\u00a0lish' (which holds U+00A0 (a no-break space) at character 4: write an ordinary space)",
        ),
    ],
)
def test_an_invisible_character_or_an_unusual_space_in_a_value_said_back_is_named(
    fields: dict[str, str], named: str
) -> None:
    assert named in _said(**fields)


def test_a_value_with_nothing_unseen_is_said_back_as_before() -> None:
    assert _said(action="Craete").startswith("Action 'Craete' is not recognised:")
    assert _said(grade="Ü").startswith("Grade 'Ü' is not a grade of")


def test_a_bidirectional_control_is_left_to_where_the_value_is_shown() -> None:
    """The portal and `lrs` show it as its code point ([U+202E]); the message does not name it twice."""
    assert _said(grade="Me\u202erit").startswith("Grade 'Me\u202erit' is not a grade of")
