"""Picks real qualifications from the shipped reference data for tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.reference import Qualification
from lrs_domain.reference_data import load_awarding_organisations, load_extra_qualifications, load_ofqual_catalogue
from lrs_domain.reference_files import (
    AWARDING_ORGANISATIONS,
    EXTRA_QUALIFICATIONS,
    OFQUAL_SNAPSHOT,
    read_reference_file,
)


@cache
def all_qualifications() -> tuple[Qualification, ...]:
    organisations = load_awarding_organisations(read_reference_file(AWARDING_ORGANISATIONS))
    ao_ids = {organisation.name: organisation.ao_id for organisation in organisations}
    rqf = load_ofqual_catalogue(read_reference_file(OFQUAL_SNAPSHOT), ao_ids)
    extra = load_extra_qualifications(read_reference_file(EXTRA_QUALIFICATIONS))
    return (*rqf, *extra)


@dataclass(frozen=True)
class Pick:
    ao_id: str
    qualification_number: str
    passing_grade: str
    qualification: Qualification


def pick(
    *,
    framework: Framework = Framework.RQF,
    kind: QualificationKind = QualificationKind.QUALIFICATION,
    qualification_type: str | None = None,
    ao_id: str | None = None,
) -> Pick:
    for qualification in all_qualifications():
        if qualification.framework is not framework or qualification.kind is not kind or qualification.pathway:
            continue
        if qualification_type and qualification.qualification_type != qualification_type:
            continue
        if ao_id and qualification.awarding_organisation_id != ao_id:
            continue
        grade = "Pass" if "Pass" in qualification.grade_set else qualification.grade_set[0]
        return Pick(qualification.awarding_organisation_id, qualification.qualification_number, grade, qualification)
    raise LookupError("no such qualification in the reference data")


def qualifications_of(ao_id: str, qualification_type: str) -> list[Qualification]:
    return [
        q
        for q in all_qualifications()
        if q.awarding_organisation_id == ao_id and q.qualification_type == qualification_type and not q.pathway
    ]
