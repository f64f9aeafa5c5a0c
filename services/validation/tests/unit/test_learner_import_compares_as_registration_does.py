"""A learner file's import writes (and counts "updated", and announces again) only the registered learners whose
details differ as the registry compares them: names in their canonical caseless form (decision 0167), date of birth,
gender, and the ability to share the import leaves. A file re-exported by a Mac (names decomposed) or in capitals is
unchanged, as the same details sent to `POST /v1/learners` are (`registration_outcome`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from lrs_domain.reference import Learner
from validation.learner_registry import _registering
from validation.registry_access import RegistrationOutcome, registration_outcome

ULN, NEW = "1000000043", "1026893096"
REGISTERED = Learner(ULN, "Siân Ŵyn", "Ní Bhriain", date(2001, 3, 12), 2, 1)


def _held(learner: Learner, *, erased: bool = False) -> dict[str, Any]:
    """The registry's row of `learner`, as the import reads it; a file has named them before."""
    return {
        "uln": learner.uln,
        "given_name": None if erased else learner.given_name,
        "family_name": None if erased else learner.family_name,
        "date_of_birth": None if erased else learner.date_of_birth,
        "gender": None if erased else learner.gender,
        "ability_to_share": learner.ability_to_share,
        "ability_to_share_in_file": learner.ability_to_share,
        "erased": erased,
    }


def _written(held: dict[str, Any], learner: Learner) -> list[str]:
    """The ULNs whose rows an import of `learner` writes, the registry holding `held`."""
    _, _, columns = _registering({learner.uln: learner}, [held])
    assert len(columns) == 6
    return [str(uln) for uln in columns[0]]


SAME = [
    pytest.param(replace(REGISTERED, given_name="Sia\u0302n W\u0302yn", family_name="Ni\u0301 Bhriain"), id="nfd"),
    pytest.param(replace(REGISTERED, given_name="SIÂN ŴYN", family_name="ní bhriain"), id="case"),
    pytest.param(replace(REGISTERED, given_name="SIA\u0302N W\u0302YN"), id="case-and-nfd"),
    pytest.param(REGISTERED, id="as-registered"),
]


@pytest.mark.parametrize("again", SAME)
def test_the_same_learner_in_another_case_or_unicode_form_writes_no_row(again: Learner) -> None:
    assert _written(_held(REGISTERED), again) == []
    assert registration_outcome(REGISTERED, again) is RegistrationOutcome.UNCHANGED  # the single door agrees


@pytest.mark.parametrize(
    "change",
    [
        {"given_name": "Sian Ŵyn"},  # no circumflex: another name (0167: matching it would be guessing)
        {"family_name": "Ni Bhriain"},
        {"date_of_birth": date(2001, 3, 13)},
        {"date_of_birth": None},
        {"gender": 1},
    ],
)
def test_other_details_are_written(change: dict[str, Any]) -> None:
    other = replace(REGISTERED, **change)
    assert _written(_held(REGISTERED), other) == [ULN]
    assert registration_outcome(REGISTERED, other) is RegistrationOutcome.CONFLICT


def test_a_new_ability_to_share_from_the_file_is_written_whatever_the_names_form() -> None:
    held = _held(REGISTERED) | {"ability_to_share": 0, "ability_to_share_in_file": 0}
    assert _written(held, replace(REGISTERED, given_name="Sia\u0302n W\u0302yn", ability_to_share=1)) == [ULN]


def test_a_new_learner_is_written_and_an_erased_one_never() -> None:
    new = replace(REGISTERED, uln=NEW)
    _, _, columns = _registering({NEW: new, ULN: REGISTERED}, [_held(REGISTERED, erased=True)])
    assert columns[0] == [NEW]
