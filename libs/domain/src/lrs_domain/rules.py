"""Record rules (DOMAIN.md §5-§7) as pure functions that return `Finding`s.

Public API:
- `CODE_ORDER` and `order_findings(findings)` — the one order in which a record's codes are reported;
- `RuleContext`, `judge_record(record, context) -> JudgedRecord` — every rule that needs no
  achievement state, shared by the batch decider and the offline checker;
- `judge_against_state(...) -> StateVerdict` — the state rules (RV012-RV017) for one record, and
  `new_achievement_warnings(...)` — the warnings on a Create it accepts beside the AO's other states (WV004, WV005,
  WV008), with the parts of WV005 (`provisionals_beside`, `provisional_not_superseded`) and of WV008 (`finals_near`,
  `final_at_a_near_date`) for the decider to judge over the batch;
- `duplicate_in_batch(...)`, `not_ordered_by_uln()` — the two batch-position findings (RV020, WV002);
- `exceeds_rejection_threshold(rejected, total)` — the RS005 arithmetic, and `rejected_share_shown(rejected,
  total)` — the rejected share as people read it, on the same side of 30% as the decision;
- the single-field checks (`check_uln`, `check_award_date`, …) for callers that need only one; they
  take values as `SubmittedRecord` carries them (trimmed, empty as None; see `trimmed`);
- `why_no_learner_has(uln)` — the same ULN rules in the words for a ULN asked about, not uploaded.

A rejected record reports every code that applies, ordered by `CODE_ORDER`. Where one code is the
precise form of another about the same value, only the precise one is reported: the temporary ULN is
RV003 (not also RV002), and a failed QCF grade is RV010 (not also RV009). Rules whose input is
missing or unreadable stay silent: the missing or unreadable value is already reported, so a record
with a badly formed ULN is not also "not verified", and a record whose grade is missing is not also
"already exists with different data".
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from lrs_contracts.batch import JobType, RecordAction, SubmittedRecord
from lrs_contracts.codes import REJECTION_THRESHOLD, RecordCode, WarningCode
from lrs_contracts.outcomes import Finding
from lrs_contracts.plr import AchievementData, ResultStatus
from lrs_contracts.reference import Framework
from lrs_contracts.text import (
    MAY_HOLD_UNSEEN,
    REFUSED_IN_ONE_LINE,
    has_visible_text,
    lost_letter_in_name,
    refused_character,
    unseen_in_name,
    written_date,
)
from lrs_contracts.text import why_not_a_date as why_not_a_date  # said here too: the import's and the header's words
from lrs_domain.achievements import AchievementState
from lrs_domain.grades import FAILED_QCF_GRADES
from lrs_domain.identifiers import (
    TEMPORARY_ULN,
    ParsedQan,
    display_qan,
    has_valid_uln_check_digit,
    is_valid_ukprn,
    is_well_formed_uln,
    mask_uln,
    parse_qan,
    qan_check_character,
)
from lrs_domain.merges import LearnerMerges
from lrs_domain.names import comparable_name, garbled_in_name, name_length, name_too_long, typographic_in_name
from lrs_domain.reference import Catalogue, Learner, Qualification
from lrs_domain.trusted import trusted

# Most specific first. A code is more specific than the codes whose checks it presupposes: the state
# of the achievement (which needs a valid ULN, a known QAN and a valid award date) comes first, then
# the result against its qualification (which needs a known QAN), then the learner, then single field
# values, and last the most general of all: a field missing, too long or not allowed.
CODE_ORDER: tuple[RecordCode, ...] = (
    RecordCode.DUPLICATE_IN_BATCH,  # RV020
    RecordCode.PROVISIONAL_AFTER_FINAL,  # RV017
    RecordCode.UPDATE_OF_WITHDRAWN,  # RV016
    RecordCode.WRONG_STATE,  # RV015
    RecordCode.UPDATE_CHANGES_FIXED_FIELD,  # RV013
    RecordCode.CONFLICTING_DUPLICATE,  # RV014
    RecordCode.TARGET_NOT_FOUND,  # RV012
    RecordCode.QCF_FAILED,  # RV010
    RecordCode.QCF_PROVISIONAL,  # RV011
    RecordCode.GRADE_NOT_IN_SET,  # RV009
    RecordCode.NOT_AWARDED_BY_AO,  # RV022
    RecordCode.QAN_UNKNOWN,  # RV005
    RecordCode.QAN_MALFORMED,  # RV006
    RecordCode.LEARNER_NOT_VERIFIED,  # RV004
    RecordCode.ULN_TEMPORARY,  # RV003
    RecordCode.ULN_CHECK_DIGIT,  # RV002
    RecordCode.ULN_MALFORMED,  # RV001
    RecordCode.AWARD_DATE_TOO_EARLY,  # RV007
    RecordCode.AWARD_DATE_INVALID,  # RV008
    RecordCode.UKPRN_MALFORMED,  # RV018
    RecordCode.LANGUAGE_UNKNOWN,  # RV019
    RecordCode.FIELD_MISSING_OR_TOO_LONG,  # RV021
)
_RANK: dict[str, int] = {
    **{code.value: rank for rank, code in enumerate(CODE_ORDER)},
    **{code.value: len(CODE_ORDER) + rank for rank, code in enumerate(WarningCode)},
}

EARLIEST_AWARD_DATE = date(2006, 9, 1)
# the earliest date of birth a learner is registered with (by import or one at a time) or a batch record may give
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_NAME_LENGTH = 35
MAX_MIS_IDENTIFIER_LENGTH = 128
GENDERS: tuple[str, ...] = ("0", "1", "2", "9")
LANGUAGES: tuple[str, ...] = ("English", "Welsh", "Irish")

_WHOLE_NUMBER = re.compile(r"[0-9]+")
_ECHO_LIMIT = 40
# A batch names the same ULNs, QANs and dates again and again; the checks of one value are pure.
_CACHE_SIZE = 16_384

_LABELS: dict[str, str] = {
    "action": "Action",
    "mis_identifier": "MIS identifier",
    "uln": "ULN",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "gender": "Gender",
    "qualification_number": "Qualification number",
    "pathway": "Pathway",
    "award_date": "Award date",
    "grade": "Grade",
    "centre_ukprn": "UKPRN",
    "language_for_assessment": "Language for assessment",
    "credits": "Credits",
}
_ALWAYS_MANDATORY = ("uln", "given_name", "family_name", "qualification_number", "award_date")
_REQUIRED_GRADED = (*_ALWAYS_MANDATORY, "grade")
_MANDATORY_VALUES, _GRADED_VALUES = itemgetter(*_ALWAYS_MANDATORY), itemgetter(*_REQUIRED_GRADED)
_GRADED_ACTIONS = frozenset({RecordAction.CREATE, RecordAction.UPDATE})
# a dict, not `RecordAction(value)`: an enum's call is a descriptor, a class call and a lookup per record
_ACTIONS: dict[str, RecordAction] = {action.value: action for action in RecordAction}
# the record's values as submitted: not its line, its sealed details or the erased flag
_TEXT_FIELDS = tuple(
    name
    for name, field in SubmittedRecord.model_fields.items()
    if field.annotation == (str | None) and name != "personal"
)
_TEXT_VALUES = itemgetter(*_TEXT_FIELDS)


def order_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings in `CODE_ORDER` (warnings after errors); findings with the same code keep their order."""
    listed = tuple(findings)
    if len(listed) < 2:
        return listed
    return tuple(sorted(listed, key=lambda finding: _RANK.get(finding.code, len(_RANK))))


