"""Grade sets (DOMAIN.md §4 and §7): which grades a qualification may be awarded.

Public API: `GRADE_SETS_BY_TYPE`, `QCF_UNIT_GRADE_SET`, `FAILED_QCF_GRADES`,
`default_grade_set(qualification_type, kind)` and `UnknownQualificationType`.

Grade sets are keyed by the Ofqual qualification type; a catalogue row may carry its own set, which
then wins. Grades are exact values: `Pass`, not `PASS`. U is unclassified, X absent or no result.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lrs_contracts.reference import QualificationKind

_GCSE_9_TO_1 = ("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X")
_GCSE_A_STAR_TO_G = ("A*", "A", "B", "C", "D", "E", "F", "G", "U", "X")
_A_STAR_TO_E = ("A*", "A", "B", "C", "D", "E", "U", "X")
_A_TO_E = ("A", "B", "C", "D", "E", "U", "X")
_PASS_FAIL = ("Pass", "Fail")
_VOCATIONAL = ("Pass", "Merit", "Distinction", "Distinction*", "Fail")
_GRADED_EXAMINATION = ("Pass", "Merit", "Distinction", "Fail")
_ADVANCED_EXTENSION_AWARD = ("Distinction", "Merit", "U")

GRADE_SETS_BY_TYPE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "GCSE (9 to 1)": _GCSE_9_TO_1,
        "GCSE (A* to G)": _GCSE_A_STAR_TO_G,
        "GCE A Level": _A_STAR_TO_E,
        "Project": _A_STAR_TO_E,
        "Alternative Academic Qualification": _A_STAR_TO_E,
        "GCE AS Level": _A_TO_E,
        "Functional Skills": _PASS_FAIL,
        "Digital Functional Skills Qualification": _PASS_FAIL,
        "Essential Digital Skills": _PASS_FAIL,
        "English For Speakers of Other Languages": _PASS_FAIL,
        "Access to Higher Education": _PASS_FAIL,
        "Other Life Skills Qualification": _PASS_FAIL,
        "Other General Qualification": _PASS_FAIL,
        "Vocationally-Related Qualification": _VOCATIONAL,
        "Occupational Qualification": _VOCATIONAL,
        "Other Vocational Qualification": _VOCATIONAL,
        "Technical Qualification": _VOCATIONAL,
        "Technical Occupation Qualification": _VOCATIONAL,
        "Performing Arts Graded Examination": _GRADED_EXAMINATION,
        "Advanced Extension Award": _ADVANCED_EXTENSION_AWARD,
    }
)

QCF_UNIT_GRADE_SET: tuple[str, ...] = ("Pass",)

# QCF units and qualifications a learner failed are never uploaded (seed FAQ §1), so these are RV010.
FAILED_QCF_GRADES: frozenset[str] = frozenset({"Fail", "U", "X"})


class UnknownQualificationType(ValueError):
    """A catalogue row names a qualification type with no default grade set and brings none of its own."""


def default_grade_set(qualification_type: str, kind: QualificationKind) -> tuple[str, ...]:
    """The grade set of a catalogue row that does not carry its own.

    Units exist only in the QCF and are awarded Pass or not at all.
    """
    if kind is QualificationKind.UNIT:
        return QCF_UNIT_GRADE_SET
    try:
        return GRADE_SETS_BY_TYPE[qualification_type]
    except KeyError:
        raise UnknownQualificationType(
            f"no default grade set for qualification type {qualification_type!r}; give the row a grade set"
        ) from None
