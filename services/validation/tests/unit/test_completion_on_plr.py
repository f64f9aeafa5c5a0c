"""A completed batch's `BatchCompleted` names exactly the qualifications of the events it put on the PLR
log: each distinct QAN once, with the type its recorded achievements carry, and no rejected record's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from lrs_contracts.batch import BatchFormat, BatchHeader, BatchSubmitted, JobType, SubmittedRecord
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, QualificationOnPlr
from lrs_contracts.plr import AchievementData, AchievementKey, AchievementRecorded, ResultStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES, PLR_EVENTS
from lrs_domain.achievements import AchievementEvent, AchievementState, achievement_id
from lrs_domain.decision import SubmittedBatch, decide_batch
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot
from validation.decision_store import OutgoingMessage
from validation.messages import decision_messages

AO = "RN5001"
GCSE, VRQ, FUNCTIONAL = "60303049", "60012345", "60054321"
TYPES = {GCSE: "GCSE (9 to 1)", VRQ: "Vocationally-Related Qualification", FUNCTIONAL: "Functional Skills"}
AWARDED = date(2024, 8, 22)
TODAY = date(2025, 3, 1)
DECIDED_AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
ULNS = ("3000000002", "3000000010", "3000000029", "3000000037", "3000000045", "3000000053")

REFERENCE = ReferenceSnapshot(
    Catalogue.of(
        [
            Qualification(
                qualification_number=qan,
                pathway=None,
                title=f"A {qualification_type}",
                awarding_organisation_id=AO,
                awarding_organisation_name="Test Awarding Body",
                level="Level 2",
                qualification_type=qualification_type,
                framework=Framework.RQF,
                kind=QualificationKind.QUALIFICATION,
                grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X"),
            )
            for qan, qualification_type in TYPES.items()
        ]
    ),
    {AO: AwardingOrganisation(AO, "Test Awarding Body")},
    {uln: Learner(uln, "Ada", "Byron", date(2001, 2, 3), 2, 1) for uln in ULNS},
)


def record(line: int, uln: str, qan: str, action: str = "Create", grade: str = "5") -> SubmittedRecord:
    """A record of Ada Byron's, awarded on `AWARDED`."""
    named = {"uln": uln, "given_name": "Ada", "family_name": "Byron", "qualification_number": qan}
    return SubmittedRecord(line=line, action=action, award_date=AWARDED.isoformat(), grade=grade, **named)


def stored(uln: str, qan: str) -> AchievementState:
    key = AchievementKey(ao_id=AO, uln=uln, qualification_number=qan, award_date=AWARDED)
    return AchievementState(achievement_id(key), key, AchievementData(grade="5"), ResultStatus.FINAL, False)


ISSUED = "2024-08-22"
HEADER = BatchHeader(
    awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org", results_issued_date=ISSUED
)
SUBMITTED = BatchSubmitted(
    batch_id=uuid.UUID(int=0),
    ao_id=AO,
    header=HEADER,
    format=BatchFormat.JSON,
    record_count=1,
    content_sha256="0" * 64,
    size_bytes=1,
    submitted_by=f"ao:{AO}",
    received_at=DECIDED_AT,
)


def decided(records: Sequence[SubmittedRecord], states: Sequence[AchievementState] = ()) -> list[OutgoingMessage]:
    batch_id = uuid.uuid4()
    submitted = SUBMITTED.model_copy(update={"batch_id": batch_id, "record_count": len(records)})
    existing: dict[tuple[str, str], list[AchievementState]] = {}
    for state in states:
        existing.setdefault((state.key.uln, state.key.qualification_number), []).append(state)
    decision = decide_batch(
        SubmittedBatch(batch_id, AO, HEADER, tuple(records), DECIDED_AT), REFERENCE, existing, TODAY
    )
    return decision_messages(submitted, decision, "cause", DECIDED_AT)


def result_of(messages: list[OutgoingMessage]) -> BatchCompleted | BatchFailed:
    assert messages[-1].topic == BATCH_OUTCOMES.name
    _, result = decode(messages[-1].value)
    assert isinstance(result, BatchCompleted | BatchFailed)
    return result


def qualifications_of_the_events(messages: list[OutgoingMessage]) -> tuple[QualificationOnPlr, ...]:
    """Read back from the PLR messages themselves: each QAN, typed by a recorded achievement of it if any."""
    types: dict[str, str | None] = {}
    for message in messages:
        if message.topic == PLR_EVENTS.name:
            _, event = decode(message.value)
            assert isinstance(event, AchievementEvent)
            qan = event.key.qualification_number
            recorded_type = event.qualification.qualification_type if isinstance(event, AchievementRecorded) else None
            types[qan] = types.get(qan) or recorded_type
    return tuple(QualificationOnPlr(qualification_number=qan, qualification_type=types[qan]) for qan in sorted(types))


def test_the_completion_names_each_accepted_events_qualification_once_with_its_recorded_type() -> None:
    messages = decided(
        [
            record(1, ULNS[0], GCSE),
            record(2, ULNS[1], GCSE),
            record(3, ULNS[2], VRQ, action="Update", grade="7"),  # an update carries no type
            record(4, ULNS[3], FUNCTIONAL, grade="A*"),  # not one of its grades: rejected, not on the PLR
            record(5, ULNS[4], VRQ, action="Update", grade="6"),
            record(6, ULNS[5], GCSE),
            record(7, ULNS[4], GCSE),
        ],
        states=[stored(ULNS[2], VRQ), stored(ULNS[4], VRQ)],
    )
    result = result_of(messages)
    assert isinstance(result, BatchCompleted)
    assert result.counts.rejected == 1
    assert result.on_plr == (
        QualificationOnPlr(qualification_number=VRQ, qualification_type=None),
        QualificationOnPlr(qualification_number=GCSE, qualification_type=TYPES[GCSE]),
    )
    assert result.on_plr == qualifications_of_the_events(messages)


def test_a_recorded_achievement_types_a_qualification_whose_other_events_carry_no_type() -> None:
    messages = decided(
        [record(1, ULNS[0], VRQ, action="Update", grade="7"), record(2, ULNS[1], VRQ)],
        states=[stored(ULNS[0], VRQ)],
    )
    result = result_of(messages)
    assert isinstance(result, BatchCompleted)
    assert result.on_plr == (QualificationOnPlr(qualification_number=VRQ, qualification_type=TYPES[VRQ]),)
    assert result.on_plr == qualifications_of_the_events(messages)


def test_a_completion_that_put_nothing_on_the_plr_names_nothing() -> None:
    # The same result as stored: a no-op, so no event.
    messages = decided([record(1, ULNS[0], GCSE)], states=[stored(ULNS[0], GCSE)])
    result = result_of(messages)
    assert isinstance(result, BatchCompleted)
    assert result.counts.no_ops == 1
    assert result.on_plr == ()
    assert [message for message in messages if message.topic == PLR_EVENTS.name] == []


def test_the_completion_carries_the_headers_results_issued_date() -> None:
    # Reporting measures a batch's timeliness from this date: a completion without it is measured as nothing.
    result = result_of(decided([record(1, ULNS[0], GCSE)]))
    assert isinstance(result, BatchCompleted)
    assert result.results_issued_date == ISSUED