def exceeds_rejection_threshold(rejected: int, total: int) -> bool:
    """RS005: more than 30% rejected fails the batch; exactly 30% passes. Exact, no floating point."""
    if total <= 0:
        return False
    return Fraction(rejected, total) > Fraction(str(REJECTION_THRESHOLD))


def rejected_share_shown(rejected: int, total: int) -> str:
    """The share of a batch's records rejected, as shown to people: a percentage to one decimal ("32.4%").

    Rounded to the nearest tenth (a half up), except that a share just over 30% (up to 30.05%) is shown as 30.1%: a
    batch that failed RS005 never reads 30.0% or less, and one that passed never reads more than 30.0% (a share of
    at most 30% never rounds above it). 3,001 of 10,000 is "30.1%", 3,000 of 10,000 "30.0%", 601 of 2,003 (30.005%)
    "30.1%". No records is "0.0%".
    """
    if total <= 0:
        return "0.0%"
    tenths_of_a_percent = math.floor(Fraction(1000 * rejected, total) + Fraction(1, 2))
    if exceeds_rejection_threshold(rejected, total):
        tenths_of_a_percent = max(tenths_of_a_percent, math.floor(Fraction(str(REJECTION_THRESHOLD)) * 1000) + 1)
    whole, tenth = divmod(tenths_of_a_percent, 10)
    return f"{whole}.{tenth}%"


# --- single-field checks ---------------------------------------------------------------------------


def check_action(value: str | None) -> tuple[RecordAction | None, tuple[Finding, ...]]:
    """A missing action means Create; an unknown one is RV021 (and the action stays unknown)."""
    if value is None:
        return RecordAction.CREATE, ()
    action = _ACTIONS.get(value)
    if action is not None:
        return action, ()
    return None, (
        _error(
            RecordCode.FIELD_MISSING_OR_TOO_LONG,
            "action",
            f"Action {_echo(value)} is not recognised: expected Create, Update, Withdraw or Reinstate "
            "(exact spelling).",
        ),
    )


def check_mandatory_fields(record: SubmittedRecord, action: RecordAction | None) -> tuple[Finding, ...]:
    graded = action in _GRADED_ACTIONS
    values = record.__dict__
    if None not in (_GRADED_VALUES if graded else _MANDATORY_VALUES)(values):  # nearly every record
        return ()
    required = _REQUIRED_GRADED if graded else _ALWAYS_MANDATORY
    action_name = action.value if action else "every action"
    return tuple(
        _error(
            RecordCode.FIELD_MISSING_OR_TOO_LONG,
            field,
            f"{_LABELS[field]} is missing: it is required for {action_name}.",
        )
        for field in required
        if values[field] is None
    )


def check_name_lengths(record: SubmittedRecord) -> tuple[Finding, ...]:
    findings = []
    for field in ("given_name", "family_name"):
        name = getattr(record, field)
        if name is not None and (length := name_length(name)) > MAX_NAME_LENGTH:
            findings.append(
                _error(
                    RecordCode.FIELD_MISSING_OR_TOO_LONG,
                    field,
                    f"{_LABELS[field]} is {length} characters long: at most {MAX_NAME_LENGTH} are allowed.",
                )
            )
    return tuple(findings)


def check_name_characters(record: SubmittedRecord) -> tuple[Finding, ...]:
    """RV021 for a name the learner registry could not hold (`lrs_contracts.text`, one line): a line break (CR, LF,
    NEL, U+2028, U+2029) or a bidirectional control (U+061C, U+202A-U+202E, U+2066-U+2069); for a name with no
    character a reader sees (`has_visible_text`: a zero-width space, a Hangul filler alone), which the registry
    refuses as it refuses a missing one; and for a name holding what a reader cannot see or tell from one ordinary
    space (`unseen_in_name`: a no-break space, a TAB, a run of spaces, a soft hyphen, a zero-width space, a byte
    order mark). A record value may span lines and hold them, so such a name passes the door (RS001), but it looks
    like another name on every screen: named by its character and position (never quoted), not left to RV004 alone,
    which cannot say what is wrong with it (decision 0157). And for a name holding '?' or U+FFFD
    (`lost_letter_in_name`), where a letter was lost when the file was saved in an encoding without it."""
    findings = []
    for field in ("given_name", "family_name"):
        name = getattr(record, field)
        if name is None:
            continue
        label = _LABELS[field]
        if refused := refused_character(name, one_line=True, one_line_is="a name"):
            findings.append(_error(RecordCode.FIELD_MISSING_OR_TOO_LONG, field, f"{label} holds {refused}."))
        elif (lost := lost_letter_in_name(name)) is not None:
            findings.append(_error(RecordCode.FIELD_MISSING_OR_TOO_LONG, field, f"{label} holds {lost}."))
        elif (unseen := unseen_in_name(name)) is not None:
            message = (
                f"{label} holds {unseen}."
                if has_visible_text(name)
                else f"{label} has no character a reader sees, only {unseen.partition(',')[0]}: write the"
                " learner's name as it reads."
            )
            findings.append(_error(RecordCode.FIELD_MISSING_OR_TOO_LONG, field, message))
    return tuple(findings)


def check_names(record: SubmittedRecord) -> tuple[Finding, ...]:
    """RV021 for each name too long (`check_name_lengths`) or holding a character it may not hold
    (`check_name_characters`), in field order. Such a name is still compared with the registry, so the record is also
    RV004 for a registered ULN whose learner it does not match (decision 0157)."""
    lengths, characters = check_name_lengths(record), check_name_characters(record)
    if not characters:
        return lengths
    return tuple(
        finding
        for field in ("given_name", "family_name")
        for finding in (*lengths, *characters)
        if finding.field == field
    )


def check_mis_identifier(value: str | None) -> tuple[Finding, ...]:
    """At most 128 characters, counted as a name's are (`name_length`: in the composed form, NFC, a letter's first
    two combining marks counted with it), so that the Unicode form the sender's system wrote an accent in does not
    change the verdict."""
    if value is None or (length := name_length(value)) <= MAX_MIS_IDENTIFIER_LENGTH:
        return ()
    return (
        _error(
            RecordCode.FIELD_MISSING_OR_TOO_LONG,
            "mis_identifier",
            f"MIS identifier is {length} characters long: at most {MAX_MIS_IDENTIFIER_LENGTH} are allowed.",
        ),
    )


def check_gender(value: str | None) -> tuple[Finding, ...]:
    if value is None or value in GENDERS:
        return ()
    return (
        _error(
            RecordCode.FIELD_MISSING_OR_TOO_LONG,
            "gender",
            "Gender is not allowed: expected 0 (not known), 1 (male), 2 (female) or 9 (not specified).",
        ),
    )


def check_date_of_birth(value: str | None, today: date) -> tuple[date | None, tuple[Finding, ...]]:
    """RV021 unreadable, or a day no learner registered can be born on: before 1900-01-01 or after `today` (the day
    the batch was received, in England), as the learner registry refuses it. The value itself is personal data, so
    the message does not repeat it (nor suggest how to write it). A date refused is not compared with the
    registry's."""
    if value is None:
        return None, ()
    parsed = parse_iso_date(value)
    if parsed is None:
        return None, (
            _error(
                RecordCode.FIELD_MISSING_OR_TOO_LONG,
                "date_of_birth",
                f"Date of birth {why_not_a_date(value, spreadsheet=True)}.",
            ),
        )
    if not EARLIEST_BIRTH_DATE <= parsed <= today:
        return None, (
            _error(
                RecordCode.FIELD_MISSING_OR_TOO_LONG,
                "date_of_birth",
                f"Date of birth is not a date of birth from {EARLIEST_BIRTH_DATE.isoformat()} to {today.isoformat()}.",
            ),
        )
    return parsed, ()


