"""One example message of every registered event type: what a consumer author or an analyst reads in
docs/asyncapi.json and docs/events.md (`scripts/dev/export_asyncapi.py` puts them there).

Each is built through the payload model and `registry.wrap`, so an example that no longer fits its
model fails at import, and `contracts/tests/test_examples.py` holds each to its committed schema
snapshot. The values agree with the domain and with one another: Pearson (`RN9093`, the project's id
for Pearson Education Ltd) sends its GCSE English Literature results (601/4789/1, normalised
`60147891`) for the sample learners of `reference/sample-learners.csv`; ids are derived the way their
producers derive them, and where a producer draws a random id the example has a fixed one.

The message key is the topic's (`lrs_contracts.topics`), and `correlation_id` is what the envelope's
description says for that kind of event. Sealed fields (`personal`, `reason_sealed`, `note_sealed`) hold
an illustrative placeholder in the sealed form (`s1.` + base64url): a real one is ciphertext that only
the learner's key opens.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.challenge import (
    ChallengeAcknowledged,
    ChallengedAchievement,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.envelope import Contract, Envelope, deterministic_id
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.learner import (
    AbilityToShare,
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.operations import MaintenanceScheduleChanged, MaintenanceWindow
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchCounts,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
    Finding,
    QualificationOnPlr,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.reference import Framework, QualificationKind, QualificationPublished
from lrs_contracts.registry import encode, wrap
from lrs_contracts.reporting import (
    AoMonthlyChallenges,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
    CodeRejections,
    QualificationTypeTimeliness,
)
from lrs_contracts.sandpit import PartitionOffset, SandpitAchievementsErased, SandpitReset, SandpitResetApplied
from lrs_contracts.topics import (
    BATCH_OUTCOMES,
    BATCH_SUBMITTED,
    CHALLENGE_EVENTS,
    LEARNER_EVENTS,
    MAINTENANCE,
    PLR_EVENTS,
    REFERENCE_QUALIFICATIONS,
    REPORTING_CHALLENGES,
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    REPORTING_SUBMISSIONS,
    REPORTING_TIMELINESS,
    Topic,
)


@dataclass(frozen=True)
class EventExample:
    """One example message: its Kafka key and value (`envelope`, whose `data` is `payload`)."""

    name: str
    summary: str
    topic: Topic
    key: str
    payload: Contract
    envelope: Envelope
    environment: Environment = Environment.LIVE

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def topic_name(self) -> str:
        """The topic as the example's environment names it (Sandpit events are on `sandpit.` topics only)."""
        return TopicNames(self.environment).of(self.topic)

    def message(self) -> dict[str, object]:
        """The message value as it travels: the JSON of the envelope."""
        value: dict[str, object] = json.loads(self.envelope.model_dump_json())
        return value


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _sealed(label: str) -> str:
    """An illustrative value in the sealed form; a real one is `s1.` + base64url(nonce, ciphertext, tag).

    Unpadded base64url is never 1 more than a multiple of 4 characters long: one of the two tails fits."""
    body = f"EXAMPLE-{label}-not-real-ciphertext"
    return f"s1.{body if len(body) % 4 != 1 else body.replace('not-real', 'not-a-real')}"


def _example(
    name: str,
    summary: str,
    topic: Topic,
    key: str,
    payload: Contract,
    *,
    source: str,
    correlation_id: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
    causation_id: str | None = None,
    environment: Environment = Environment.LIVE,
) -> EventExample:
    envelope = wrap(
        payload,
        source=source,
        correlation_id=correlation_id,
        event_id=event_id,
        causation_id=causation_id,
        occurred_at=occurred_at,
    )
    return EventExample(name, summary, topic, key, payload, envelope, environment)


AO_ID = "RN9093"
AO_NAME = "Pearson Education Ltd"
AO_PRINCIPAL = f"ao:{AO_ID}"
NOTIFICATION_EMAIL = "lrs-results@pearson.example"

GCSE_ENGLISH_LITERATURE = "60147891"  # 601/4789/1
GCSE_TITLE = "Pearson Edexcel Level 1/Level 2 GCSE (9-1) in English Literature"
GCSE_TYPE = "GCSE (9 to 1)"
GCSE_GRADES = ("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X")
GCSE_AWARDED = date(2024, 8, 22)
BTEC_BUSINESS_ADMINISTRATION = "60134057"  # 601/3405/7
BTEC_AWARDED = date(2024, 7, 19)

LILY = "1000000043"  # Lily McCarthy
DYLAN = "1026893096"  # Dylan Lewis
WILLOW = "6936002314"  # Willow Evans
THEO = "4444599390"  # Theo Brown
ROSIE = "4751158642"  # Rosie Brown
NIAMH = "9056937595"  # Niamh King, merged into MASTER
MASTER = "7667955475"
CENTRE_UKPRN = "10007890"
OTHER_CENTRE_UKPRN = "10001234"
_SQUATTING_UKPRN = "10009998"  # a provider that registered a ULN not its learner's


def _achievement_key(uln: str, qualification_number: str, award_date: date) -> AchievementKey:
    return AchievementKey(ao_id=AO_ID, uln=uln, qualification_number=qualification_number, award_date=award_date)


