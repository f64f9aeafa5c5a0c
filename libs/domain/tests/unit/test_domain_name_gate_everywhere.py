"""Every check of a name's length asks the one gate (`lrs_domain.names.name_too_long`) first: the composed form's
length, taken in C, and a count in Python only of a name that composes longer than the limit (a review of session
61's work, finding 9). A batch record's names, the learner registry's and a learner file's answer as before: the
length said is the full count, and a name at the limit is registered."""

from __future__ import annotations

from datetime import date

import pytest

import lrs_domain.names
import lrs_domain.reference_data
from lrs_domain.reference_data import ReferenceDataError, load_learners

from .name_counting import names_counted

HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"
TODAY = date(2026, 12, 4)
# at the limit of 35 as a reader counts them, none of them ASCII, and none longer composed: each was counted in Python
# before (a Yoruba "ẹ́" composes as two code points, so 35 of them are still counted, and registered)
AT_THE_LIMIT = ["é" * 35, "e\u0301" * 35, "Siân" + "ŵ" * 31, "\u0f43" * 17 + "a", "王" * 35]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names counted in Python, by the gate or by the message saying how long a name is."""
    return names_counted(monkeypatch, lrs_domain.reference_data)


@pytest.mark.parametrize("name", AT_THE_LIMIT)
def test_a_learner_file_counts_no_name_the_composed_form_keeps_within_the_limit(name: str, counted: list[str]) -> None:
    [learner] = load_learners(f"{HEADER}1000000043,{name},{name},,,,\n", TODAY)
    assert (learner.given_name, learner.family_name) == (name, name)
    assert counted == []


def test_a_name_longer_composed_is_counted_and_registered_at_the_limit(counted: list[str]) -> None:
    name = "ẹ́" * 35
    [learner] = load_learners(f"{HEADER}1000000043,{name},King,,,,\n", TODAY)
    assert learner.given_name == name
    assert counted == [name]


@pytest.mark.parametrize(
    ("name", "said"),
    [("é" * 36, 36), ("\u0f43" * 18, 36), ("A" + "\u0f43" * 34, 69), ("K" + "\u0300" * 37, 36), ("L" * 36, 36)],
)
def test_a_learner_file_still_says_how_long_a_name_too_long_is(name: str, said: int) -> None:
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(f"{HEADER}1000000043,{name},King,,,,\n", TODAY)
    assert str(raised.value).startswith(f"line 2: GivenName is {said} characters long; a name has at most 35")
