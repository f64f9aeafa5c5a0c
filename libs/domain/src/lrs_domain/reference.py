"""Reference data the rules judge against: the qualification catalogue, AOs and learners.

Plain immutable values; the validation service loads them from PostgreSQL, the offline checker from
the shipped CSV files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from lrs_contracts.plr import QualificationSummary
from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.merges import LearnerMerges


@dataclass(frozen=True)
class Qualification:
    qualification_number: str  # normalised: 8 characters without obliques, or a QCF unit ref L/NNN/NNNN
    pathway: str | None
    title: str
    awarding_organisation_id: str
    awarding_organisation_name: str
    level: str | None
    qualification_type: str
    framework: Framework
    kind: QualificationKind
    grade_set: tuple[str, ...]


def qualification_summary(qualification: Qualification) -> QualificationSummary:
    """What an achievement event says of its qualification (`AchievementRecorded.qualification`)."""
    return QualificationSummary(
        title=qualification.title,
        qualification_type=qualification.qualification_type,
        level=qualification.level,
        framework=qualification.framework.value,
        kind=qualification.kind.value,
        awarding_organisation_name=qualification.awarding_organisation_name,
    )


@dataclass(frozen=True)
class AwardingOrganisation:
    ao_id: str
    name: str


@dataclass(frozen=True)
class Learner:
    uln: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    gender: int
    ability_to_share: int
    master_uln: str | None = None  # set when this ULN was merged into another


@dataclass(frozen=True)
class Catalogue:
    """Qualifications by normalised number; a number may carry several pathways."""

    rows: Mapping[str, tuple[Qualification, ...]] = field(default_factory=dict)

    @staticmethod
    def of(qualifications: Iterable[Qualification]) -> Catalogue:
        by_number: dict[str, list[Qualification]] = defaultdict(list)
        for qualification in qualifications:
            by_number[qualification.qualification_number].append(qualification)
        return Catalogue({number: tuple(rows) for number, rows in by_number.items()})

    def rows_for(self, qualification_number: str) -> tuple[Qualification, ...]:
        return self.rows.get(qualification_number, ())

    def awarding_organisation_ids(self) -> frozenset[str]:
        """Every AO that awards at least one catalogued qualification."""
        return frozenset(row.awarding_organisation_id for rows in self.rows.values() for row in rows)


@dataclass(frozen=True)
class ReferenceSnapshot:
    """Everything a batch decision reads besides achievement state.

    `learners` holds at least every ULN named in the batch and every ULN merged with one of them:
    the ULNs they were merged into, in turn, and the ULNs merged into those (`lrs_domain.merges`).
    """

    catalogue: Catalogue
    awarding_organisations: Mapping[str, AwardingOrganisation]
    learners: Mapping[str, Learner]

    @cached_property
    def merges(self) -> LearnerMerges:
        return LearnerMerges.of(self.learners.values())