def _achievement_id(key: AchievementKey) -> uuid.UUID:
    """As the decider names an achievement: stable for its key (lrs_domain.achievements.achievement_id)."""
    return deterministic_id("achievement", key.ao_id, key.uln, key.qualification_number, key.award_date.isoformat())


def _submitted_event_id(batch_id: uuid.UUID) -> uuid.UUID:
    """The id of a batch's `lrs.batch.submitted.v1` event: the cause of its chunks, its end and its
    `lrs.batch.validation.started.v1`."""
    return deterministic_id(batch_id, "submitted")


def _completed_event_id(batch_id: uuid.UUID) -> uuid.UUID:
    """The id of a batch's `lrs.batch.submission.completed.v1` event: the cause of its decision, every
    event the decider writes for it once the whole batch has arrived."""
    return deterministic_id(batch_id, "completed")


def _plr_event_id(batch_id: uuid.UUID, line: int, event_type: str) -> uuid.UUID:
    return deterministic_id(batch_id, line, event_type)


def _challenge_event_id(challenge_id: uuid.UUID, event_type: str) -> uuid.UUID:
    return deterministic_id("lrs.challenge", challenge_id, event_type)


def _illustrative_id(name: str) -> uuid.UUID:
    """A fixed id where the producer draws a random one (uuid4)."""
    return deterministic_id("example", name)


def _reporting(
    name: str, summary: str, topic: Topic, aggregate: Contract, ao_id: str, period: str, occurred_at: str
) -> EventExample:
    key = f"{ao_id}|{period}"
    body = aggregate.model_dump(mode="json")
    # as reporting.projector.publication_of: the same aggregate content always gets the same event id
    event_id = deterministic_id("reporting", body["event_type"], key, json.dumps(body, sort_keys=True))
    return _example(
        name,
        summary,
        topic,
        key,
        aggregate,
        source="reporting",
        correlation_id=key,
        event_id=event_id,
        occurred_at=_at(occurred_at),
    )


# --- a Final batch of GCSE results, as ingest receives it and validation decides it -----------------------

BATCH_ID = uuid.UUID("5cc8663b-12a7-482a-9d95-f542521f525d")
_RECEIVED = _at("2024-08-22T07:15:04.512")
_STARTED = _at("2024-08-22T07:15:05.103")
_DECIDED = _at("2024-08-22T07:15:05.871")
_HEADER = BatchHeader(
    file_version="1.0",
    awarding_organisation=AO_ID,
    job_type=JobType.FINAL,
    notification_email=NOTIFICATION_EMAIL,
    batch_reference="GCSE-ENGLIT-2024-08",
    results_issued_date="2024-08-22",
)


def _record(line: int, mis_identifier: str, uln: str, grade: str, ukprn: str, language: str) -> SubmittedRecord:
    return SubmittedRecord(
        line=line,
        action="Create",
        mis_identifier=mis_identifier,
        uln=uln,
        qualification_number="601/4789/1",
        award_date=GCSE_AWARDED.isoformat(),
        grade=grade,
        centre_ukprn=ukprn,
        language_for_assessment=language,
        personal=_sealed(f"line-{line}-names-date-of-birth-gender"),
    )


_RECORDS = (
    _record(4, "PE-2024-0412", LILY, "7", CENTRE_UKPRN, "English"),
    _record(5, "PE-2024-0413", DYLAN, "5", OTHER_CENTRE_UKPRN, "English"),
    _record(6, "PE-2024-0414", WILLOW, "A*", OTHER_CENTRE_UKPRN, "English"),
    _record(7, "PE-2024-0415", THEO, "4", OTHER_CENTRE_UKPRN, "Welsh"),
)
_LILY_GCSE = _achievement_key(LILY, GCSE_ENGLISH_LITERATURE, GCSE_AWARDED)
_DYLAN_GCSE = _achievement_key(DYLAN, GCSE_ENGLISH_LITERATURE, GCSE_AWARDED)
_THEO_GCSE = _achievement_key(THEO, GCSE_ENGLISH_LITERATURE, GCSE_AWARDED)
_DYLAN_BTEC = _achievement_key(DYLAN, BTEC_BUSINESS_ADMINISTRATION, BTEC_AWARDED)
_GCSE_SUMMARY = QualificationSummary(
    title=GCSE_TITLE,
    qualification_type=GCSE_TYPE,
    level="Level 1/2",
    framework="RQF",
    kind="qualification",
    awarding_organisation_name=AO_NAME,
)

