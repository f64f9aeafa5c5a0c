"""The decision's messages built through their slots are the messages their class builds (decision 0114), and
their event ids are derived from the batch alone: each PLR event's from its line and type, so a stored decision
published again, at whatever time, carries the very same ids."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from lrs_contracts.batch import BatchFormat, BatchHeader, BatchSubmitted, JobType, SubmittedRecord
from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import DerivedIds
from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES, PLR_EVENTS
from lrs_domain.achievements import AchievementEvent, AchievementState, achievement_id
from lrs_domain.decision import BatchDecision, SubmittedBatch, decide_batch
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot
from validation.decision_store import OutgoingMessage
from validation.messages import OUTCOMES_PER_MESSAGE, _message, decision_messages

AO = "RN5001"
GCSE = "60303049"
TODAY = date(2025, 3, 1)
DECIDED_AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
ULNS = ("3000000002", "3000000010", "3000000029")
HEADER = BatchHeader(awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org")
REFERENCE = ReferenceSnapshot(
    Catalogue.of(
        [
            Qualification(
                qualification_number=GCSE,
                pathway=None,
                title="A GCSE",
                awarding_organisation_id=AO,
                awarding_organisation_name="Test Awarding Body",
                level="Level 2",
                qualification_type="GCSE (9 to 1)",
                framework=Framework.RQF,
                kind=QualificationKind.QUALIFICATION,
                grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X"),
            )
        ]
    ),
    {AO: AwardingOrganisation(AO, "Test Awarding Body")},
    {uln: Learner(uln, "Ada", "Byron", date(2001, 2, 3), 2, 1) for uln in ULNS},
)


def test_a_message_built_through_its_slots_is_the_message_its_class_builds() -> None:
    built = _message("lrs.plr.events.v1", "1000000043", b'{"data":{}}')

    assert built == OutgoingMessage("lrs.plr.events.v1", "1000000043", b'{"data":{}}')
    assert dataclasses.astuple(built) == ("lrs.plr.events.v1", "1000000043", b'{"data":{}}')
    assert hash(built) == hash(OutgoingMessage("lrs.plr.events.v1", "1000000043", b'{"data":{}}'))


def _record(line: int, uln: str, awarded: date, action: str = "Create", grade: str = "5") -> SubmittedRecord:
    named = {"uln": uln, "given_name": "Ada", "family_name": "Byron", "qualification_number": GCSE}
    return SubmittedRecord(line=line, action=action, award_date=awarded.isoformat(), grade=grade, **named)


def _stored(uln: str, awarded: date) -> AchievementState:
    key = AchievementKey(ao_id=AO, uln=uln, qualification_number=GCSE, award_date=awarded)
    return AchievementState(achievement_id(key), key, AchievementData(grade="5"), ResultStatus.FINAL, False)


def _decided(
    batch_id: uuid.UUID, records: Sequence[SubmittedRecord], states: Sequence[AchievementState] = ()
) -> tuple[BatchSubmitted, BatchDecision]:
    submitted = BatchSubmitted(
        batch_id=batch_id,
        ao_id=AO,
        header=HEADER,
        format=BatchFormat.JSON,
        record_count=len(records),
        content_sha256="0" * 64,
        size_bytes=1,
        submitted_by=f"ao:{AO}",
        received_at=DECIDED_AT,
    )
    existing: dict[tuple[str, str], list[AchievementState]] = {}
    for state in states:
        existing.setdefault((state.key.uln, state.key.qualification_number), []).append(state)
    batch = SubmittedBatch(batch_id, AO, HEADER, tuple(records), DECIDED_AT)
    return submitted, decide_batch(batch, REFERENCE, existing, TODAY)


def _envelopes(messages: list[OutgoingMessage], topic: str) -> list[tuple[Envelope, object]]:
    return [decode(message.value) for message in messages if message.topic == topic]


def test_a_decision_published_again_later_has_the_same_outcome_and_result_ids() -> None:
    """Outcomes are keyed by the batch and deduplicated by id downstream: a decision republished after a
    restart must not read as a second result of the batch."""
    first_day = date(2024, 1, 1)
    records = [
        _record(line, ULNS[line % len(ULNS)], first_day + timedelta(days=line // len(ULNS)))
        for line in range(1, OUTCOMES_PER_MESSAGE + 2)
    ]
    submitted, decision = _decided(uuid.uuid4(), records)

    at_first = decision_messages(submitted, decision, "cause", DECIDED_AT)
    again = decision_messages(submitted, decision, "cause", DECIDED_AT + timedelta(hours=5))

    first_ids = [envelope.event_id for envelope, _ in _envelopes(at_first, BATCH_OUTCOMES.name)]
    assert len(first_ids) == 3  # two chunks of outcomes and the result
    assert [envelope.event_id for envelope, _ in _envelopes(again, BATCH_OUTCOMES.name)] == first_ids
    assert [envelope.occurred_at for envelope, _ in _envelopes(again, BATCH_OUTCOMES.name)] == [
        DECIDED_AT + timedelta(hours=5)
    ] * 3


def test_each_plr_event_id_is_derived_from_the_batch_its_line_and_its_type() -> None:
    batch_id = uuid.uuid4()
    awarded = date(2024, 8, 22)
    submitted, decision = _decided(
        batch_id,
        [
            _record(1, ULNS[0], awarded),
            _record(2, ULNS[1], awarded),
            _record(3, ULNS[2], awarded, action="Update", grade="7"),
        ],
        states=[_stored(ULNS[2], awarded)],
    )

    events = _envelopes(decision_messages(submitted, decision, "cause", DECIDED_AT), PLR_EVENTS.name)

    assert len(events) == 3
    ids = DerivedIds(batch_id)
    for envelope, event in events:
        assert isinstance(event, AchievementEvent)
        assert str(envelope.event_id) == ids.text(event.provenance.line, envelope.event_type)
    assert len({envelope.event_id for envelope, _ in events}) == 3
    assert [envelope.event_type for envelope, _ in events].count("lrs.achievement.recorded.v1") == 2
