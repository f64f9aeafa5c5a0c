"""Values the domain unit tests build on: a small catalogue, a few learners, and record/batch builders.

Everything here is fictional except a few real Ofqual numbers, used because they show real quirks
(61000079 is approved yet fails the QAN check character).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from lrs_contracts.batch import BatchHeader, JobType, SubmittedRecord
from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.achievements import AchievementState, achievement_id
from lrs_domain.decision import BatchDecision, SubmittedBatch, decide_batch
from lrs_domain.grades import GRADE_SETS_BY_TYPE, QCF_UNIT_GRADE_SET
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot

TODAY = date(2025, 3, 1)
AO = "RN5001"
OTHER_AO = "RN5002"
BATCH_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")

GCSE = "60303049"  # GCSE (9 to 1), RQF
GCSE_A_STAR = "10050012"  # GCSE (A* to G), NQF
VOCATIONAL = "61000079"  # Technical Qualification; fails the check character (WV001)
QCF_QUALIFICATION = "50000019"  # Occupational, QCF: Pass, Merit, Distinction, Distinction*, Fail
QCF_UNIT = "K/501/5773"
TWO_PATHWAYS = "10050061"
OTHER_AOS_QUALIFICATION = "60143368"


def _qualification(
    number: str,
    qualification_type: str,
    *,
    framework: Framework = Framework.RQF,
    kind: QualificationKind = QualificationKind.QUALIFICATION,
    pathway: str | None = None,
    ao_id: str = AO,
) -> Qualification:
    grade_set = QCF_UNIT_GRADE_SET if kind is QualificationKind.UNIT else GRADE_SETS_BY_TYPE[qualification_type]
    return Qualification(
        qualification_number=number,
        pathway=pathway,
        title=f"Test qualification {number} {pathway or ''}".strip(),
        awarding_organisation_id=ao_id,
        awarding_organisation_name="Test Awarding Body" if ao_id == AO else "Other Awarding Body",
        level="Level 2",
        qualification_type=qualification_type,
        framework=framework,
        kind=kind,
        grade_set=grade_set,
    )


CATALOGUE = Catalogue.of(
    [
        _qualification(GCSE, "GCSE (9 to 1)"),
        _qualification(GCSE_A_STAR, "GCSE (A* to G)", framework=Framework.NQF),
        _qualification(VOCATIONAL, "Technical Qualification"),
        _qualification(QCF_QUALIFICATION, "Occupational Qualification", framework=Framework.QCF),
        _qualification(QCF_UNIT, "QCF Unit", framework=Framework.QCF, kind=QualificationKind.UNIT),
        _qualification(TWO_PATHWAYS, "Vocationally-Related Qualification", pathway="Science"),
        _qualification(TWO_PATHWAYS, "Vocationally-Related Qualification", pathway="Development"),
        _qualification(OTHER_AOS_QUALIFICATION, "GCE A Level", ao_id=OTHER_AO),
    ]
)

ULN = "1000000043"
ULN_2 = "1026893096"
ULN_3 = "6936002314"
MERGED_ULN = "2000000028"
MASTER_ULN = "2000000036"
UNREGISTERED_ULN = "4444599390"
LEARNERS: Mapping[str, Learner] = {
    learner.uln: learner
    for learner in (
        Learner(ULN, "Lily", "McCarthy", date(1999, 11, 27), 2, 1),
        Learner(ULN_2, "Dylan", "Lewis", date(2007, 5, 13), 0, 1),
        Learner(ULN_3, "Siân", "O'Neill", None, 9, 2),
        Learner(MASTER_ULN, "Niamh", "King", date(1996, 3, 24), 2, 1),
        Learner(MERGED_ULN, "Niamh", "King", date(1996, 3, 24), 2, 1, master_uln=MASTER_ULN),
    )
}
REFERENCE = ReferenceSnapshot(
    catalogue=CATALOGUE,
    awarding_organisations={
        AO: AwardingOrganisation(AO, "Test Awarding Body"),
        OTHER_AO: AwardingOrganisation(OTHER_AO, "Other Awarding Body"),
    },
    learners=LEARNERS,
)

_NAMES = {learner.uln: (learner.given_name, learner.family_name) for learner in LEARNERS.values()}


def record(line: int = 4, **fields: Any) -> SubmittedRecord:
    """A valid Create of GCSE grade 5 for `ULN`, awarded 2024-08-22; override any field."""
    uln = fields.get("uln", ULN)
    given_name, family_name = _NAMES.get(uln, ("Test", "Learner"))
    values: dict[str, Any] = {
        "action": "Create",
        "mis_identifier": f"CAND-{line}",
        "uln": uln,
        "given_name": given_name,
        "family_name": family_name,
        "qualification_number": GCSE,
        "award_date": "2024-08-22",
        "grade": "5",
        "centre_ukprn": "10001234",
        "language_for_assessment": "English",
    }
    values.update(fields)
    return SubmittedRecord(line=line, **values)


def header(job_type: JobType | None = None, ao_id: str = AO) -> BatchHeader:
    return BatchHeader(awarding_organisation=ao_id, job_type=job_type, notification_email="results@example.org")


def batch(records: Sequence[SubmittedRecord], job_type: JobType | None = None, ao_id: str = AO) -> SubmittedBatch:
    return SubmittedBatch(
        batch_id=BATCH_ID,
        ao_id=ao_id,
        header=header(job_type, ao_id),
        records=records,
        submitted_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    )


def decide(
    *records: SubmittedRecord,
    existing: Sequence[AchievementState] = (),
    job_type: JobType | None = None,
    ao_id: str = AO,
) -> BatchDecision:
    """Decide a batch against `existing` states (any learners and qualifications)."""
    by_learner_and_qualification: dict[tuple[str, str], list[AchievementState]] = {}
    for state in existing:
        by_learner_and_qualification.setdefault((state.key.uln, state.key.qualification_number), []).append(state)
    return decide_batch(batch(records, job_type, ao_id), REFERENCE, by_learner_and_qualification, TODAY)


def state(
    *,
    uln: str = ULN,
    qualification_number: str = GCSE,
    award_date: date = date(2024, 8, 22),
    grade: str = "5",
    status: ResultStatus = ResultStatus.FINAL,
    withdrawn: bool = False,
    pathway: str | None = None,
    ukprn: str | None = "10001234",
    language: str | None = "English",
    credits: int | None = None,
) -> AchievementState:
    """An achievement as it stood before the batch; the defaults match `record()`."""
    key = AchievementKey(ao_id=AO, uln=uln, qualification_number=qualification_number, award_date=award_date)
    return AchievementState(
        achievement_id=achievement_id(key),
        key=key,
        data=AchievementData(
            pathway=pathway, grade=grade, ukprn=ukprn, language_for_assessment=language, credits=credits
        ),
        status=status,
        withdrawn=withdrawn,
    )


def codes(decision: BatchDecision, index: int = 0) -> list[str]:
    return [finding.code for finding in decision.outcomes[index].errors]


def warning_codes(decision: BatchDecision, index: int = 0) -> list[str]:
    return [finding.code for finding in decision.outcomes[index].warnings]