_BATCH_EXAMPLES = (
    _example(
        "gcse-results-batch",
        "Pearson's CSV of four GCSE English Literature results, received on results day.",
        BATCH_SUBMITTED,
        AO_ID,
        BatchSubmitted(
            batch_id=BATCH_ID,
            ao_id=AO_ID,
            header=_HEADER,
            format=BatchFormat.CSV,
            record_count=4,
            content_sha256="f8a2fa7ea9d98e0cea4097511eb316f41f16637cce1953eb417e847a2354187b",
            size_bytes=716,
            submitted_by=AO_PRINCIPAL,
            received_at=_RECEIVED,
        ),
        source="ingest",
        correlation_id=str(BATCH_ID),
        event_id=_submitted_event_id(BATCH_ID),
        occurred_at=_RECEIVED,
    ),
    _example(
        "gcse-results-records",
        "The batch's one chunk: its records as submitted, each learner's names, date of birth and gender"
        " sealed into `personal` (an illustrative placeholder here).",
        BATCH_SUBMITTED,
        AO_ID,
        BatchRecordsSubmitted(batch_id=BATCH_ID, ao_id=AO_ID, chunk_index=0, records=_RECORDS),
        source="ingest",
        correlation_id=str(BATCH_ID),
        causation_id=str(_submitted_event_id(BATCH_ID)),
        event_id=deterministic_id(BATCH_ID, "chunk", 0),
        occurred_at=_RECEIVED,
    ),
    _example(
        "gcse-results-end",
        "The end of the batch: four records in one chunk.",
        BATCH_SUBMITTED,
        AO_ID,
        BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id=AO_ID, record_count=4, chunk_count=1),
        source="ingest",
        correlation_id=str(BATCH_ID),
        causation_id=str(_submitted_event_id(BATCH_ID)),
        event_id=_completed_event_id(BATCH_ID),
        occurred_at=_RECEIVED,
    ),
    _example(
        "gcse-results-validating",
        "The decider has picked the GCSE batch up.",
        BATCH_OUTCOMES,
        str(BATCH_ID),
        BatchValidationStarted(batch_id=BATCH_ID, ao_id=AO_ID, record_count=4),
        source="validation",
        correlation_id=str(BATCH_ID),
        causation_id=str(_submitted_event_id(BATCH_ID)),
        event_id=deterministic_id(BATCH_ID, "validation-started"),
        occurred_at=_STARTED,
    ),
    _example(
        "gcse-results-outcomes",
        "Each record's outcome: three accepted (one with a warning), one rejected for a grade GCSE (9 to 1)"
        " does not have; ULNs masked to their last four digits.",
        BATCH_OUTCOMES,
        str(BATCH_ID),
        BatchRecordsDecided(
            batch_id=BATCH_ID,
            ao_id=AO_ID,
            chunk_index=0,
            outcomes=(
                RecordOutcome(
                    line=4,
                    mis_identifier="PE-2024-0412",
                    action="Create",
                    uln_masked="******0043",
                    status=RecordStatus.ACCEPTED,
                    achievement_id=_achievement_id(_LILY_GCSE),
                ),
                RecordOutcome(
                    line=5,
                    mis_identifier="PE-2024-0413",
                    action="Create",
                    uln_masked="******3096",
                    status=RecordStatus.ACCEPTED,
                    achievement_id=_achievement_id(_DYLAN_GCSE),
                ),
                RecordOutcome(
                    line=6,
                    mis_identifier="PE-2024-0414",
                    action="Create",
                    uln_masked="******2314",
                    status=RecordStatus.REJECTED,
                    errors=(
                        Finding(
                            code="RV009",
                            field="grade",
                            message="Grade 'A*' is not a grade of 601/4789/1 (GCSE (9 to 1)): expected one of 9, 8,"
                            " 7, 6, 5, 4, 3, 2, 1, U, X (exact spelling).",
                        ),
                    ),
                ),
                RecordOutcome(
                    line=7,
                    mis_identifier="PE-2024-0415",
                    action="Create",
                    uln_masked="******9390",
                    status=RecordStatus.ACCEPTED,
                    warnings=(
                        Finding(
                            code="WV002",
                            field="uln",
                            message="Records are not in ULN order from this line: ordering by ULN keeps each"
                            " learner's results together (warning only).",
                        ),
                    ),
                    achievement_id=_achievement_id(_THEO_GCSE),
                ),
            ),
        ),
        source="validation",
        correlation_id=str(BATCH_ID),
        causation_id=str(_completed_event_id(BATCH_ID)),
        event_id=deterministic_id(BATCH_ID, "outcomes", 0),
        occurred_at=_DECIDED,
    ),
    _example(
        "gcse-results-completed",
        "The GCSE batch was decided: 3 of 4 records accepted (25% rejected, under the 30% of RS005), its"
        " results on the PLR log.",
        BATCH_OUTCOMES,
        str(BATCH_ID),
        BatchCompleted(
            batch_id=BATCH_ID,
            ao_id=AO_ID,
            job_type=JobType.FINAL,
            batch_reference=_HEADER.batch_reference,
            notification_email=NOTIFICATION_EMAIL,
            counts=BatchCounts(total=4, accepted=3, rejected=1, no_ops=0, warnings=1),
            submitted_at=_RECEIVED,
            decided_at=_DECIDED,
            results_issued_date="2024-08-22",
            on_plr=(QualificationOnPlr(qualification_number=GCSE_ENGLISH_LITERATURE, qualification_type=GCSE_TYPE),),
        ),
        source="validation",
        correlation_id=str(BATCH_ID),
        causation_id=str(_completed_event_id(BATCH_ID)),
        event_id=deterministic_id(BATCH_ID, "result"),
        occurred_at=_DECIDED,
    ),
)

FAILED_BATCH_ID = uuid.UUID("f7d88832-6f45-4b9d-8fa2-6bc8ce0f6f82")
ABANDONED_BATCH_ID = uuid.UUID("2568452e-4afe-4cdc-a7a5-8ad85f547eec")

