from __future__ import annotations

import pytest

from lrs_contracts.reference import QualificationKind
from lrs_domain.grades import (
    FAILED_QCF_GRADES,
    GRADE_SETS_BY_TYPE,
    QCF_UNIT_GRADE_SET,
    UnknownQualificationType,
    default_grade_set,
)

# Every qualification type in the Ofqual snapshot of 18/02/2025, plus GCSE (A* to G) for NQF rows.
CATALOGUE_TYPES = [
    "Vocationally-Related Qualification",
    "Occupational Qualification",
    "Other Life Skills Qualification",
    "Performing Arts Graded Examination",
    "Other Vocational Qualification",
    "Other General Qualification",
    "Access to Higher Education",
    "English For Speakers of Other Languages",
    "GCSE (9 to 1)",
    "GCE A Level",
    "Technical Occupation Qualification",
    "GCE AS Level",
    "Functional Skills",
    "Alternative Academic Qualification",
    "Technical Qualification",
    "Essential Digital Skills",
    "Digital Functional Skills Qualification",
    "Project",
    "Advanced Extension Award",
    "GCSE (A* to G)",
]


@pytest.mark.parametrize("qualification_type", CATALOGUE_TYPES)
def test_every_catalogue_type_has_a_grade_set(qualification_type: str) -> None:
    assert default_grade_set(qualification_type, QualificationKind.QUALIFICATION)


@pytest.mark.parametrize(
    ("qualification_type", "grades"),
    [
        ("GCSE (9 to 1)", ("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X")),
        ("GCSE (A* to G)", ("A*", "A", "B", "C", "D", "E", "F", "G", "U", "X")),
        ("GCE A Level", ("A*", "A", "B", "C", "D", "E", "U", "X")),
        ("GCE AS Level", ("A", "B", "C", "D", "E", "U", "X")),
        ("Functional Skills", ("Pass", "Fail")),
        ("Occupational Qualification", ("Pass", "Merit", "Distinction", "Distinction*", "Fail")),
        ("Performing Arts Graded Examination", ("Pass", "Merit", "Distinction", "Fail")),
        ("Alternative Academic Qualification", ("A*", "A", "B", "C", "D", "E", "U", "X")),
        ("Digital Functional Skills Qualification", ("Pass", "Fail")),
        ("Advanced Extension Award", ("Distinction", "Merit", "U")),
    ],
)
def test_grade_sets_follow_domain(qualification_type: str, grades: tuple[str, ...]) -> None:
    assert GRADE_SETS_BY_TYPE[qualification_type] == grades


def test_units_are_pass_only_whatever_their_type() -> None:
    assert default_grade_set("QCF Unit", QualificationKind.UNIT) == QCF_UNIT_GRADE_SET == ("Pass",)


def test_failed_qcf_grades() -> None:
    assert frozenset({"Fail", "U", "X"}) == FAILED_QCF_GRADES


def test_an_unknown_type_without_a_grade_set_is_refused() -> None:
    with pytest.raises(UnknownQualificationType):
        default_grade_set("Diploma of Something New", QualificationKind.QUALIFICATION)
