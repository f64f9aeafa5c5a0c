"""Identifiers the service judges: ULN, QAN (and QCF unit references) and UKPRN.

Public API:
- `is_well_formed_uln(text)`, `has_valid_uln_check_digit(uln)`, `is_valid_uln(text)`,
  `uln_check_digit(first_nine)`, `TEMPORARY_ULN`, `mask_uln(text)`;
- `parse_qan(text) -> ParsedQan | None`, `normalise_qan(text)`, `display_qan(normalised)`,
  `qan_check_character(first_seven)`;
- `is_valid_ukprn(text)`.

Rules (DOMAIN.md §2): a ULN is `[1-9][0-9]{9}` whose tenth digit is 10 - (10·d1 + 9·d2 + … + 2·d9)
mod 11, a remainder of 0 making every ULN with those first nine digits invalid; `9999999999` is the
temporary ULN, never uploaded. A QAN is written `NNN/NNNN/C` or as 8 characters; its check character
is (8·q1 + 7·q2 + … + 2·q7) mod 11 with 10 written `X`, but some approved numbers break it, so a
mismatch is only ever a warning. QCF unit references are `L/NNN/NNNN` and have no check character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import mul

TEMPORARY_ULN = "9999999999"
ULN_LENGTH = 10

_ULN = re.compile(r"[1-9][0-9]{9}")
_QAN_OBLIQUE = re.compile(r"([0-9]{3})/([0-9]{4})/([0-9X])")
_QAN_COMPACT = re.compile(r"[0-9]{7}[0-9X]")
_UNIT_REFERENCE = re.compile(r"[A-Z]/[0-9]{3}/[0-9]{4}")
_UKPRN = re.compile(r"[0-9]{8}")

_MASK = "******"
_ULN_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_ZERO = ord("0")
_ULN_WEIGHED_ZEROS = _ZERO * sum(_ULN_WEIGHTS)
_QAN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2)


def is_well_formed_uln(text: str) -> bool:
    """Ten ASCII digits, the first not 0."""
    return _ULN.fullmatch(text) is not None


def uln_check_digit(first_nine: str) -> int | None:
    """The check digit that completes nine digits, or None when no digit can (remainder 0)."""
    if len(first_nine) != 9:
        raise ValueError("a ULN check digit completes exactly nine digits")
    if first_nine.isascii() and first_nine.isdigit():  # every ULN judged: weigh the digits' codes, then take the zeros'
        remainder = (sum(map(mul, _ULN_WEIGHTS, first_nine.encode())) - _ULN_WEIGHED_ZEROS) % 11
    else:
        remainder = sum(map(mul, _ULN_WEIGHTS, map(int, first_nine))) % 11
    return None if remainder == 0 else 10 - remainder


def has_valid_uln_check_digit(uln: str) -> bool:
    """Whether a well-formed ULN's last digit is its check digit."""
    return uln_check_digit(uln[:9]) == int(uln[9])


def is_valid_uln(text: str) -> bool:
    """A ULN that may be uploaded: well formed, correct check digit, not the temporary ULN. The only ULNs a
    learner can have, so the only ones a learner's key is made for (decision 0175)."""
    # `is_well_formed_uln` and `uln_check_digit` written out on the digits' codes: ingest and validation ask this
    # of every record, and the regular expression, the slice and the weights' map took twice as long
    if len(text) != ULN_LENGTH or not text.isascii() or not text.isdigit() or text[0] == "0" or text == TEMPORARY_ULN:
        return False
    d = text.encode()
    weighed = 10 * d[0] + 9 * d[1] + 8 * d[2] + 7 * d[3] + 6 * d[4] + 5 * d[5] + 4 * d[6] + 3 * d[7] + 2 * d[8]
    remainder = (weighed - _ULN_WEIGHED_ZEROS) % 11
    return remainder != 0 and d[9] - _ZERO == 10 - remainder


def mask_uln(text: str) -> str:
    """`1000000043` → `******0043`. Results and logs show no more of a ULN than its last 4 digits.

    A value that is not ten digits is no ULN, and its mask does not pretend to be one: every character is
    masked (`12345` → `*****`), and a value longer than ten shows ten then `…`.
    """
    if len(text) == ULN_LENGTH and text.isascii() and text.isdigit():
        return _MASK + text[-4:]
    return "*" * len(text) if len(text) <= ULN_LENGTH else "*" * ULN_LENGTH + "…"


@dataclass(frozen=True, slots=True)
class ParsedQan:
    """A well-formed qualification number or QCF unit reference.

    `normalised` is the 8-character form for qualifications and `L/NNN/NNNN` for units.
    `check_character_matches` is always True for units, which carry no check character.
    """

    normalised: str
    is_unit_reference: bool
    check_character_matches: bool


def qan_check_character(first_seven: str) -> str:
    """(8·q1 + 7·q2 + … + 2·q7) mod 11 over seven digits, with 10 written `X`."""
    if len(first_seven) != 7:
        raise ValueError("a QAN check character completes exactly seven digits")
    remainder = sum(map(mul, _QAN_WEIGHTS, map(int, first_seven))) % 11
    return "X" if remainder == 10 else str(remainder)


def parse_qan(text: str) -> ParsedQan | None:
    """Accepts `NNN/NNNN/C`, `NNNNNNNC` and `L/NNN/NNNN` (letters in any case); None when badly formed."""
    candidate = text.strip().upper()
    if _UNIT_REFERENCE.fullmatch(candidate):
        return ParsedQan(candidate, is_unit_reference=True, check_character_matches=True)
    oblique = _QAN_OBLIQUE.fullmatch(candidate)
    if oblique:
        compact = "".join(oblique.groups())
    elif _QAN_COMPACT.fullmatch(candidate):
        compact = candidate
    else:
        return None
    matches = qan_check_character(compact[:7]) == compact[7]
    return ParsedQan(compact, is_unit_reference=False, check_character_matches=matches)


def normalise_qan(text: str) -> str | None:
    """The stored form of a qualification number or unit reference, or None when badly formed."""
    parsed = parse_qan(text)
    return parsed.normalised if parsed else None


def display_qan(normalised: str) -> str:
    """`6001166X` → `600/1166/X`; unit references and anything unexpected come back unchanged."""
    if _QAN_COMPACT.fullmatch(normalised):
        return f"{normalised[:3]}/{normalised[3:7]}/{normalised[7]}"
    return normalised


def is_valid_ukprn(text: str) -> bool:
    """Eight ASCII digits."""
    return _UKPRN.fullmatch(text) is not None