_FAILED_EXAMPLES = (
    _example(
        "btec-batch-failed",
        "A batch of 250 BTEC results with 81 rejected (32.4%): the whole batch failed with RS005.",
        BATCH_OUTCOMES,
        str(FAILED_BATCH_ID),
        BatchFailed(
            batch_id=FAILED_BATCH_ID,
            ao_id=AO_ID,
            code="RS005",
            reason="81 of 250 records were rejected, more than the 30% allowed: the whole batch failed and nothing"
            " of it reached any learner's record.",
            job_type=JobType.FINAL,
            batch_reference="BTEC-BUSADMIN-2024-08",
            notification_email=NOTIFICATION_EMAIL,
            counts=BatchCounts(total=250, accepted=169, rejected=81, no_ops=0, warnings=3),
            submitted_at=_at("2024-08-27T13:02:41.208"),
            decided_at=_at("2024-08-27T13:02:44.930"),
        ),
        source="validation",
        correlation_id=str(FAILED_BATCH_ID),
        causation_id=str(_completed_event_id(FAILED_BATCH_ID)),
        event_id=deterministic_id(FAILED_BATCH_ID, "result"),
        occurred_at=_at("2024-08-27T13:02:44.930"),
    ),
    _example(
        "resits-batch-abandoned",
        "The decider could not decide a batch after a few attempts and gave up on it; the AO is asked to send"
        " the file again.",
        BATCH_OUTCOMES,
        str(ABANDONED_BATCH_ID),
        BatchAbandoned(
            batch_id=ABANDONED_BATCH_ID,
            ao_id=AO_ID,
            reason="The LRS could not process this batch and has stopped trying; its operators have been alerted."
            " None of its records reached any learner's record. Submit the file again: it will be a new batch.",
            job_type=JobType.FINAL,
            batch_reference="GCSE-RESITS-2024-11",
            notification_email=NOTIFICATION_EMAIL,
            submitted_at=_at("2024-11-14T09:41:10.337"),
            abandoned_at=_at("2024-11-14T09:47:52.018"),
        ),
        source="validation",
        correlation_id=str(ABANDONED_BATCH_ID),
        event_id=deterministic_id(ABANDONED_BATCH_ID, "validation-abandoned"),
        occurred_at=_at("2024-11-14T09:47:52.018"),
    ),
)

# --- the PLR log ---------------------------------------------------------------------------------------------

REVIEW_BATCH_ID = uuid.UUID("ef8e4481-1a94-4e1f-851a-f7975b1f0c28")
BTEC_FINAL_BATCH_ID = uuid.UUID("125d711e-c6d9-4ad9-8945-9c5829c08b76")
WITHDRAW_BATCH_ID = uuid.UUID("98d64bfd-8c84-4fa0-a18a-1ca977370b7a")
REINSTATE_BATCH_ID = uuid.UUID("89f4ca8c-0834-459f-954c-e399e4ea857b")
_CENTRE_IDEMPOTENCY_KEY = "ILR-2425-R04-000318"
CENTRE_REPORT_ID = deterministic_id("centre", CENTRE_UKPRN, _CENTRE_IDEMPOTENCY_KEY)


def _plr_example(
    name: str,
    summary: str,
    payload: AchievementRecorded
    | AchievementUpdated
    | AchievementSuperseded
    | AchievementWithdrawn
    | AchievementReinstated,
    occurred_at: str,
) -> EventExample:
    batch_id = payload.provenance.batch_id
    return _example(
        name,
        summary,
        PLR_EVENTS,
        payload.key.uln,
        payload,
        source="validation",
        correlation_id=str(batch_id),
        causation_id=str(_completed_event_id(batch_id)),
        event_id=_plr_event_id(batch_id, payload.provenance.line, payload.event_type),
        occurred_at=_at(occurred_at),
    )


