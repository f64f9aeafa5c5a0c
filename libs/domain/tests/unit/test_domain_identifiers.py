from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrs_domain.identifiers import (
    TEMPORARY_ULN,
    display_qan,
    has_valid_uln_check_digit,
    is_valid_ukprn,
    is_valid_uln,
    is_well_formed_uln,
    mask_uln,
    normalise_qan,
    parse_qan,
    qan_check_character,
    uln_check_digit,
)

# DOMAIN.md §2
VALID_ULNS = ["1000000043", "1026893096", "6936002314", "4444599390"]
INVALID_ULNS = {
    "1000000042": "check digit",
    "1000000063": "remainder 0",
    "0123456789": "leading zero",
    "0000000018": "leading zero, check digit right",
    "1234567890": "check digit",
}


@pytest.mark.parametrize("uln", VALID_ULNS)
def test_domain_examples_of_valid_ulns_are_valid(uln: str) -> None:
    assert is_valid_uln(uln)


@pytest.mark.parametrize("uln", INVALID_ULNS)
def test_domain_examples_of_invalid_ulns_are_invalid(uln: str) -> None:
    assert not is_valid_uln(uln)


def test_a_remainder_of_zero_leaves_no_valid_check_digit() -> None:
    assert uln_check_digit("100000006") is None
    assert not any(is_valid_uln(f"100000006{digit}") for digit in range(10))


def test_the_temporary_uln_is_well_formed_but_never_valid() -> None:
    assert is_well_formed_uln(TEMPORARY_ULN)
    assert not is_valid_uln(TEMPORARY_ULN)


@pytest.mark.parametrize("text", ["", "123456789", "12345678901", "0123456789", "12345678a0", "\uff11" * 10])
def test_badly_formed_ulns(text: str) -> None:
    assert not is_well_formed_uln(text)


first_nine_digits = st.from_regex(r"[1-9][0-9]{8}", fullmatch=True)


@given(first_nine_digits)
def test_a_generated_uln_with_its_check_digit_validates(first_nine: str) -> None:
    check = uln_check_digit(first_nine)
    if check is None:
        assert not any(has_valid_uln_check_digit(f"{first_nine}{digit}") for digit in range(10))
    else:
        uln = f"{first_nine}{check}"
        assert is_valid_uln(uln) or uln == TEMPORARY_ULN


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=9, max_size=9))
def test_the_check_digit_is_the_weighted_sum_of_the_digits_whatever_digits_they_are(first_nine: str) -> None:
    remainder = sum(weight * int(digit) for weight, digit in zip(range(10, 1, -1), first_nine, strict=True)) % 11
    assert uln_check_digit(first_nine) == (None if remainder == 0 else 10 - remainder)


def test_a_check_digit_is_refused_for_what_is_not_nine_digits() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        uln_check_digit("12345678x")
    with pytest.raises(ValueError, match="exactly nine digits"):
        uln_check_digit("1234")


@given(first_nine_digits, st.integers(min_value=1, max_value=9))
def test_changing_the_last_digit_of_a_valid_uln_makes_it_invalid(first_nine: str, shift: int) -> None:
    check = uln_check_digit(first_nine)
    if check is None:
        return
    changed = f"{first_nine}{(check + shift) % 10}"
    assert not is_valid_uln(changed)


@given(first_nine_digits, st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=9))
def test_changing_any_one_digit_of_a_valid_uln_makes_it_invalid(first_nine: str, position: int, shift: int) -> None:
    check = uln_check_digit(first_nine)
    if check is None:
        return
    digits = list(f"{first_nine}{check}")
    digits[position] = str((int(digits[position]) + shift) % 10)
    changed = "".join(digits)
    # Weights 10..2 are all below 11 and 11 is prime, so one changed digit always changes the sum mod 11.
    assert not is_valid_uln(changed)


def test_mask_uln_keeps_only_the_last_four_digits() -> None:
    assert mask_uln("1000000043") == "******0043"
    assert mask_uln("0123456789") == "******6789"  # ten digits, badly formed: still shown as a ULN's last four


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("12345", "*****"),
        ("123", "***"),
        ("", ""),
        ("100000004X", "**********"),
        ("10000000431", "**********…"),
        ("\uff11" + "\uff10" * 7 + "\uff14\uff13", "**********"),  # fullwidth digits: not a ULN's ASCII digits
        ("x" * 300, "**********…"),
    ],
)
def test_a_value_that_is_not_ten_digits_is_masked_whole_never_as_a_ulns_last_four(text: str, masked: str) -> None:
    assert mask_uln(text) == masked


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("600/1166/X", "6001166X"),
        ("6001166X", "6001166X"),
        ("6001166x", "6001166X"),
        (" 600/1166/X ", "6001166X"),
        ("K/501/5773", "K/501/5773"),
        ("k/501/5773", "K/501/5773"),
    ],
)
def test_qans_are_normalised(text: str, normalised: str) -> None:
    assert normalise_qan(text) == normalised


@pytest.mark.parametrize(
    "text",
    ["", "600/1166", "600-1166-X", "6001166", "600/1166/XX", "600/11666/X", "K5015773", "KK/501/5773", "6001166Y"],
)
def test_badly_formed_qans(text: str) -> None:
    assert parse_qan(text) is None


def test_display_qan_restores_the_obliques() -> None:
    assert display_qan("6001166X") == "600/1166/X"
    assert display_qan("K/501/5773") == "K/501/5773"


def test_qan_check_character() -> None:
    assert qan_check_character("6001166") == "X"
    assert qan_check_character("6030304") == "9"
    parsed = parse_qan("610/0007/9")
    assert parsed is not None
    assert not parsed.check_character_matches  # a real approved number that breaks the rule
    unit = parse_qan("K/501/5773")
    assert unit is not None
    assert unit.is_unit_reference
    assert unit.check_character_matches


@given(st.from_regex(r"[0-9]{7}", fullmatch=True))
def test_a_qan_with_its_check_character_passes_and_any_other_fails(first_seven: str) -> None:
    check = qan_check_character(first_seven)
    passing = parse_qan(first_seven + check)
    assert passing is not None
    assert passing.check_character_matches
    for other in "0123456789X":
        if other != check:
            failing = parse_qan(first_seven + other)
            assert failing is not None
            assert not failing.check_character_matches


@pytest.mark.parametrize(
    ("text", "valid"), [("10001234", True), ("1000123", False), ("100012345", False), ("1000123A", False)]
)
def test_ukprn_is_eight_digits(text: str, valid: bool) -> None:
    assert is_valid_ukprn(text) is valid


@given(st.one_of(st.text(max_size=11), st.text(alphabet="0123456789", min_size=10, max_size=10)))
def test_a_uln_is_valid_exactly_when_well_formed_not_temporary_and_its_check_digit_is_right(text: str) -> None:
    """`is_valid_uln` is written out for speed: it says what the rules it stands for say."""
    said = is_well_formed_uln(text) and text != TEMPORARY_ULN and has_valid_uln_check_digit(text)
    assert is_valid_uln(text) == said