@lru_cache(maxsize=_CACHE_SIZE)
def check_uln(value: str | None) -> tuple[Finding, ...]:
    """RV001 badly formed, RV003 the temporary ULN, RV002 wrong check digit. Missing is RV021 elsewhere."""
    if value is None:
        return ()
    if not is_well_formed_uln(value):
        return (
            _error(
                RecordCode.ULN_MALFORMED,
                "uln",
                f"ULN {mask_uln(value)} is badly formed: {why_not_a_uln(value)}.",
            ),
        )
    if value == TEMPORARY_ULN:
        return (
            _error(
                RecordCode.ULN_TEMPORARY,
                "uln",
                "The temporary ULN 9999999999 cannot be uploaded: use the learner's own ULN.",
            ),
        )
    if not has_valid_uln_check_digit(value):
        return (
            _error(
                RecordCode.ULN_CHECK_DIGIT,
                "uln",
                f"ULN {mask_uln(value)} fails the check digit test: check the ULN with the centre or learner.",
            ),
        )
    return ()


# a number as a program writes one with a decimal point or an exponent: a JSON 6923195747.0 or 6.923195747e9 (read
# as the text 6923195747.0), a spreadsheet's 6.92E+09
_WRITTEN_AS_A_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?")


def why_not_a_uln(text: str) -> str:
    """What is wrong with a badly formed ULN, said without it (a ULN is personal data, and its mask hides what is
    wrong): ten masked characters told "a ULN is 10 digits" would not tell the writer that they are full-width
    digits, or that the ULN went as a number with a decimal point."""
    if ("." in text or "e" in text.lower()) and _WRITTEN_AS_A_DECIMAL.fullmatch(text):
        return (
            "it is written as a number with a decimal point or an exponent: send the ULN as its 10 digits (in JSON,"
            " as a string)"
        )
    if not (text.isascii() and text.isdigit()):
        return "it holds a character other than the digits 0-9 (a ULN is 10 digits and does not start with 0)"
    return "a ULN is 10 digits and does not start with 0"


NO_LEARNERS_ULN_CODES = frozenset({RecordCode.ULN_MALFORMED, RecordCode.ULN_CHECK_DIGIT, RecordCode.ULN_TEMPORARY})


class NoLearnersUln(NamedTuple):
    code: RecordCode
    reason: str


def why_no_learner_has(uln: str) -> NoLearnersUln | None:
    """Why no learner can have a ULN asked about, one sentence (RV001-RV003), or None when one can.

    Said of a ULN typed into a look-up, a registration or an erasure: `check_uln`'s words are about a batch
    record ("cannot be uploaded", "check with the centre or learner"). Arithmetic on what was typed, so it tells
    nothing of any learner and may be said before any access check."""
    if not is_well_formed_uln(uln):
        return NoLearnersUln(
            RecordCode.ULN_MALFORMED, "A ULN is 10 digits and does not start with 0 (RV001): no learner has this one."
        )
    if uln == TEMPORARY_ULN:
        return NoLearnersUln(
            RecordCode.ULN_TEMPORARY, "This is the temporary ULN 9999999999 (RV003), which no learner has."
        )
    if not has_valid_uln_check_digit(uln):
        return NoLearnersUln(
            RecordCode.ULN_CHECK_DIGIT,
            "The ULN's check digit is wrong (RV002): its last digit does not fit the nine before it, so a digit was"
            " mistyped and no learner has this ULN.",
        )
    return None


def verify_learner(
    uln: str,
    given_name: str | None,
    family_name: str | None,
    date_of_birth: date | None,
    learners: Mapping[str, Learner],
    merges: LearnerMerges,
) -> tuple[str, tuple[Finding, ...]]:
    """RV004, and the ULN the achievement is recorded under: a merged ULN lands on the end of its
    merge chain (`lrs_domain.merges`).

    Names compare trimmed and case-insensitively; the date of birth must match exactly when given, unless the
    learner was registered without one (`_details_match`).
    The learner matches if the details match the ULN's own registration or that of any registered
    ULN it was merged into.
    """
    recorded_uln, found, _ = _verified(uln, given_name, family_name, date_of_birth, learners, merges)
    return recorded_uln, found


def _verified(
    uln: str,
    given_name: str | None,
    family_name: str | None,
    date_of_birth: date | None,
    learners: Mapping[str, Learner],
    merges: LearnerMerges,
) -> tuple[str, tuple[Finding, ...], date | None]:
    """`verify_learner`, with the date of birth of the registration the details matched (None when none matched,
    or it has none): what `judge_record` compares the award date with (WV006, decision 0199)."""
    learner = learners.get(uln)
    if learner is None:
        return (
            uln,
            (
                _error(
                    RecordCode.LEARNER_NOT_VERIFIED,
                    "uln",
                    f"ULN {mask_uln(uln)} is not registered with the Learning Records Service: check the ULN with the"
                    " centre or learner.",
                ),
            ),
            None,
        )
    if _details_match(learner, given_name, family_name, date_of_birth):
        return merges.recorded_uln(uln), (), learner.date_of_birth
    merged = merges.resolve(uln)
    for master_uln in merged.chain[1:]:
        master = learners.get(master_uln)
        if master is not None and _details_match(master, given_name, family_name, date_of_birth):
            return merged.recorded_uln, (), master.date_of_birth
    # One answer whichever detail differs, at the ULN: naming the field would let an AO confirm a learner's
    # family name, given name or date of birth one guess at a time from a ULN alone (decision 0157).
    message = details_do_not_match(uln, given_name, family_name)
    return merged.recorded_uln, (_error(RecordCode.LEARNER_NOT_VERIFIED, "uln", message),), None


def details_do_not_match(uln: str, given_name: str | None = None, family_name: str | None = None) -> str:
    """RV004's one message for a registered learner whose details a record does not match, whichever differs
    (decision 0157); an erased learner's record gets it too, from an AO that holds no achievement of theirs.

    A record's name written with a typographic apostrophe or hyphen (`typographic_in_name`: O<U+2019>Neill, as word
    processors write it) is not the name registered with the keyboard's (decision 0167): the message says so, from
    the record's names alone, whatever the registry holds, so that it says nothing more of the learner."""
    said = (
        f"The learner's names and date of birth (when given) do not match the learner registered with ULN"
        f" {mask_uln(uln)}: check the learner's details with the centre."
    )
    for label, name in (("The given name", given_name), ("The family name", family_name)):
        if name is not None and (typographic := typographic_in_name(label, name)) is not None:
            said += f" {typographic}"
        if (garbled := garbled_in_name(label, name)) is not None:
            said += f" {garbled}"
    return said


