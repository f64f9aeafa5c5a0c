"""The decider gives WV008 (decision 0202) from the states it already reads for a batch: a Create at a corrected award
date, sent after the file with the mistyped date was accepted, is recorded with the warning in the outcomes it
publishes, also when the earlier result is recorded under another ULN of a merged learner. No other read is made:
`achievement_states_needed` names a learner and qualification, at any award date."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from lrs_contracts.batch import BatchFormat, BatchHeader, BatchSubmitted, JobType, SubmittedRecord
from lrs_contracts.outcomes import BatchRecordsDecided, RecordStatus
from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_domain.achievements import AchievementState, achievement_id
from lrs_domain.decision import BatchDecision, BatchJudging, achievement_states_needed
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot
from lrs_platform.keyring import PERSONAL_FIELDS, LearnerKey, Purpose, sealed_personal
from validation.batch_assembly import AssembledBatch
from validation.decider import finish_and_write, judge_part

AO = "RN5001"
GCSE = "60303049"
RECEIVED_AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
MERGED, MASTER = "3000000002", "3000000010"  # MERGED was merged into MASTER
CATALOGUE = Catalogue.of(
    [
        Qualification(
            qualification_number=GCSE,
            pathway=None,
            title="GCSE Mathematics",
            awarding_organisation_id=AO,
            awarding_organisation_name="Test Awarding Body",
            level="Level 2",
            qualification_type="GCSE (9 to 1)",
            framework=Framework.RQF,
            kind=QualificationKind.QUALIFICATION,
            grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X"),
        )
    ]
)
REGISTRY = {
    MERGED: Learner(MERGED, "Ada", "Byron", date(2001, 2, 3), 2, 1, master_uln=MASTER),
    MASTER: Learner(MASTER, "Ada", "Byron", date(2001, 2, 3), 2, 1),
}
REFERENCE = ReferenceSnapshot(CATALOGUE, {AO: AwardingOrganisation(AO, "Test Awarding Body")}, REGISTRY)
KEYS = {uln: LearnerKey(uln, secrets.token_bytes(32)) for uln in REGISTRY}


def _sealed_create(uln: str, award_date: date) -> SubmittedRecord:
    """A Create as ingest sends it: its personal fields sealed under its learner's key."""
    record = SubmittedRecord(
        line=1,
        action="Create",
        uln=uln,
        given_name="Ada",
        family_name="Byron",
        qualification_number=GCSE,
        award_date=award_date.isoformat(),
        grade="5",
    )
    personal = sealed_personal(KEYS[uln], Purpose.SUBMITTED_RECORD, record.model_dump())
    return record.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), "personal": personal})


def _final(uln: str, award_date: date) -> AchievementState:
    key = AchievementKey(ao_id=AO, uln=uln, qualification_number=GCSE, award_date=award_date)
    return AchievementState(achievement_id(key), key, AchievementData(grade="5"), ResultStatus.FINAL, False)


def _decided(record: SubmittedRecord, stored: Sequence[AchievementState]) -> tuple[BatchDecision, BatchRecordsDecided]:
    """The decider's steps without its stores: the states it reads, the chunk judged, the batch finished."""
    submitted = BatchSubmitted(
        batch_id=uuid.uuid4(),
        ao_id=AO,
        header=BatchHeader(awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org"),
        format=BatchFormat.JSON,
        record_count=1,
        content_sha256="0" * 64,
        size_bytes=1,
        submitted_by=f"ao:{AO}",
        received_at=RECEIVED_AT,
    )
    needed = achievement_states_needed([record], REFERENCE)
    existing: dict[tuple[str, str], list[AchievementState]] = {}
    for state in stored:  # what `DecisionStore.existing_states` returns for the pairs asked for
        if (state.key.uln, GCSE) in needed:
            existing.setdefault((state.key.uln, GCSE), []).append(state)
    judging = BatchJudging(submitted.batch_id, AO, JobType.FINAL, RECEIVED_AT.date())
    batch = AssembledBatch(submitted, (record,), partition=0, last_offset=2)
    part = judge_part(judging, [record], dict(KEYS), REFERENCE, existing)
    decision, messages = finish_and_write(batch, judging, [part], "cause")
    [outcomes] = [
        payload
        for message in messages
        if message.topic == BATCH_OUTCOMES.name and isinstance(payload := decode(message.value)[1], BatchRecordsDecided)
    ]
    return decision, outcomes


def test_a_create_at_a_corrected_award_date_is_published_accepted_with_wv008() -> None:
    decision, published = _decided(_sealed_create(MASTER, date(2024, 8, 22)), [_final(MASTER, date(2024, 8, 21))])

    [outcome] = published.outcomes
    assert outcome.status is RecordStatus.ACCEPTED and len(decision.events) == 1
    [warning] = outcome.warnings
    assert (warning.code, warning.field) == ("WV008", "award_date")
    assert warning.message.startswith("The learner already holds this qualification from you, awarded 2024-08-21: ")
    assert MASTER not in warning.message and "Byron" not in warning.message


def test_the_earlier_result_is_found_under_another_uln_of_a_merged_learner() -> None:
    _, published = _decided(_sealed_create(MASTER, date(2024, 8, 22)), [_final(MERGED, date(2024, 9, 2))])

    assert [finding.code for finding in published.outcomes[0].warnings] == ["WV008"]
    assert "awarded 2024-09-02:" in published.outcomes[0].warnings[0].message


def test_a_resit_months_later_is_published_without_it() -> None:
    _, published = _decided(_sealed_create(MASTER, date(2024, 8, 22)), [_final(MASTER, date(2023, 8, 24))])

    assert published.outcomes[0].status is RecordStatus.ACCEPTED and published.outcomes[0].warnings == ()
