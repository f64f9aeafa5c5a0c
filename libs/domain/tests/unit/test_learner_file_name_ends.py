"""A learner file's name with a control character at an end is refused, as a batch's name and the registry API's
are, not trimmed away by `str.strip()` (property walk, finding 3); white space at the ends is trimmed as before."""

from __future__ import annotations

import re
from datetime import date

import pytest

from lrs_domain.reference_data import ReferenceDataError, load_learners

HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"


def _file(given_name: str) -> str:
    return f"{HEADER}1000000043,{given_name},Smith,2000-01-01,1,1,\n"


@pytest.mark.parametrize(("name", "code_point", "at"), [("Lily\x0b", "U+000B", 5), ("\x1cA", "U+001C", 1)])
def test_a_control_character_at_an_end_of_a_name_is_refused(name: str, code_point: str, at: int) -> None:
    refusal = f"GivenName holds the control character {code_point} at character {at}"
    with pytest.raises(ReferenceDataError, match=re.escape(refusal)):
        load_learners(_file(name), date(2026, 12, 7))


def test_spaces_at_the_ends_of_a_name_are_trimmed() -> None:
    [learner] = load_learners(_file("  Lily \t"), date(2026, 12, 7))

    assert learner.given_name == "Lily"