_PLR_EXAMPLES = (
    _plr_example(
        "gcse-recorded",
        "Lily McCarthy's GCSE English Literature, grade 7, from line 4 of the GCSE batch.",
        AchievementRecorded(
            achievement_id=_achievement_id(_LILY_GCSE),
            key=_LILY_GCSE,
            data=AchievementData(grade="7", ukprn=CENTRE_UKPRN, language_for_assessment="English"),
            status=ResultStatus.FINAL,
            qualification=_GCSE_SUMMARY,
            provenance=Provenance(batch_id=BATCH_ID, line=4),
        ),
        "2024-08-22T07:15:05.871",
    ),
    _plr_example(
        "gcse-regraded",
        "After a review of marking Pearson sends grade 8 for the same achievement: `data` is the whole result"
        " after the change.",
        AchievementUpdated(
            achievement_id=_achievement_id(_LILY_GCSE),
            key=_LILY_GCSE,
            data=AchievementData(grade="8", ukprn=CENTRE_UKPRN, language_for_assessment="English"),
            status=ResultStatus.FINAL,
            provenance=Provenance(batch_id=REVIEW_BATCH_ID, line=4),
        ),
        "2024-09-10T15:22:47.316",
    ),
    _plr_example(
        "btec-final-supersedes-provisional",
        "Dylan Lewis's Provisional Merit in a BTEC Level 2 Diploma is replaced by the Final result, Distinction.",
        AchievementSuperseded(
            achievement_id=_achievement_id(_DYLAN_BTEC),
            key=_DYLAN_BTEC,
            data=AchievementData(grade="Distinction", ukprn=OTHER_CENTRE_UKPRN, language_for_assessment="English"),
            provenance=Provenance(batch_id=BTEC_FINAL_BATCH_ID, line=12),
        ),
        "2024-08-15T10:04:19.552",
    ),
    _plr_example(
        "gcse-withdrawn",
        "Pearson withdraws Theo Brown's GCSE English Literature: it leaves his PLR and stays in its history.",
        AchievementWithdrawn(
            achievement_id=_achievement_id(_THEO_GCSE),
            key=_THEO_GCSE,
            provenance=Provenance(batch_id=WITHDRAW_BATCH_ID, line=4),
        ),
        "2024-09-05T11:48:02.734",
    ),
    _plr_example(
        "gcse-reinstated",
        "Pearson reinstates the withdrawn achievement: it is on Theo Brown's PLR again.",
        AchievementReinstated(
            achievement_id=_achievement_id(_THEO_GCSE),
            key=_THEO_GCSE,
            provenance=Provenance(batch_id=REINSTATE_BATCH_ID, line=4),
        ),
        "2024-09-12T09:31:25.090",
    ),
    _example(
        "centre-gcse-reported",
        "A college linked to Lily McCarthy reports her GCSE Business from its ILR return (an idempotent report:"
        " its ids derive from the provider and its Idempotency-Key).",
        PLR_EVENTS,
        LILY,
        CentreAchievementReported(
            report_id=CENTRE_REPORT_ID,
            uln=LILY,
            provider_ukprn=CENTRE_UKPRN,
            provider_name="Castlegate College",
            qualification_number="60301211",
            subject="Business",
            grade="6",
            award_date=GCSE_AWARDED,
            participation_start_date=date(2022, 9, 5),
            participation_end_date=date(2024, 6, 14),
        ),
        source="plr-projector",
        correlation_id=str(CENTRE_REPORT_ID),
        event_id=deterministic_id("centre-event", CENTRE_UKPRN, _CENTRE_IDEMPOTENCY_KEY),
        occurred_at=_at("2024-10-03T10:20:41.662"),
    ),
)

# --- the learner registry ------------------------------------------------------------------------------------


def _learner_example(name: str, summary: str, uln: str, payload: Contract, occurred_at: str) -> EventExample:
    return _example(
        name,
        summary,
        LEARNER_EVENTS,
        uln,
        payload,
        source="validation",
        correlation_id=f"learner:{uln[-4:]}",
        event_id=_illustrative_id(name),
        occurred_at=_at(occurred_at),
    )


_LEARNER_EXAMPLES = (
    _learner_example(
        "learner-registered-in-clear",
        "Dylan Lewis registered, as a log written before sealing has it: personal details in clear.",
        DYLAN,
        LearnerRegisteredV1(
            uln=DYLAN,
            given_name="Dylan",
            family_name="Lewis",
            date_of_birth=date(2007, 5, 13),
            gender=0,
            ability_to_share=AbilityToShare.SHARES,
        ),
        "2024-03-04T08:00:12.417",
    ),
    _learner_example(
        "learner-registered",
        "Lily McCarthy registered; her names, date of birth and gender sealed into `personal` (an illustrative"
        " placeholder here).",
        LILY,
        LearnerRegistered(
            uln=LILY, personal=_sealed("learner-registration-details"), ability_to_share=AbilityToShare.SHARES
        ),
        "2024-06-03T09:12:55.208",
    ),
    _learner_example(
        "learner-unable-to-share",
        "Theo Brown has seen the privacy notice and is unable to share: providers' reads of his PLR are refused.",
        THEO,
        LearnerSharingChanged(uln=THEO, ability_to_share=AbilityToShare.UNABLE_TO_SHARE),
        "2024-09-16T17:40:03.951",
    ),
    _learner_example(
        "learners-merged",
        "Two ULNs were one learner: 9056937595 is now an alias of 7667955475 (keyed by the master ULN).",
        MASTER,
        LearnersMerged(master_uln=MASTER, merged_uln=NIAMH),
        "2024-10-01T12:05:37.480",
    ),
    _learner_example(
        "learner-erased",
        "An operator erased Rosie Brown: her key is destroyed and every projection forgets her personal data.",
        ROSIE,
        LearnerErased(
            uln=ROSIE,
            erasure_id=_illustrative_id("erasure"),
            erased_by="operator:dpo",
            erased_at=_at("2024-11-20T10:15:00.000"),
        ),
        "2024-11-20T10:15:00.000",
    ),
    _learner_example(
        "provider-linked",
        "Castlegate College (UKPRN 10007890) is linked to Lily McCarthy: it may read her PLR while she shares.",
        LILY,
        LearnerProviderLinked(uln=LILY, provider_ukprn=CENTRE_UKPRN),
        "2024-06-03T09:12:55.208",
    ),
    _learner_example(
        "provider-unlinked",
        "A provider (UKPRN 10009998) had registered Dylan Lewis's ULN under other details; an operator's learner"
        " file replaced them with his, so that provider's link ends: it no longer reads his PLR.",
        DYLAN,
        LearnerProviderUnlinked(uln=DYLAN, provider_ukprn=_SQUATTING_UKPRN),
        "2024-03-04T08:00:12.417",
    ),
)

