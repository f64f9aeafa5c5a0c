"""Who may change the learner registry, and what registering a ULN twice means."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from lrs_domain.reference import Learner
from lrs_platform.identity import Principal
from validation.registry_access import (
    RegistrationOutcome,
    checked_uln,
    may_change_sharing,
    may_register,
    registration_outcome,
    sharing_after_import,
    who_changed_sharing,
)

ULN = "1000000043"
OTHER_ULN = "1026893096"
REGISTERED = Learner(ULN, "Amira", "Khan", date(2006, 3, 14), gender=2, ability_to_share=1)


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        ("provider:10004567", True),
        ("provider:college-a", False),  # a key from before keys were checked: its link could name no UKPRN
        ("operator:ops", True),
        ("ao:RN5133", False),
        (f"learner:{ULN}", False),
    ],
)
def test_providers_and_operators_register_learners(principal: str, allowed: bool) -> None:
    assert may_register(Principal.parse(principal)) is allowed


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        ("provider:10004567", True),  # registered the learner
        ("provider:10009999", False),  # any other provider
        (f"learner:{ULN}", True),
        (f"learner:{OTHER_ULN}", False),
        ("ao:RN5133", False),
        ("operator:ops", True),
    ],
)
def test_sharing_is_changed_by_the_learner_a_linked_provider_or_an_operator(principal: str, allowed: bool) -> None:
    assert may_change_sharing(Principal.parse(principal), (ULN,), frozenset({"10004567"})) is allowed


def test_a_provider_is_refused_sharing_of_a_learner_with_no_links_at_all() -> None:
    assert not may_change_sharing(Principal.parse("provider:10004567"), (ULN,), frozenset())


def test_a_provider_key_not_naming_a_ukprn_changes_no_sharing_even_through_its_old_links() -> None:
    """Keys issued before decision 0121 may name a provider otherwise; their links predate the checks."""
    assert not may_change_sharing(Principal.parse("provider:acme-college"), (ULN,), frozenset({"acme-college"}))


def test_a_merged_learner_changes_sharing_by_any_of_their_ulns() -> None:
    assert may_change_sharing(Principal.parse(f"learner:{OTHER_ULN}"), (ULN, OTHER_ULN), frozenset())


def test_an_unregistered_uln_is_new() -> None:
    assert registration_outcome(None, REGISTERED) is RegistrationOutcome.NEW


def test_the_same_details_again_change_nothing_whatever_the_case_spacing_or_sharing() -> None:
    again = replace(REGISTERED, given_name=" AMIRA ", family_name="khan", ability_to_share=2)
    assert registration_outcome(REGISTERED, again) is RegistrationOutcome.UNCHANGED


def test_a_name_in_another_unicode_form_is_the_same_name() -> None:
    """Registered composed, imported again as a Mac writes it (a letter and a combining accent): decision 0167."""
    registered = replace(REGISTERED, given_name="Siân")
    assert (
        registration_outcome(registered, replace(registered, given_name="Sia\u0302n")) is RegistrationOutcome.UNCHANGED
    )


@pytest.mark.parametrize(
    "change",
    [
        {"given_name": "Someone"},
        {"family_name": "Else"},
        {"date_of_birth": date(2006, 3, 15)},
        {"date_of_birth": None},
        {"gender": 9},
    ],
)
def test_other_details_for_a_registered_uln_are_a_conflict(change: dict[str, object]) -> None:
    assert registration_outcome(REGISTERED, replace(REGISTERED, **change)) is RegistrationOutcome.CONFLICT  # type: ignore[arg-type]


@pytest.mark.parametrize("uln", ["1000000043", "1026893096", "6936002314", "4444599390", "5555555554"])
def test_a_uln_whose_last_digit_is_its_check_digit_is_taken_as_it_is(uln: str) -> None:
    assert checked_uln(uln) == uln


@pytest.mark.parametrize(
    "uln",
    ["1000000042", "1000000044", "1000000045", "1234567890", "1000000063"],
    ids=["one-below", "one-above", "two-above", "counting", "remainder-zero"],
)
def test_a_uln_whose_check_digit_is_wrong_is_refused_without_quoting_it(uln: str) -> None:
    with pytest.raises(ValueError, match=r"check digit is wrong \(RV002\)") as refused:
        checked_uln(uln)
    assert uln not in str(refused.value)


@pytest.mark.parametrize(("uln", "code"), [("9999999999", "RV003"), ("0123456789", "RV001")])
def test_the_temporary_and_a_badly_formed_uln_are_refused_with_their_own_codes(uln: str, code: str) -> None:
    with pytest.raises(ValueError, match=rf"\({code}\)") as refused:
        checked_uln(uln)
    assert "check digit" not in str(refused.value)


@pytest.mark.parametrize(
    ("changed_by", "viewer", "said"),
    [
        ("provider:10004567", "learner:1000000043", "learning provider 10004567, linked to you"),
        ("provider:10004567", "provider:10004567", "you"),
        ("provider:10009999", "provider:10004567", "a learning provider linked to the learner"),  # no UKPRN
        ("learner:1000000043", "provider:10004567", "the learner"),
        ("operator:alice", "learner:1000000043", "an LRS operator"),  # no operator's name
        ("merge of 1000000051", "learner:1000000043", "the merge of the learner's ULNs (an opt-out kept)"),
        ("provider:10004567", "operator:support", "provider:10004567"),
    ],
)
def test_who_changed_a_learners_sharing_is_said_as_the_reader_may_know_it(
    changed_by: str, viewer: str, said: str
) -> None:
    assert who_changed_sharing(changed_by, Principal.parse(viewer)) == said


NOT_SEEN, SHARES, OPTED_OUT = 0, 1, 2


@pytest.mark.parametrize(
    ("held", "held_in_file", "in_file", "after"),
    [
        (SHARES, SHARES, SHARES, SHARES),  # the same file again
        (OPTED_OUT, SHARES, SHARES, OPTED_OUT),  # the learner opted out since the file: the same file leaves it
        (SHARES, OPTED_OUT, OPTED_OUT, SHARES),  # the learner shared again since: the same file leaves it
        (SHARES, SHARES, OPTED_OUT, OPTED_OUT),  # the centre flagged an opt-out in the register
        (NOT_SEEN, NOT_SEEN, SHARES, SHARES),  # the privacy notice seen
        (OPTED_OUT, OPTED_OUT, SHARES, OPTED_OUT),  # a file never removes an opt-out: the learner or a provider does
        (OPTED_OUT, None, SHARES, OPTED_OUT),
        (SHARES, None, OPTED_OUT, OPTED_OUT),  # registered by a provider, first named by a file
        (NOT_SEEN, None, NOT_SEEN, NOT_SEEN),
    ],
)
def test_a_learner_file_changes_a_registered_learners_sharing_only_where_it_says_something_new(
    held: int, held_in_file: int | None, in_file: int, after: int
) -> None:
    assert sharing_after_import(held, held_in_file, in_file) == after
