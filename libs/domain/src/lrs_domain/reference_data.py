"""Loaders for the reference CSV files of `lrs_domain.reference_files`: they parse text; reading is the caller's job.

Public API (each takes the whole text or an iterable of its lines, header row first):
- `load_awarding_organisations(text) -> tuple[AwardingOrganisation, ...]` — columns
  `AwardingOrganisationId,Name`;
- `load_ofqual_catalogue(text, ao_ids) -> tuple[Qualification, ...]` — the Ofqual register snapshot
  (`QualificationNumber, QualificationName, AwardingOrganisation, Level, QualificationType`); rows are
  RQF qualifications with the default grade set of their type; `ao_ids` maps AO name → AO id;
- `load_extra_qualifications(text, ao_ids=None) -> tuple[Qualification, ...]` — the project's extra rows
  (`QualificationNumber,Pathway,QualificationName,AwardingOrganisationId,AwardingOrganisation,Level,
  QualificationType,Framework,Kind,GradeSet`, GradeSet `|`-separated, empty = default of the type);
- `load_learners(text, today) -> tuple[Learner, ...]` — `ULN,GivenName,FamilyName,DateOfBirth,Gender,
  AbilityToShare,MasterULN`; names trimmed, 1 to 35 characters of one line of storable text; a date of birth
  written yyyy-mm-dd, from `EARLIEST_BIRTH_DATE` to `today`;
- `ReferenceDataError` — a row that cannot be loaded, with its line number.

Typical use: `Catalogue.of([*load_ofqual_catalogue(ofqual, {ao.name: ao.ao_id for ao in aos}),
*load_extra_qualifications(extra)])`.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import date
from typing import TypeVar

from lrs_contracts.reference import Framework, QualificationKind
from lrs_contracts.text import refused_character
from lrs_domain.formats.values import refused_in_line, trimmed_value, unseen_line_fault
from lrs_domain.grades import default_grade_set
from lrs_domain.identifiers import display_qan, is_valid_uln, mask_uln, parse_qan
from lrs_domain.names import name_length, name_too_long
from lrs_domain.reference import AwardingOrganisation, Learner, Qualification
from lrs_domain.rules import EARLIEST_BIRTH_DATE as EARLIEST_BIRTH_DATE  # a batch record's range too (decision 0176)
from lrs_domain.rules import MAX_NAME_LENGTH, parse_iso_date, why_not_a_date

T = TypeVar("T")

_AO_COLUMNS = ("AwardingOrganisationId", "Name")
_OFQUAL_COLUMNS = ("QualificationNumber", "QualificationName", "AwardingOrganisation", "Level", "QualificationType")
_EXTRA_COLUMNS = (
    "QualificationNumber",
    "Pathway",
    "QualificationName",
    "AwardingOrganisationId",
    "AwardingOrganisation",
    "Level",
    "QualificationType",
    "Framework",
    "Kind",
    "GradeSet",
)
_LEARNER_COLUMNS = ("ULN", "GivenName", "FamilyName", "DateOfBirth", "Gender", "AbilityToShare", "MasterULN")


class ReferenceDataError(ValueError):
    """A reference row that cannot be loaded. The message names the line but never personal data."""


def load_awarding_organisations(text: str | Iterable[str]) -> tuple[AwardingOrganisation, ...]:
    """The file's AOs; an id on two rows, or a name on two rows (the register names an AO by name: which id is its
    own could not be told), is refused naming both lines. The same row twice is harmless: kept once."""
    lines: list[int] = []
    organisations = _load(text, _AO_COLUMNS, _awarding_organisation, lines)
    ids: dict[str, int] = {}
    names: dict[str, tuple[int, str]] = {}
    kept: list[AwardingOrganisation] = []
    for organisation, line in zip(organisations, lines, strict=True):
        if organisation in kept:
            continue
        kept.append(organisation)
        if (first := ids.setdefault(organisation.ao_id, line)) != line:
            raise ReferenceDataError(
                f"line {line}: AwardingOrganisationId {organisation.ao_id} is on line {first} too: give each awarding"
                " organisation one row"
            )
        first, first_id = names.setdefault(organisation.name, (line, organisation.ao_id))
        if first != line:
            raise ReferenceDataError(
                f"line {line}: awarding organisation {organisation.name!r} is on line {first} too, as {first_id}:"
                " an awarding organisation has one id and one row"
            )
    return tuple(kept)


def load_ofqual_catalogue(text: str | Iterable[str], ao_ids: Mapping[str, str]) -> tuple[Qualification, ...]:
    def qualification(row: dict[str, str]) -> Qualification:
        ao_name = _required(row, "AwardingOrganisation")
        ao_id = ao_ids.get(ao_name)
        if ao_id is None:
            raise ValueError(f"awarding organisation {ao_name!r} has no id in the awarding organisations list")
        qualification_type = _required(row, "QualificationType")
        return Qualification(
            qualification_number=_qualification_number(row, QualificationKind.QUALIFICATION),
            pathway=None,
            title=_required(row, "QualificationName"),
            awarding_organisation_id=ao_id,
            awarding_organisation_name=ao_name,
            level=_optional(row, "Level"),
            qualification_type=qualification_type,
            framework=Framework.RQF,
            kind=QualificationKind.QUALIFICATION,
            grade_set=default_grade_set(qualification_type, QualificationKind.QUALIFICATION),
        )

    lines: list[int] = []
    return _once_each(_load(text, _OFQUAL_COLUMNS, qualification, lines), lines)


def load_extra_qualifications(
    text: str | Iterable[str], ao_ids: Collection[str] | None = None
) -> tuple[Qualification, ...]:
    """The extra rows; `ao_ids`, when given: the AO ids of the awarding organisations list, and a row naming any
    other is refused."""

    def qualification(row: dict[str, str]) -> Qualification:
        extra = _extra_qualification(row)
        if ao_ids is not None and extra.awarding_organisation_id not in ao_ids:
            raise ValueError(
                f"AwardingOrganisationId {extra.awarding_organisation_id} is not in the awarding organisations list"
            )
        return extra

    lines: list[int] = []
    return _once_each(_load(text, _EXTRA_COLUMNS, qualification, lines), lines)


def _once_each(qualifications: tuple[Qualification, ...], lines: list[int]) -> tuple[Qualification, ...]:
    """`qualifications`, one file's, each (qualification number, pathway) once: one on two rows that differ is refused
    naming both lines (the last row would otherwise silently win); the same row twice is harmless, and kept once."""
    seen: dict[tuple[str, str | None], tuple[int, Qualification]] = {}
    kept: list[Qualification] = []
    for qualification, line in zip(qualifications, lines, strict=True):
        key = (qualification.qualification_number, qualification.pathway)
        first, earlier = seen.setdefault(key, (line, qualification))
        if first == line:
            kept.append(qualification)
        elif earlier != qualification:
            pathway = f" (pathway {qualification.pathway})" if qualification.pathway else ""
            raise ReferenceDataError(
                f"line {line}: qualification {display_qan(qualification.qualification_number)}{pathway} is on line"
                f" {first} too, with other values: give each qualification one row"
            )
    return tuple(kept)


def load_learners(text: str | Iterable[str], today: date) -> tuple[Learner, ...]:
    """The file's learners; one named twice with other details is refused, as which is right cannot be told
    (the last would otherwise silently win). The same row twice is harmless. A date of birth is read as
    registration reads it: written yyyy-mm-dd, from 1900-01-01 to `today` (England's date)."""
    learners = _load(text, _LEARNER_COLUMNS, functools.partial(_learner, today=today))
    named: dict[str, Learner] = {}
    for learner in learners:
        if named.setdefault(learner.uln, learner) != learner:
            raise ReferenceDataError(
                f"the learner {mask_uln(learner.uln)} is on two rows with different details: name each learner once"
            )
    return learners


def _awarding_organisation(row: dict[str, str]) -> AwardingOrganisation:
    return AwardingOrganisation(ao_id=_required(row, "AwardingOrganisationId"), name=_required(row, "Name"))


def _extra_qualification(row: dict[str, str]) -> Qualification:
    kind = QualificationKind(_required(row, "Kind"))
    qualification_type = _required(row, "QualificationType")
    grade_set_text = _optional(row, "GradeSet")
    grade_set = (
        tuple(grade.strip() for grade in grade_set_text.split("|") if grade.strip())
        if grade_set_text
        else default_grade_set(qualification_type, kind)
    )
    return Qualification(
        qualification_number=_qualification_number(row, kind),
        pathway=_optional(row, "Pathway"),
        title=_required(row, "QualificationName"),
        awarding_organisation_id=_required(row, "AwardingOrganisationId"),
        awarding_organisation_name=_required(row, "AwardingOrganisation"),
        level=_optional(row, "Level"),
        qualification_type=qualification_type,
        framework=Framework(_required(row, "Framework")),
        kind=kind,
        grade_set=grade_set,
    )


def _learner(row: dict[str, str], today: date) -> Learner:
    uln = _required(row, "ULN")
    if not is_valid_uln(uln):
        raise ValueError("ULN is not a valid ULN")
    master_uln = _optional(row, "MasterULN")
    if master_uln is not None and not is_valid_uln(master_uln):
        raise ValueError("MasterULN is not a valid ULN")
    if master_uln == uln:
        raise ValueError("MasterULN is the line's own ULN: a ULN is not merged into itself (leave MasterULN empty)")
    return Learner(
        uln=uln,
        given_name=_learner_name(row, "GivenName"),
        family_name=_learner_name(row, "FamilyName"),
        date_of_birth=_birth_date(row, "DateOfBirth", today),
        gender=_small_int(row, "Gender", allowed=(0, 1, 2, 9)),
        ability_to_share=_small_int(row, "AbilityToShare", allowed=(0, 1, 2)),
        master_uln=master_uln,
    )


def _learner_name(row: dict[str, str], column: str) -> str:
    """The name, trimmed of white space (a control character at an end is kept, to be refused, as a batch's name's
    is: `trimmed_value`): 1 to 35 characters (DOMAIN §7) of one line of storable text (`lrs_contracts.text`)."""
    name = trimmed_value(row.get(column) or "")
    if name is None:
        raise ValueError(f"{column} is empty")
    if name_too_long(name, MAX_NAME_LENGTH):
        raise ValueError(f"{column} is {name_length(name)} characters long; a name has at most {MAX_NAME_LENGTH}")
    refused = refused_character(name, one_line=True, one_line_is="a name")
    if refused is not None:
        raise ValueError(f"{column} holds {refused}, which cannot be stored or sent")
    return name


def _load(
    text: str | Iterable[str],
    columns: tuple[str, ...],
    build: Callable[[dict[str, str]], T],
    lines: list[int] | None = None,
) -> tuple[T, ...]:
    """The rows built; `lines`, when given, gets the line each row built ends on."""
    reader = csv.DictReader(_lines(text))
    missing = [column for column in columns if column not in (reader.fieldnames or ())]
    if missing:
        raise ReferenceDataError(f"line 1: missing columns {', '.join(missing)}")
    loaded = []
    for row in reader:
        if None in row or None in row.values():
            # a line of nothing a reader sees but a Ctrl-Z end-of-file mark or NUL padding: named, as in a batch
            fields = [value for key, value in row.items() if key is not None and value is not None]
            written = ",".join([*fields, *(row.get(None) or ())])
            refused = refused_in_line(written, reader.line_num)
            raise ReferenceDataError(
                unseen_line_fault(written, reader.line_num, 1)
                or f"line {reader.line_num}: wrong number of fields{f'; {refused}' if refused else ''}"
            )
        if not any(value.strip() for value in row.values()):
            continue
        try:
            loaded.append(build(row))
            if lines is not None:
                lines.append(reader.line_num)
        except ValueError as error:  # includes UnknownQualificationType
            raise ReferenceDataError(f"line {reader.line_num}: {error}") from error
    return tuple(loaded)


def _lines(text: str | Iterable[str]) -> Iterator[str]:
    # with their line ends, as a file gives them: a line break inside a quoted value stays in the value, and
    # only CR and LF end a line (not U+0085, U+2028 or U+2029, which `str.splitlines` also breaks at)
    lines = iter(io.StringIO(text, newline="") if isinstance(text, str) else text)
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from lines


def _optional(row: dict[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value or None


def _required(row: dict[str, str], column: str) -> str:
    value = _optional(row, column)
    if value is None:
        raise ValueError(f"{column} is empty")
    return value


def _qualification_number(row: dict[str, str], kind: QualificationKind) -> str:
    text = _required(row, "QualificationNumber")
    parsed = parse_qan(text)
    if parsed is None or parsed.is_unit_reference != (kind is QualificationKind.UNIT):
        expected = "a unit reference L/NNN/NNNN" if kind is QualificationKind.UNIT else "NNN/NNNN/C or NNNNNNNC"
        raise ValueError(f"QualificationNumber {text!r} is not {expected}")
    return parsed.normalised


def _birth_date(row: dict[str, str], column: str, today: date) -> date | None:
    """Never quoted in the error: it is personal data."""
    text = _optional(row, column)
    if text is None:
        return None
    born = parse_iso_date(text)
    if born is None:
        raise ValueError(f"{column} {why_not_a_date(text)}")
    if not EARLIEST_BIRTH_DATE <= born <= today:
        raise ValueError(f"{column} is not a date of birth from {EARLIEST_BIRTH_DATE.isoformat()} to today")
    return born


def _small_int(row: dict[str, str], column: str, *, allowed: tuple[int, ...]) -> int:
    text = _optional(row, column)
    if text is None:
        return 0
    # the text is matched against the allowed numbers before `int` reads it: `int` refuses more than 4,300 digits
    # with Python's own words (naming sys.set_int_max_str_digits), not the column's; leading zeros stay allowed
    written = {str(number): number for number in allowed}
    number = written.get(text.lstrip("0") or "0") if text.isascii() and text.isdigit() else None
    if number is None:
        raise ValueError(f"{column} must be one of {', '.join(written)}")
    return number