# --- reference data and operations ---------------------------------------------------------------------------

_REFERENCE_VERSION = 3
_REFERENCE_KEY = f"{GCSE_ENGLISH_LITERATURE}|"
_SCHEDULE_VERSION = 7

_REFERENCE_EXAMPLES = (
    _example(
        "gcse-catalogue-row",
        "The catalogue row of 601/4789/1 from reference load 3 (no pathway, so the key ends in `|`).",
        REFERENCE_QUALIFICATIONS,
        _REFERENCE_KEY,
        QualificationPublished(
            qualification_number=GCSE_ENGLISH_LITERATURE,
            title=GCSE_TITLE,
            awarding_organisation_id=AO_ID,
            awarding_organisation_name=AO_NAME,
            level="Level 1/2",
            qualification_type=GCSE_TYPE,
            framework=Framework.RQF,
            kind=QualificationKind.QUALIFICATION,
            grade_set=GCSE_GRADES,
            source=f"reference load {_REFERENCE_VERSION}",
            rows_in_load=8112,
        ),
        source="validation",
        correlation_id=f"reference-load-{_REFERENCE_VERSION}",
        event_id=deterministic_id("reference", _REFERENCE_VERSION, _REFERENCE_KEY),
        occurred_at=_at("2025-02-20T09:00:03.114"),
    ),
    _example(
        "maintenance-window-planned",
        "The schedule after an operator planned a Saturday-morning window: batches are accepted meanwhile and"
        " decided after it.",
        MAINTENANCE,
        "schedule",
        MaintenanceScheduleChanged(
            schedule_id=uuid.UUID("1afa5eeb-fa84-439c-a2da-d2169ea9400c"),
            version=_SCHEDULE_VERSION,
            windows=(
                MaintenanceWindow(
                    window_id=uuid.UUID("2e36165c-9935-4f5f-9333-706494fb4d94"),
                    starts_at=_at("2024-09-14T06:00:00"),
                    ends_at=_at("2024-09-14T10:00:00"),
                    reason="Database upgrade: batches sent meanwhile are decided after it.",
                ),
            ),
        ),
        source="ingest",
        correlation_id=f"maintenance-{_SCHEDULE_VERSION}",
        event_id=_illustrative_id("maintenance"),
        occurred_at=_at("2024-09-09T11:30:26.845"),
    ),
)

# --- Event Data Challenges -----------------------------------------------------------------------------------

CHALLENGE_ID = uuid.UUID("b5bb2343-319d-44f1-b67a-ea941f7ef1ac")
EARLIER_CHALLENGE_ID = uuid.UUID("1e40889a-bfac-40b0-9efc-231c57cd9438")


def _challenge_example(
    name: str,
    summary: str,
    payload: ChallengeRaisedV1 | ChallengeRaised | ChallengeAcknowledged | ChallengeResolved,
    principal: str,
    occurred_at: str,
) -> EventExample:
    return _example(
        name,
        summary,
        CHALLENGE_EVENTS,
        str(payload.achievement_id),
        payload,
        source="challenges",
        correlation_id=str(payload.challenge_id),
        causation_id=principal,
        event_id=_challenge_event_id(payload.challenge_id, payload.event_type),
        occurred_at=_at(occurred_at),
    )


_CHALLENGE_EXAMPLES = (
    _challenge_example(
        "challenge-raised-in-clear",
        "Dylan Lewis challenged his Provisional BTEC grade, as a log written before sealing has it: the reason"
        " in clear.",
        ChallengeRaisedV1(
            challenge_id=EARLIER_CHALLENGE_ID,
            achievement_id=_achievement_id(_DYLAN_BTEC),
            ao_id=AO_ID,
            uln=DYLAN,
            reason="My centre told me my grade is Distinction but my record shows Merit.",
        ),
        f"learner:{DYLAN}",
        "2024-07-25T19:02:11.530",
    ),
    _challenge_example(
        "challenge-raised",
        "Lily McCarthy says her GCSE grade is wrong; her words sealed into `reason_sealed` (an illustrative"
        " placeholder here).",
        ChallengeRaised(
            challenge_id=CHALLENGE_ID,
            achievement_id=_achievement_id(_LILY_GCSE),
            ao_id=AO_ID,
            uln=LILY,
            reason_sealed=_sealed("challenge-reason"),
            achievement=ChallengedAchievement(
                qualification_number=GCSE_ENGLISH_LITERATURE,
                title=GCSE_TITLE,
                award_date=GCSE_AWARDED,
                grade="7",
                uln=LILY,
                status=ResultStatus.FINAL,
                ukprn=CENTRE_UKPRN,
                language_for_assessment="English",
            ),
        ),
        f"learner:{LILY}",
        "2024-09-02T18:34:12.906",
    ),
    _challenge_example(
        "challenge-acknowledged",
        "Pearson has seen the challenge.",
        ChallengeAcknowledged(challenge_id=CHALLENGE_ID, achievement_id=_achievement_id(_LILY_GCSE), ao_id=AO_ID),
        AO_PRINCIPAL,
        "2024-09-03T08:52:40.127",
    ),
    _challenge_example(
        "challenge-resolved-corrected",
        "Pearson corrected the data with the review batch that regraded it; its note sealed into `note_sealed`"
        " (an illustrative placeholder here).",
        ChallengeResolved(
            challenge_id=CHALLENGE_ID,
            achievement_id=_achievement_id(_LILY_GCSE),
            ao_id=AO_ID,
            resolution=ChallengeResolution.CORRECTED,
            uln=LILY,
            note_sealed=_sealed("challenge-note"),
            correcting_batch_id=REVIEW_BATCH_ID,
        ),
        AO_PRINCIPAL,
        "2024-09-11T14:05:33.781",
    ),
)