def names_not_as_typed(given_name: str | None, family_name: str | None) -> tuple[Finding, ...]:
    """WV003, for the offline check only (it cannot see the registry, so cannot say RV004): a name written with a
    typographic apostrophe or hyphen (`typographic_in_name`), which matches only a learner registered with that
    character (decision 0167); and WV007, a name garbled by a UTF-8 file opened as Windows-1252 (`garbled_in_name`,
    decision 0201)."""
    names = (("given_name", given_name), ("family_name", family_name))
    return tuple(
        _warning(
            WarningCode.NAME_NOT_AS_TYPED,
            field,
            f"{said.removesuffix('.')}, or the LRS rejects the record (RV004).",
        )
        for field, name in names
        if (said := typographic_in_name(_LABELS[field], name)) is not None
    ) + tuple(
        _warning(WarningCode.CHANGED_BY_A_SPREADSHEET, field, f"{said} The LRS rejects the record (RV004).")
        for field, name in names
        if (said := garbled_in_name(_LABELS[field], name)) is not None
    )


# What a spreadsheet writes in a cell in place of an identifier: a long number in scientific notation (its digits
# lost), or the error value of a formula that failed (decision 0201)
_CHANGED_BY_A_SPREADSHEET = re.compile(
    r"[0-9](?:\.[0-9]+)?E\+[0-9]{2,}|#N/A|#REF!|#VALUE!|#NAME\?|#DIV/0!|#NUM!|#NULL!", re.IGNORECASE
)


def mis_identifier_changed_by_a_spreadsheet(value: str | None) -> tuple[Finding, ...]:
    """WV007, never a rejection: an MIS identifier a spreadsheet changed (`1.23457E+15`, `#N/A`), which no row of the
    AO's can be found by again (decision 0201)."""
    if value is None or _CHANGED_BY_A_SPREADSHEET.fullmatch(value) is None:
        return ()
    what = (
        "a spreadsheet's error value: a formula in the spreadsheet failed"
        if value.startswith("#")
        else "a number a spreadsheet wrote in scientific notation, losing its digits"
    )
    return (
        _warning(
            WarningCode.CHANGED_BY_A_SPREADSHEET,
            "mis_identifier",
            f"MIS identifier {_echo(value)} is {what}: format the column as Text, correct it and send the record again"
            " if it must be found by its MIS identifier (warning only).",
        ),
    )


@lru_cache(maxsize=_CACHE_SIZE)
def check_qualification_number(
    value: str | None,
) -> tuple[ParsedQan | None, tuple[Finding, ...], tuple[Finding, ...]]:
    """(parsed QAN, errors, warnings): RV006 when badly formed; WV001, never a rejection, when a
    qualification's check character does not match."""
    if value is None:
        return None, (), ()
    parsed = parse_qan(value)
    if parsed is None:
        malformed = _error(
            RecordCode.QAN_MALFORMED,
            "qualification_number",
            f"Qualification number {_echo(value)} is badly formed: expected NNN/NNNN/C, the same 8 "
            "characters without obliques, or a QCF unit reference L/NNN/NNNN.",
        )
        return None, (malformed,), ()
    if parsed.check_character_matches:
        return parsed, (), ()
    check_character = _warning(
        WarningCode.QAN_CHECK_CHARACTER,
        "qualification_number",
        f"The check character of {display_qan(parsed.normalised)} should be "
        f"{qan_check_character(parsed.normalised[:7])}: please check the number (warning only; the "
        "qualification catalogue decides).",
    )
    return parsed, (), (check_character,)


def find_catalogue_row(
    qan: ParsedQan, pathway: str | None, catalogue: Catalogue
) -> tuple[Qualification | None, tuple[Finding, ...]]:
    """RV005. The catalogue key is (QAN, pathway); an empty pathway matches a QAN with exactly one row. A well-formed
    number the catalogue does not hold may be right: an older qualification no longer on the register (decision
    0199), which the LRS service desk can add."""
    rows = catalogue.rows_for(qan.normalised)
    if len(rows) == 1 and pathway is None:
        return rows[0], ()
    shown = display_qan(qan.normalised)
    if not rows:
        return None, (
            _error(
                RecordCode.QAN_UNKNOWN,
                "qualification_number",
                f"Qualification number {shown} is not in the qualification catalogue: check the qualification number;"
                " if the number is right and the qualification has left the register, ask the LRS service desk to add"
                " it.",
            ),
        )
    wanted = pathway
    if wanted is None:
        if len(rows) == 1:
            return rows[0], ()
        return None, (
            _error(
                RecordCode.QAN_UNKNOWN,
                "pathway",
                f"Qualification {shown} has several pathways ({_pathways(rows)}): give the pathway.",
            ),
        )
    for row in rows:
        if row.pathway == wanted:
            return row, ()
    known = _pathways(rows)
    expected = f"its pathways are {known}" if known else "it has no pathways"
    return None, (
        _error(
            RecordCode.QAN_UNKNOWN,
            "pathway",
            f"Qualification {shown} has no pathway {_echo(wanted)}: {expected}.",
        ),
    )


def check_awarding_organisation(qualification: Qualification, ao_id: str) -> tuple[Finding, ...]:
    """RV022: only the AO that awards a qualification may upload results for it."""
    if qualification.awarding_organisation_id == ao_id:
        return ()
    return (
        _error(
            RecordCode.NOT_AWARDED_BY_AO,
            "qualification_number",
            f"Qualification {display_qan(qualification.qualification_number)} is awarded by "
            f"{qualification.awarding_organisation_name} ({qualification.awarding_organisation_id}), "
            f"not by {ao_id}: only its awarding organisation may upload results for it.",
        ),
    )


# What the register now says of a qualification: gone from it, or awarded by another AO.
_REGISTER_FINDINGS = frozenset(
    {
        (RecordCode.QAN_UNKNOWN.value, "qualification_number"),
        (RecordCode.NOT_AWARDED_BY_AO.value, "qualification_number"),
    }
)
_NAMING_ACTIONS = frozenset({RecordAction.WITHDRAW, RecordAction.REINSTATE})


def register_findings_excused(judged: JudgedRecord) -> JudgedRecord:
    """A Withdraw or Reinstate of an achievement the AO holds, whatever the register now says of its qualification.

    The achievement was accepted under the register of its day and its key names it; a qualification since removed
    from the register (RV005) or moved to another AO (RV022) does not stop its AO correcting it (decision 0198). A
    pathway the QAN does not have is still RV005 (decision 0173: every value given is checked). Call it only when the
    AO holds the achievement, or when its achievements are not known (the offline check, which judges no state)."""
    if judged.action not in _NAMING_ACTIONS:
        return judged
    errors = tuple(finding for finding in judged.errors if (finding.code, finding.field) not in _REGISTER_FINDINGS)
    return judged if len(errors) == len(judged.errors) else judged._replace(errors=errors)


def is_qcf(qan: ParsedQan | None, qualification: Qualification | None) -> bool:
    """QCF by the catalogue; a unit reference is QCF even when the catalogue does not know it."""
    if qualification is not None:
        return qualification.framework is Framework.QCF
    return qan is not None and qan.is_unit_reference


def check_job_type(qcf: bool, job_type: JobType, qan: ParsedQan | None) -> tuple[Finding, ...]:
    """RV011: QCF results are always Final, so they never travel in a Provisional batch."""
    if qan is None or not qcf or job_type is not JobType.PROVISIONAL:
        return ()
    kind = "unit" if qan.is_unit_reference else "qualification"
    return (
        _error(
            RecordCode.QCF_PROVISIONAL,
            "qualification_number",
            f"{display_qan(qan.normalised)} is a QCF {kind}: QCF results are always Final, so send it in "
            "a Final batch.",
        ),
    )


def check_award_date(value: str | None, today: date) -> tuple[date | None, tuple[Finding, ...]]:
    """RV008 unreadable or in the future, RV007 before 1 September 2006 (that day itself is accepted).

    The date is returned whenever it is readable, so a too-early date still addresses its achievement.
    """
    if value is None:
        return None, ()
    parsed = parse_iso_date(value)
    if parsed is None:
        return None, (
            _error(
                RecordCode.AWARD_DATE_INVALID,
                "award_date",
                f"Award date {_echo(value)} {why_not_a_date(value, suggest=True)}.",
            ),
        )
    if parsed > today:
        return parsed, (
            _error(
                RecordCode.AWARD_DATE_INVALID,
                "award_date",
                f"Award date {parsed.isoformat()} is in the future: it may be {today.isoformat()} at the latest.",
            ),
        )
    if parsed < EARLIEST_AWARD_DATE:
        return parsed, (
            _error(
                RecordCode.AWARD_DATE_TOO_EARLY,
                "award_date",
                f"Award date {parsed.isoformat()} is before 1 September 2006: earlier achievements are not accepted.",
            ),
        )
    return parsed, ()


def check_grade(
    grade: str | None, qan: ParsedQan | None, qualification: Qualification | None, qcf: bool
) -> tuple[Finding, ...]:
    """RV010 for a failed QCF result, otherwise RV009 when the grade is not in the qualification's set."""
    value = grade
    if value is None or qan is None:
        return ()
    if qcf and value in FAILED_QCF_GRADES:
        return (
            _error(
                RecordCode.QCF_FAILED,
                "grade",
                f"Grade {_echo(value)} is a failed result for QCF {display_qan(qan.normalised)}: failed QCF units and "
                "qualifications are not uploaded.",
            ),
        )
    if qualification is None or value in qualification.grade_set:
        return ()
    return (
        _error(
            RecordCode.GRADE_NOT_IN_SET,
            "grade",
            f"Grade {_echo(value)} is not a grade of {display_qan(qan.normalised)} "
            f"({qualification.qualification_type}): expected one of {', '.join(qualification.grade_set)} "
            "(exact spelling).",
        ),
    )


@lru_cache(maxsize=_CACHE_SIZE)
def check_ukprn(value: str | None) -> tuple[Finding, ...]:
    if value is None or is_valid_ukprn(value):
        return ()
    return (
        _error(
            RecordCode.UKPRN_MALFORMED,
            "centre_ukprn",
            f"UKPRN {_echo(value)} is badly formed: a UKPRN is 8 digits.",
        ),
    )


def check_language(value: str | None) -> tuple[Finding, ...]:
    if value is None or value in LANGUAGES:
        return ()
    return (
        _error(
            RecordCode.LANGUAGE_UNKNOWN,
            "language_for_assessment",
            f"Language for assessment {_echo(value)} is not recognised: expected English, Welsh or Irish "
            "(exact spelling).",
        ),
    )


MAX_CREDITS = 9_999
"""No qualification's credit value comes near it (a degree is 360); a larger number is a mistyped one, and one past
2,147,483,647 could not be stored at all (decision 0137)."""


def check_credits(value: str | None) -> tuple[int | None, tuple[Finding, ...]]:
    if value is None:
        return None, ()
    if _WHOLE_NUMBER.fullmatch(value) and len(value.lstrip("0")) <= len(str(MAX_CREDITS)):
        credits = int(value)
        if credits <= MAX_CREDITS:
            return credits, ()
    return None, (
        _error(
            RecordCode.FIELD_MISSING_OR_TOO_LONG,
            "credits",
            f"Credits {_echo(value)} is not allowed: expected a whole number from 0 to {MAX_CREDITS:,}.",
        ),
    )


parse_iso_date = written_date
"""`yyyy-mm-dd` only, a day of the calendar: other ISO 8601 spellings that `date.fromisoformat` accepts are refused
(`lrs_contracts.text.written_date`, which an API body's `WrittenDate` reads with; `why_not_a_date` says why not)."""


def trimmed(record: SubmittedRecord) -> SubmittedRecord:
    """The record with every value trimmed and empty values as None, as the contract promises.

    The single-field checks rely on it, so the decider does not trust every producer to have done it.
    """
    values = record.__dict__
    for value in _TEXT_VALUES(values):  # nearly every record: nothing to trim (`strip` gives back the same text)
        if value is not None and (not value or value.strip() is not value):
            break
    else:
        return record
    changes: dict[str, str | None] = {}
    for name in _TEXT_FIELDS:
        value = values[name]
        if value is not None:
            stripped = value.strip()
            if stripped != value or not stripped:
                changes[name] = stripped or None
    return record.model_copy(update=changes) if changes else record