# --- MI aggregates: Pearson's August 2024 --------------------------------------------------------------------

_PERIOD = "2024-08"

_REPORTING_EXAMPLES = (
    _reporting(
        "submissions-2024-08",
        "Pearson's August 2024 so far: 41 batches completed, 1 failed (RS005); the 169 records neither accepted,"
        " rejected nor unchanged are the failed batch's.",
        REPORTING_SUBMISSIONS,
        AoMonthlySubmissions(
            ao_id=AO_ID,
            period=_PERIOD,
            batches_completed=41,
            batches_failed=1,
            batches_abandoned=0,
            records_total=38_662,
            records_accepted=37_905,
            records_rejected=470,
            records_unchanged=118,
            rejections_by_code={"RS005": 1, "RV002": 96, "RV004": 212, "RV009": 141, "RV012": 38, "RV021": 7},
        ),
        AO_ID,
        _PERIOD,
        "2024-08-30T16:45:12.004",
    ),
    _reporting(
        "timeliness-2024-08",
        "Of the 38 completed batches that gave a results-issued date, 36 were decided within 10 working days.",
        REPORTING_TIMELINESS,
        AoMonthlyTimeliness(
            ao_id=AO_ID, period=_PERIOD, batches_measured=38, batches_within_10_working_days=36, worst_working_days=14
        ),
        AO_ID,
        _PERIOD,
        "2024-08-30T16:45:12.004",
    ),
    _reporting(
        "plr-timeliness-2024-08",
        "Working days from results issued to results on the PLR, overall and per qualification type (a batch"
        " counts once for each type it carried).",
        REPORTING_PLR_TIMELINESS,
        AoMonthlyPlrTimeliness(
            ao_id=AO_ID,
            period=_PERIOD,
            projection_lag_bound_seconds=300,
            batches_measured=38,
            batches_within_10_working_days=36,
            median_working_days=1,
            worst_working_days=14,
            by_qualification_type=(
                QualificationTypeTimeliness(
                    qualification_type=GCSE_TYPE,
                    batches_measured=29,
                    batches_within_10_working_days=29,
                    median_working_days=0,
                    worst_working_days=6,
                ),
                QualificationTypeTimeliness(
                    qualification_type="Vocationally-Related Qualification",
                    batches_measured=11,
                    batches_within_10_working_days=9,
                    median_working_days=4,
                    worst_working_days=14,
                ),
            ),
        ),
        AO_ID,
        _PERIOD,
        "2024-08-30T16:45:12.004",
    ),
    _reporting(
        "rejections-2024-08",
        "Pearson's rejections by code: RV codes count rejected records (a record under each of its codes), RS005"
        " the batch it failed and that batch's records.",
        REPORTING_REJECTIONS,
        AoMonthlyRejections(
            ao_id=AO_ID,
            period=_PERIOD,
            records_rejected=470,
            batches_failed=1,
            by_code=(
                CodeRejections(code="RS005", batches=1, records=250),
                CodeRejections(code="RV002", batches=17, records=96),
                CodeRejections(code="RV004", batches=23, records=212),
                CodeRejections(code="RV009", batches=12, records=141),
                CodeRejections(code="RV012", batches=5, records=38),
                CodeRejections(code="RV021", batches=3, records=7),
            ),
        ),
        AO_ID,
        _PERIOD,
        "2024-08-30T16:45:12.004",
    ),
    _reporting(
        "challenges-2024-08",
        "Challenges raised against Pearson's achievements in August 2024: 9 resolved so far (one withdrawn by the"
        " learner), 3 still open.",
        REPORTING_CHALLENGES,
        AoMonthlyChallenges(
            ao_id=AO_ID,
            period=_PERIOD,
            raised=12,
            acknowledged=10,
            resolved=9,
            still_open=3,
            resolutions={"corrected": 3, "upheld": 4, "rejected": 1, "withdrawn": 1},
            median_working_days_to_resolve=3,
            worst_working_days_to_resolve=9,
        ),
        AO_ID,
        _PERIOD,
        "2024-09-12T08:03:55.617",
    ),
)

# --- a Sandpit reset (on `sandpit.` topics only) -------------------------------------------------------------

RESET_ID = uuid.UUID("4bcfd85f-5222-4da2-9cf6-440f43489bb9")
_RESET_REQUEST_EVENT_ID = _illustrative_id("sandpit-reset-requested")