# --- the whole record, without achievement state ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What the record rules judge against besides the record.

    `ao_id` None skips the ownership rule (RV022); `learners` None skips learner verification (RV004)
    and merged-ULN resolution. The offline checker uses both; the decider neither. `merges` are the
    links of `learners` (`LearnerMerges.of(learners.values())`), built once per batch.
    `memo` keeps what `judge_record` found about values a batch repeats (a QAN with its pathway, a
    grade of it, an award date, a result's data): pure functions of those values and the context.
    """

    job_type: JobType
    catalogue: Catalogue
    today: date
    ao_id: str | None
    learners: Mapping[str, Learner] | None
    merges: LearnerMerges | None
    memo: dict[tuple[Any, ...], Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)


class AchievementAddress(NamedTuple):
    """Where a record points: (ULN as recorded, normalised QAN, award date). The AO is the batch's."""

    uln: str
    qualification_number: str
    award_date: date


class JudgedRecord(NamedTuple):
    """What the rules that need no achievement state established about one record.

    `address` is known when the ULN is valid, the QAN well formed and the award date readable.
    `data` is known when the record is Create or Update and every achievement field is readable.
    A named tuple, as the other per-record verdicts: a frozen dataclass's construction sets each
    field through `object.__setattr__`, three times the cost, for ~10,000 records a batch.
    """

    record: SubmittedRecord
    action: RecordAction | None
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    address: AchievementAddress | None
    qualification: Qualification | None
    data: AchievementData | None


# Builds a NamedTuple from its values in field order (the caller gives every field, in order): the
# class's generated `__new__` is a Python call, ~0.3 µs more (~0.6 with keywords), for each record.
_tuple_new = tuple.__new__


def judge_record(record: SubmittedRecord, context: RuleContext) -> JudgedRecord:
    """Every rule that can be judged from the record, the catalogue and (when given) the learners.

    Each check is called only when its value may break its rule, in the order the checks are listed:
    findings of one code keep that order (`order_findings`)."""
    record = trimmed(record)
    values = record.__dict__
    memo = context.memo
    errors: list[Finding] = []

    action_text = values["action"]
    action = _CREATE if action_text is None else _ACTIONS.get(action_text)
    if action is None:
        action, found = check_action(action_text)
        errors += found
    graded = action in _GRADED_ACTIONS
    if None in (_GRADED_VALUES if graded else _MANDATORY_VALUES)(values):
        errors += check_mandatory_fields(record, action)
    given_name, family_name = values["given_name"], values["family_name"]
    if (
        name_too_long(given_name, MAX_NAME_LENGTH)
        or name_too_long(family_name, MAX_NAME_LENGTH)
        # a line break, a bidirectional control, an unusual space or a format character (`check_name_characters`) is
        # not printable, as nearly every name is; one that is not, or holds a run of spaces or a printable character
        # that shows as nothing (a Hangul filler), is looked at character by character
        or (given_name is not None and (not given_name.isprintable() or MAY_HOLD_UNSEEN.search(given_name)))
        or (family_name is not None and (not family_name.isprintable() or MAY_HOLD_UNSEEN.search(family_name)))
    ):
        errors += check_names(record)
    mis_identifier = values["mis_identifier"]
    if name_too_long(mis_identifier, MAX_MIS_IDENTIFIER_LENGTH):
        errors += check_mis_identifier(mis_identifier)
    spreadsheet_changed = mis_identifier_changed_by_a_spreadsheet(mis_identifier)
    gender = values["gender"]
    if gender is not None and gender not in GENDERS:
        errors += check_gender(gender)
    date_of_birth: date | None = None
    date_of_birth_text = values["date_of_birth"]
    if date_of_birth_text is not None:
        date_of_birth = parse_iso_date(date_of_birth_text)
        if date_of_birth is None or not EARLIEST_BIRTH_DATE <= date_of_birth <= context.today:
            date_of_birth, found = check_date_of_birth(date_of_birth_text, context.today)
            errors += found

    uln = values["uln"]
    uln_errors = check_uln(uln)
    recorded_uln: str | None = None
    born: date | None = None  # the verified learner's registered date of birth (WV006)
    if uln_errors:
        errors += uln_errors
    elif uln is not None:
        recorded_uln = uln
        learners, merges = context.learners, context.merges
        if learners is not None and merges is not None:
            learner = learners.get(uln)
            if (
                learner is not None  # `verify_learner` of a learner whose details match, without a tuple of none
                and (given_name is None or given_name.casefold() == learner.given_name.strip().casefold())
                and (family_name is None or family_name.casefold() == learner.family_name.strip().casefold())
                and (date_of_birth is None or learner.date_of_birth is None or date_of_birth == learner.date_of_birth)
            ):
                recorded_uln = merges.recorded_uln(uln)
                born = learner.date_of_birth
            else:
                # seldom: a merged ULN, or names the fast path's `casefold` does not match (`_details_match`)
                recorded_uln, found, born = _verified(uln, given_name, family_name, date_of_birth, learners, merges)
                errors += found

    qualification_number, pathway = values["qualification_number"], values["pathway"]
    qualification_key = ("qualification", qualification_number, pathway)
    judged_qualification: _JudgedQualification | None = memo.get(qualification_key)
    if judged_qualification is None:
        judged_qualification = memo[qualification_key] = _judge_qualification(qualification_number, pathway, context)
    qan, qualification, qcf = judged_qualification.qan, judged_qualification.qualification, judged_qualification.qcf
    if judged_qualification.errors:
        errors += judged_qualification.errors
    warnings = judged_qualification.warnings + spreadsheet_changed  # a tuple
    if context.learners is None and (given_name is not None or family_name is not None):  # the offline check
        warnings += names_not_as_typed(given_name, family_name)

    award_date_text = values["award_date"]
    date_key = ("award_date", award_date_text)
    judged_date: tuple[date | None, tuple[Finding, ...]] | None = memo.get(date_key)
    if judged_date is None:
        judged_date = memo[date_key] = check_award_date(award_date_text, context.today)
    award_date, found = judged_date
    if found:
        errors += found  # an award date too early or in the future (RV007, RV008) is not also WV006
    elif born is not None and award_date is not None and award_date < born:  # seldom
        warnings += (awarded_before_birth(),)
    grade = values["grade"]
    if graded or grade is not None:  # a Withdraw's or Reinstate's grade is not needed, but checked when given
        grade_key = ("grade", grade, qualification_key)
        grade_errors: tuple[Finding, ...] | None = memo.get(grade_key)
        if grade_errors is None:
            grade_errors = memo[grade_key] = check_grade(grade, qan, qualification, qcf)
        if grade_errors:
            errors += grade_errors
    ukprn, language = values["centre_ukprn"], values["language_for_assessment"]
    readable = True  # the UKPRN, language and credits
    ukprn_errors = check_ukprn(ukprn)
    if ukprn_errors:
        errors += ukprn_errors
        readable = False
    if language is not None and language not in LANGUAGES:
        errors += check_language(language)
        readable = False
    credits: int | None = None
    if values["credits"] is not None:
        credits, credit_errors = check_credits(values["credits"])
        if credit_errors:
            errors += credit_errors
            readable = False

    address = None
    if recorded_uln is not None and qan is not None and award_date is not None:
        address = _tuple_new(AchievementAddress, (recorded_uln, qan.normalised, award_date))
    data = None
    if graded and grade is not None and qualification is not None and readable:
        data_key = ("data", qualification.pathway, grade, ukprn, language, credits)
        data = memo.get(data_key)
        if data is None:
            # every value passed its rule above, and a frozen result's data can be shared
            data = memo[data_key] = trusted(
                AchievementData,
                pathway=qualification.pathway,
                grade=grade,
                ukprn=ukprn,
                language_for_assessment=language,
                credits=credits,
            )
    return _tuple_new(JudgedRecord, (record, action, tuple(errors), warnings, address, qualification, data))


@dataclass(frozen=True, slots=True)
class _JudgedQualification:
    """What the rules say about a qualification number with its pathway, in the context's batch."""

    qan: ParsedQan | None
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    qualification: Qualification | None
    qcf: bool


def _judge_qualification(text: str | None, pathway: str | None, context: RuleContext) -> _JudgedQualification:
    qan, errors, warnings = check_qualification_number(text)
    qualification: Qualification | None = None
    if qan is not None:
        qualification, found = find_catalogue_row(qan, pathway, context.catalogue)
        errors += found
    if qualification is not None and context.ao_id is not None:
        errors += check_awarding_organisation(qualification, context.ao_id)
    qcf = is_qcf(qan, qualification)
    errors += check_job_type(qcf, context.job_type, qan)
    return _JudgedQualification(qan, errors, warnings, qualification, qcf)


# --- position in the batch -------------------------------------------------------------------------


def duplicate_in_batch(address: AchievementAddress, earlier_line: int) -> Finding:
    """RV020: judged on the later record only; the earlier one is judged normally."""
    return _error(
        RecordCode.DUPLICATE_IN_BATCH,
        None,
        f"Line {earlier_line} of this batch already addresses this achievement (qualification "
        f"{display_qan(address.qualification_number)}, award date {address.award_date.isoformat()}): "
        "send each achievement once per batch.",
    )


def not_ordered_by_uln() -> Finding:
    """WV002, attached to the first record whose ULN is lower than the one before it."""
    return _warning(
        WarningCode.NOT_ORDERED_BY_ULN,
        "uln",
        "Records are not in ULN order from this line: ordering by ULN keeps each learner's results "
        "together (warning only).",
    )


def awarded_before_birth() -> Finding:
    """WV006: a verified learner's award date before the date of birth they are registered with (decision 0199). The
    registered date is never said (decision 0157): the record's own details matched it, or it gave none."""
    return _warning(
        WarningCode.AWARDED_BEFORE_BIRTH,
        "award_date",
        "The award date is before the learner's registered date of birth: check the award date with the centre "
        "(warning only).",
    )


def first_line_out_of_uln_order(records: Sequence[SubmittedRecord]) -> int | None:
    """The line of the first record whose ULN sorts before the previous ULN; records without one, or with one
    that is not well formed (rejected RV001), are skipped: ten digits compared as text compare as numbers."""
    previous: str | None = None
    for record in records:
        uln = record.uln
        if uln is None:
            continue
        if not uln or uln.strip() is not uln:  # `_clean` of a trimmed ULN (nearly always) is itself
            uln = _clean(uln)
            if uln is None:
                continue
        if not is_well_formed_uln(uln):
            continue
        if previous is not None and uln < previous:
            return record.line
        previous = uln
    return None


# --- achievement state (RV012-RV017) ---------------------------------------------------------------


class Change(StrEnum):
    """What an accepted record does to its achievement."""

    RECORD = "record"
    UPDATE = "update"
    SUPERSEDE = "supersede"
    WITHDRAW = "withdraw"
    REINSTATE = "reinstate"
    NO_OP = "no_op"


class StateVerdict(NamedTuple):
    """`change` is what the record would do if no other rule rejects it; None when nothing can be said."""

    errors: tuple[Finding, ...]
    change: Change | None
    target: AchievementState | None


# A dict, not two enum attribute reads: Python 3.11 reads an enum member through a descriptor, twice per record.
_STATUS_OF_JOB: dict[JobType, ResultStatus] = {
    JobType.PROVISIONAL: ResultStatus.PROVISIONAL,
    JobType.FINAL: ResultStatus.FINAL,
}


def status_for(job_type: JobType) -> ResultStatus:
    return _STATUS_OF_JOB[job_type]


def judge_against_state(
    action: RecordAction,
    job_type: JobType,
    address: AchievementAddress,
    data: AchievementData | None,
    states: Sequence[AchievementState],
) -> StateVerdict:
    """The state rules of DOMAIN.md §7 for one record against the AO's achievements before the batch.

    `states` are the AO's achievements for the record's learner and qualification, at any award date.
    """
    target = next((state for state in states if state.key.award_date == address.award_date), None) if states else None
    if action is _CREATE:
        return _judge_create(status_for(job_type), data, target)
    if action is RecordAction.UPDATE:
        return _judge_update(status_for(job_type), address, data, target, states)
    if target is None:
        return StateVerdict((_target_not_found(action, address),), None, None)
    if action is RecordAction.WITHDRAW:
        if target.withdrawn:
            return StateVerdict((_wrong_state("is already withdrawn"),), None, target)
        return StateVerdict((), Change.WITHDRAW, target)
    if not target.withdrawn:
        return StateVerdict((_wrong_state("is not withdrawn, so it cannot be reinstated"),), None, target)
    return StateVerdict((), Change.REINSTATE, target)


def new_achievement_warnings(
    job_type: JobType,
    address: AchievementAddress,
    target: AchievementState | None,
    states: Sequence[AchievementState],
) -> tuple[Finding, ...]:
    """The warnings on a record the state rules accept as `Change.RECORD` (a Create of a new or withdrawn achievement)
    while the AO holds `states` of its learner and qualification (decision 0199): WV004 when it re-creates the
    achievement the AO withdrew, WV005 when it is Final and a live Provisional result stands at another award date,
    which it does not supersede, and WV008 when a live Final result stands at another award date within
    `NEAR_AWARD_DAYS` of it (decision 0202). Only called when `states` is not empty: nearly every record has none."""
    warnings: tuple[Finding, ...] = ()
    if target is not None and target.withdrawn:
        warnings += (
            _warning(
                WarningCode.RECREATES_WITHDRAWN,
                None,
                "This record re-creates an achievement that was withdrawn: leave it out if the withdrawal stands"
                " (warning only).",
            ),
        )
    finals = finals_near(address, states)
    if finals:  # before WV005, which the decider looks for last
        warnings += (final_at_a_near_date(state.key.award_date for state in finals),)
    if job_type is JobType.FINAL:
        provisionals = provisionals_beside(address, states)
        if provisionals:
            warnings += (provisional_not_superseded(state.key.award_date for state in provisionals),)
    return warnings


# How far apart two award dates of one learner and qualification may be for one to look like a correction of the
# other (decision 0202): a mistyped day or month; a resit is usually a later series
NEAR_AWARD_DAYS = 60


def finals_near(address: AchievementAddress, states: Sequence[AchievementState]) -> tuple[AchievementState, ...]:
    """The live Final results among `states` at another award date than `address`'s, within `NEAR_AWARD_DAYS` of it:
    those a Create at `address` may be meant to correct (WV008)."""
    award_date = address.award_date
    return tuple(
        state
        for state in states
        if not state.withdrawn
        and state.status is ResultStatus.FINAL
        and state.key.award_date != award_date
        and abs((state.key.award_date - award_date).days) <= NEAR_AWARD_DAYS
    )


def final_at_a_near_date(award_dates: Iterable[date]) -> Finding:
    """WV008 naming the Final results at `award_dates` (at least one), each date once, earliest first."""
    said = [day.isoformat() for day in sorted(set(award_dates))]
    awarded = said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"
    dates, which = ("that date", "that one") if len(said) == 1 else ("one of those dates", "the one it corrects")
    return _warning(
        WarningCode.FINAL_AT_A_NEAR_DATE,
        "award_date",
        f"The learner already holds this qualification from you, awarded {awarded}: if this record corrects"
        f" {dates}, withdraw {which}; a resit keeps both (warning only).",
    )


def provisionals_beside(
    address: AchievementAddress, states: Sequence[AchievementState]
) -> tuple[AchievementState, ...]:
    """The live Provisional results among `states` at another award date than `address`'s: those a Final Create at
    `address` leaves beside it (WV005)."""
    return tuple(
        state
        for state in states
        if not state.withdrawn
        and state.status is ResultStatus.PROVISIONAL
        and state.key.award_date != address.award_date
    )


def provisional_not_superseded(award_dates: Iterable[date]) -> Finding:
    """WV005 naming the Provisional results at `award_dates` (at least one), each date once, earliest first."""
    said = [day.isoformat() for day in sorted(set(award_dates))]
    if len(said) == 1:
        results, which, withdraw = f"result awarded on {said[0]}", "that date", "the Provisional"
    else:
        results = f"results awarded on {', '.join(said[:-1])} and {said[-1]}"
        which, withdraw = "the date of the one it replaces", "the others"
    return _warning(
        WarningCode.PROVISIONAL_NOT_SUPERSEDED,
        "award_date",
        f"This Final result does not supersede the Provisional {results}: a Final replaces a Provisional only with"
        f" the same award date; give {which}, or withdraw {withdraw} (warning only).",
    )


# What nearly every Create is: a new achievement (one verdict for all, as a verdict is immutable)
_NEW_ACHIEVEMENT = StateVerdict((), Change.RECORD, None)
_CREATE = RecordAction.CREATE  # read once: an enum member read from its class is a descriptor call


def _judge_create(status: ResultStatus, data: AchievementData | None, target: AchievementState | None) -> StateVerdict:
    if target is None:
        return _NEW_ACHIEVEMENT
    provisional_after_final = status is ResultStatus.PROVISIONAL and target.status is ResultStatus.FINAL
    if target.withdrawn:
        if provisional_after_final:
            return StateVerdict((_provisional_after_final(withdrawn=True),), None, target)
        return StateVerdict((), Change.RECORD, target)
    differences = _differences(target.data, data)
    if provisional_after_final:
        errors = [_provisional_after_final(withdrawn=False)]
        if differences:
            errors.append(_conflicting_duplicate(differences))
        return StateVerdict(tuple(errors), None, target)
    if data is None:
        return StateVerdict((), None, target)
    if status is ResultStatus.FINAL and target.status is ResultStatus.PROVISIONAL:
        return StateVerdict((), Change.SUPERSEDE, target)
    if differences:
        return StateVerdict((_conflicting_duplicate(differences),), None, target)
    return StateVerdict((), Change.NO_OP, target)


def _judge_update(
    status: ResultStatus,
    address: AchievementAddress,
    data: AchievementData | None,
    target: AchievementState | None,
    states: Sequence[AchievementState],
) -> StateVerdict:
    if target is None:
        if any(not state.withdrawn for state in states):
            return StateVerdict((_award_date_cannot_change(address),), None, None)
        return StateVerdict((_target_not_found(RecordAction.UPDATE, address),), None, None)
    errors: list[Finding] = []
    if status is ResultStatus.PROVISIONAL and target.status is ResultStatus.FINAL:
        errors.append(_provisional_after_final(withdrawn=target.withdrawn))
    if target.withdrawn:
        errors.append(
            _error(
                RecordCode.UPDATE_OF_WITHDRAWN,
                None,
                "This achievement is withdrawn and cannot be updated: reinstate it first, or create it again.",
            )
        )
    fixed_changes = [name for name in _differences(target.data, data) if name in _FIXED_FIELDS]
    if fixed_changes:
        errors.append(
            _error(
                RecordCode.UPDATE_CHANGES_FIXED_FIELD,
                _DATA_FIELDS[fixed_changes[0]],
                f"An update may change only the grade, UKPRN or language for assessment, but this one "
                f"changes the {' and the '.join(fixed_changes)}: withdraw the achievement and create a new one.",
            )
        )
    if errors:
        return StateVerdict(tuple(errors), None, target)
    if data is None:
        return StateVerdict((), None, target)
    if status is ResultStatus.FINAL and target.status is ResultStatus.PROVISIONAL:
        return StateVerdict((), Change.SUPERSEDE, target)
    if data == target.data:
        return StateVerdict((), Change.NO_OP, target)
    return StateVerdict((), Change.UPDATE, target)


# Achievement data names as a clerk reads them, and the record field each comes from.
_DATA_FIELDS: dict[str, str] = {
    "pathway": "pathway",
    "grade": "grade",
    "UKPRN": "centre_ukprn",
    "language for assessment": "language_for_assessment",
    "credits": "credits",
}
_FIXED_FIELDS = frozenset({"pathway", "credits"})
_SAID = {"credits": "number of credits"}  # "a different credits" is not English


def _differences(current: AchievementData, proposed: AchievementData | None) -> tuple[str, ...]:
    if proposed is None:
        return ()
    pairs = (
        ("pathway", current.pathway, proposed.pathway),
        ("grade", current.grade, proposed.grade),
        ("UKPRN", current.ukprn, proposed.ukprn),
        ("language for assessment", current.language_for_assessment, proposed.language_for_assessment),
        ("credits", current.credits, proposed.credits),
    )
    return tuple(name for name, before, after in pairs if before != after)


# what an AO whose Update names nothing may mean: a result it never sent, which a Create records
_OR_CREATE = " (a result never sent before is sent as a Create)"


def _target_not_found(action: RecordAction, address: AchievementAddress) -> Finding:
    return _error(
        RecordCode.TARGET_NOT_FOUND,
        None,
        f"There is no achievement of this learner for qualification {display_qan(address.qualification_number)} "
        f"with award date {address.award_date.isoformat()} to {action.value.lower()}: check the qualification number"
        f" and the award date against the achievement you sent{_OR_CREATE if action is RecordAction.UPDATE else ''}.",
    )


def _award_date_cannot_change(address: AchievementAddress) -> Finding:
    return _error(
        RecordCode.UPDATE_CHANGES_FIXED_FIELD,
        "award_date",
        f"This learner's achievement of {display_qan(address.qualification_number)} has another award date, "
        "and an update cannot change the award date: withdraw the achievement and create a new one.",
    )


def _conflicting_duplicate(differences: Sequence[str]) -> Finding:
    return _error(
        RecordCode.CONFLICTING_DUPLICATE,
        _DATA_FIELDS[differences[0]],
        f"This achievement already exists with a different {' and '.join(_SAID.get(d, d) for d in differences)}:"
        " send an Update to "
        "change the grade, UKPRN or language for assessment, or withdraw it and create a new one.",
    )


def _provisional_after_final(*, withdrawn: bool) -> Finding:
    had = "had a Final result (now withdrawn)" if withdrawn else "already has a Final result"
    return _error(
        RecordCode.PROVISIONAL_AFTER_FINAL,
        None,
        f"This achievement {had}: a Provisional result cannot replace it. Send changes in a Final batch.",
    )


def _wrong_state(situation: str) -> Finding:
    return _error(RecordCode.WRONG_STATE, None, f"This achievement {situation}.")


# --- helpers ---------------------------------------------------------------------------------------


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    stripped = text.strip()
    return stripped or None


def _echo(value: str) -> str:
    """Quote a submitted (non-personal) value back, cut short so a stray paste cannot flood the results. A character
    a reader cannot see, or cannot tell from a space (a byte order mark, a zero-width or a no-break space), is named
    after it with its position, as a name's is (`unseen_in_name`): quoted alone, 'Create' with a byte order mark
    before it reads as the 'Create' it is said not to be."""
    shown = value if len(value) <= _ECHO_LIMIT else value[: _ECHO_LIMIT - 1] + "…"
    # a line break, a control or a bidirectional control is shown by its code point where the value is shown
    # (`shown_on_one_line`); `unseen_in_name` leaves them to `refused_character`
    if (value.isascii() and "  " not in value) or REFUSED_IN_ONE_LINE.search(value):
        return f"'{shown}'"
    if value.startswith("\ufeff"):
        return f"'{shown}' (which starts with an invisible byte order mark, U+FEFF, as when two files are joined: delete it)"
    unseen = unseen_in_name(value)
    return f"'{shown}'" if unseen is None else f"'{shown}' (which holds {unseen})"


def _error(code: RecordCode, field: str | None, message: str) -> Finding:
    return Finding(code=code.value, field=field, message=message)


def _warning(code: WarningCode, field: str | None, message: str) -> Finding:
    return Finding(code=code.value, field=field, message=message)


def _pathways(rows: Iterable[Qualification]) -> str:
    return ", ".join(row.pathway for row in rows if row.pathway)


def _details_match(
    learner: Learner, given_name: str | None, family_name: str | None, date_of_birth: date | None
) -> bool:
    """Names trimmed and case-insensitively, in whichever Unicode form each was written (`comparable_name`); the
    date of birth exactly, when the record gives one and the learner was registered with one: a date of birth given
    for a learner registered without one has nothing to differ from, so it does not contradict the registration
    (DOMAIN.md §5 rule 6 "date of birth where given"; decision 0187)."""
    return (
        (given_name is None or comparable_name(given_name) == comparable_name(learner.given_name))
        and (family_name is None or comparable_name(family_name) == comparable_name(learner.family_name))
        and (date_of_birth is None or learner.date_of_birth is None or date_of_birth == learner.date_of_birth)
    )