_SANDPIT_EXAMPLES = (
    _example(
        "sandpit-reset-requested",
        "Pearson asks to empty its sandpit; on sandpit.lrs.batch.submitted.v1, after its sandpit batches.",
        BATCH_SUBMITTED,
        AO_ID,
        SandpitReset(
            reset_id=RESET_ID, ao_id=AO_ID, requested_by=AO_PRINCIPAL, requested_at=_at("2024-10-07T14:20:31.775")
        ),
        source="ingest",
        correlation_id=str(RESET_ID),
        event_id=_RESET_REQUEST_EVENT_ID,
        occurred_at=_at("2024-10-07T14:20:31.775"),
        environment=Environment.SANDPIT,
    ),
    _example(
        "sandpit-learner-erased",
        "Pearson's sandpit achievements of one learner are gone; on sandpit.lrs.plr.events.v1.",
        PLR_EVENTS,
        LILY,
        SandpitAchievementsErased(reset_id=RESET_ID, ao_id=AO_ID, uln=LILY),
        source="validation",
        correlation_id=str(RESET_ID),
        causation_id=str(_RESET_REQUEST_EVENT_ID),
        event_id=deterministic_id(RESET_ID, LILY, "erased"),
        occurred_at=_at("2024-10-07T14:20:32.418"),
        environment=Environment.SANDPIT,
    ),
    _example(
        "sandpit-reset-applied",
        "The reset is applied: 37 learners' sandpit PLRs held Pearson's achievements; a PLR read at `plr_offsets`"
        " sees it. On sandpit.lrs.batch.outcomes.v1, keyed by the reset id.",
        BATCH_OUTCOMES,
        str(RESET_ID),
        SandpitResetApplied(
            reset_id=RESET_ID,
            ao_id=AO_ID,
            learners=37,
            plr_offsets=(
                PartitionOffset(partition=0, next_offset=1_841),
                PartitionOffset(partition=3, next_offset=977),
                PartitionOffset(partition=5, next_offset=1_206),
            ),
            forgotten_batches=(
                uuid.UUID("3b8e6f0d-52c4-4e0a-b7d9-0f6a1c2e9d38"),
                uuid.UUID("c0a71e94-6d2b-4f83-9e55-8b1d37f4a602"),
            ),
        ),
        source="validation",
        correlation_id=str(RESET_ID),
        causation_id=str(_RESET_REQUEST_EVENT_ID),
        event_id=deterministic_id(RESET_ID, "applied"),
        occurred_at=_at("2024-10-07T14:20:32.530"),
        environment=Environment.SANDPIT,
    ),
)

EXAMPLES: tuple[EventExample, ...] = (
    *_BATCH_EXAMPLES,
    *_FAILED_EXAMPLES,
    *_PLR_EXAMPLES,
    *_LEARNER_EXAMPLES,
    *_REFERENCE_EXAMPLES,
    *_CHALLENGE_EXAMPLES,
    *_REPORTING_EXAMPLES,
    *_SANDPIT_EXAMPLES,
)
"""Every example, one per registered event type (contracts/tests/test_examples.py holds it to that)."""


def example_of(event_type: str) -> EventExample:
    """The example of `event_type`; KeyError when it has none."""
    for example in EXAMPLES:
        if example.event_type == event_type:
            return example
    raise KeyError(event_type)


@dataclass(frozen=True)
class DeadLetterExample:
    """A message parked on `<topic>.dlq`: the original key and value, with the `lrs-*` headers saying why."""

    name: str
    summary: str
    parked: EventExample
    letter: DeadLetter

    @property
    def topic_name(self) -> str:
        return f"{self.parked.topic_name}.dlq"

    def headers(self) -> dict[str, str]:
        return {name: value.decode() for name, value in self.letter.headers()}


_STUCK_BATCH_END = _example(
    "resits-batch-end",
    "The end of the batch the decider gave up on.",
    BATCH_SUBMITTED,
    AO_ID,
    BatchSubmissionCompleted(batch_id=ABANDONED_BATCH_ID, ao_id=AO_ID, record_count=1_250, chunk_count=3),
    source="ingest",
    correlation_id=str(ABANDONED_BATCH_ID),
    causation_id=str(_submitted_event_id(ABANDONED_BATCH_ID)),
    event_id=_completed_event_id(ABANDONED_BATCH_ID),
    occurred_at=_at("2024-11-14T09:41:10.337"),
)

DEAD_LETTER_EXAMPLE = DeadLetterExample(
    "resits-batch-parked",
    "The decider could not decide a batch in 3 attempts and parked the message that completed it, key"
    " (`RN9093`) and value unchanged, in the transaction that also wrote the batch's lrs.batch.abandoned.v1.",
    _STUCK_BATCH_END,
    DeadLetter.of(
        error=f"batch {ABANDONED_BATCH_ID} could not be decided: QueryCanceledError: canceling statement due to"
        " statement timeout",
        topic=BATCH_SUBMITTED.name,
        partition=2,
        offset=48_213,
        consumer="validation.decider",
        attempts=3,
        value=encode(_STUCK_BATCH_END.envelope),
        parked_at=_at("2024-11-14T09:47:52.018"),
    ),
)
"""The dead-letter message's example (docs/asyncapi.json's `DeadLetter`, docs/events.md's "Dead letters")."""
