"""The challenges service's reading of the PLR log: which facts it keeps, folded in log order."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from challenges.plr_log import AchievementFacts, AchievementSoFar, BatchTouch, read_poll, record_changes
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerErased, LearnerRegistered, LearnerRegisteredV1, LearnersMerged
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
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_domain.achievements import AchievementEventMismatch
from lrs_platform.consumer import Failure, Message, classify_failure

ULN = "1000000043"
KEY = AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20))
ACHIEVEMENT = uuid.UUID("66666666-7777-4888-9999-000000000000")
PROVENANCE = Provenance(batch_id=uuid.UUID("11111111-2222-4333-8444-555555555555"), line=1)


def message(payload: Contract, topic: str = PLR_EVENTS.name, offset: int = 0) -> Message:
    value = encode(wrap(payload, source="tests", correlation_id="tests"))
    return Message(topic, 0, offset, ULN.encode(), value)


def recorded() -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        qualification=QualificationSummary(
            title="GCSE Mathematics",
            qualification_type="GCSE (9 to 1)",
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="AQA",
        ),
        provenance=PROVENANCE,
    )


def updated() -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade="8"),
        status=ResultStatus.FINAL,
        provenance=PROVENANCE,
    )


def withdrawn() -> AchievementWithdrawn:
    return AchievementWithdrawn(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE)


AWARDED = date(2024, 5, 20)
# The achievement as `recorded()` left it, on record from an earlier poll.
ON_RECORD = {ACHIEVEMENT: AchievementSoFar(ResultStatus.FINAL, withdrawn=False, grade="7")}


def test_a_recorded_achievement_is_kept_with_its_learner_ao_and_what_a_person_knows_it_by() -> None:
    changes = record_changes([message(recorded())])
    assert changes.achievements == {
        ACHIEVEMENT: AchievementFacts(
            ACHIEVEMENT, ULN, "RN5133", False, "6001166X", AWARDED, grade="7", title="GCSE Mathematics"
        )
    }


def test_what_an_event_leaves_as_it_was_is_taken_from_the_earlier_event_of_the_poll() -> None:
    changes = record_changes(
        [message(recorded(), offset=0), message(updated(), offset=1), message(withdrawn(), offset=2)]
    )
    assert changes.achievements[ACHIEVEMENT] == AchievementFacts(
        ACHIEVEMENT, ULN, "RN5133", True, "6001166X", AWARDED, grade="8", title="GCSE Mathematics"
    )


def test_each_batch_that_put_an_event_of_a_learners_qualification_on_the_log_is_kept_with_when() -> None:
    later = Provenance(batch_id=uuid.UUID("22222222-2222-4333-8444-555555555555"), line=3)
    decided = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)
    values = [
        encode(wrap(recorded(), source="validation", correlation_id="tests", occurred_at=decided)),
        encode(
            wrap(
                updated().model_copy(update={"provenance": later}),
                source="validation",
                correlation_id="tests",
                occurred_at=decided.replace(day=2),
            )
        ),
    ]
    for read in (values, [b"{ " + value[1:] for value in values]):  # from the head, and decoded in full
        changes = record_changes(
            [Message(PLR_EVENTS.name, 0, offset, ULN.encode(), v) for offset, v in enumerate(read)]
        )
        assert changes.touches == {
            BatchTouch(PROVENANCE.batch_id, "RN5133", ULN, "6001166X", decided),
            BatchTouch(later.batch_id, "RN5133", ULN, "6001166X", decided.replace(day=2)),
        }


def test_an_update_alone_leaves_the_withdrawn_state_as_stored() -> None:
    assert record_changes([message(updated())], ON_RECORD).achievements[ACHIEVEMENT].withdrawn is None


@pytest.mark.parametrize(
    ("events", "withdrawn_after"),
    [
        ([recorded(), withdrawn()], True),
        (
            [
                recorded(),
                withdrawn(),
                AchievementReinstated(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE),
            ],
            False,
        ),
        ([withdrawn(), AchievementReinstated(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE)], False),
        ([withdrawn(), recorded()], False),
    ],
)
def test_events_of_one_poll_fold_in_log_order(events: list[Contract], withdrawn_after: bool) -> None:
    on_record = ON_RECORD if not isinstance(events[0], AchievementRecorded) else None
    changes = record_changes([message(event, offset=index) for index, event in enumerate(events)], on_record)
    assert changes.achievements[ACHIEVEMENT].withdrawn is withdrawn_after


def test_merges_are_kept_and_other_learner_and_centre_events_are_not() -> None:
    changes = record_changes(
        [
            message(LearnersMerged(master_uln="1026893096", merged_uln=ULN), topic=LEARNER_EVENTS.name),
            message(LearnerRegisteredV1(uln=ULN, given_name="Amira", family_name="Khan"), topic=LEARNER_EVENTS.name),
            message(LearnerRegistered(uln=ULN, personal="s1.sealed"), topic=LEARNER_EVENTS.name),
            message(
                CentreAchievementReported(
                    report_id=uuid.uuid4(), uln=ULN, provider_ukprn="10004567", qualification_number="6001166X"
                )
            ),
        ]
    )
    assert changes.merges == {ULN: "1026893096"}
    assert changes.achievements == {}
    assert changes.erasures == set()


def test_an_erasure_names_the_learner_whose_texts_go() -> None:
    erased = LearnerErased(uln=ULN, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=datetime.now(UTC))
    changes = record_changes([message(recorded()), message(erased, topic=LEARNER_EVENTS.name)])
    assert changes.erasures == {ULN}
    assert changes.achievements[ACHIEVEMENT].withdrawn is False, "the achievement's facts stay"


@pytest.mark.parametrize("value", [None, b"\x00not json", b'{"event_type": "lrs.unknown.v1"}'])
def test_a_message_that_cannot_be_read_is_poison_so_the_consumer_parks_it(value: bytes | None) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - what matters is how the consumer classifies it
        record_changes([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), value)])
    assert classify_failure(raised.value) is Failure.POISON


def test_what_the_fast_path_leaves_to_the_validating_decode_is_read_all_the_same() -> None:
    # pydantic takes a UUID without hyphens; the fast path takes only the spelling pydantic writes
    value = encode(wrap(withdrawn(), source="tests", correlation_id="tests"))
    unusual = value.replace(str(ACHIEVEMENT).encode(), ACHIEVEMENT.hex.encode())
    assert unusual != value
    changes = record_changes([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), unusual)], ON_RECORD)
    assert changes.achievements == {
        ACHIEVEMENT: AchievementFacts(ACHIEVEMENT, ULN, "RN5133", True, "6001166X", AWARDED)
    }


@pytest.mark.parametrize(
    ("kept", "broken"),
    [
        (ULN, "012345678"),
        (str(ACHIEVEMENT), "not-a-uuid"),
        ('"ao_id":"RN5133"', '"ao_id":5133'),
        ('"award_date":"2024-05-20"', '"award_date":"2024-02-30"'),
    ],
)
def test_an_achievement_event_whose_kept_facts_break_its_contract_is_poison(kept: str, broken: str) -> None:
    value = encode(wrap(withdrawn(), source="tests", correlation_id="tests"))
    assert kept.encode() in value
    with pytest.raises(Exception) as raised:  # noqa: PT011 - what matters is how the consumer classifies it
        record_changes([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), value.replace(kept.encode(), broken.encode()))])
    assert classify_failure(raised.value) is Failure.POISON


def test_a_title_with_an_escaped_quote_is_read_by_the_full_decode() -> None:
    event = recorded()
    event = event.model_copy(
        update={"qualification": event.qualification.model_copy(update={"title": 'The "A" Level'})}
    )
    changes = record_changes([message(event)])
    assert changes.achievements[ACHIEVEMENT].title == 'The "A" Level'


@pytest.mark.parametrize(
    "event",
    [
        recorded(),
        updated(),
        withdrawn(),
        AchievementReinstated(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE),
        AchievementSuperseded(
            achievement_id=ACHIEVEMENT, key=KEY, data=AchievementData(grade="8"), provenance=PROVENANCE
        ),
    ],
)
def test_an_achievement_read_from_its_head_is_what_the_full_decode_reads(event: Contract) -> None:
    value = encode(wrap(event, source="validation", correlation_id="tests"))
    written_otherwise = b"{ " + value[1:]  # the same JSON, but not as validation writes it: decoded in full
    from_head = read_poll([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), value)])
    decoded = read_poll([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), written_otherwise)])
    assert from_head == decoded
    assert from_head.touches
    assert from_head.achievement_ids()[0].__class__ is not uuid.UUID, "read from the head"


def test_a_batch_id_written_otherwise_is_read_by_the_full_decode() -> None:
    value = encode(wrap(withdrawn(), source="validation", correlation_id="tests"))
    unusual = value.replace(str(PROVENANCE.batch_id).encode(), PROVENANCE.batch_id.hex.encode())
    assert unusual != value
    changes = record_changes([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), unusual)], ON_RECORD)
    assert [touch.batch_id for touch in changes.touches] == [PROVENANCE.batch_id]
    assert changes.achievements[ACHIEVEMENT].achievement_id.__class__ is uuid.UUID, "decoded in full"


# The domain's one fold decides what an event changes (decision 0031): the record keeps what the PLR shows.


def provisional(grade: str, event: type[AchievementRecorded | AchievementUpdated] = AchievementUpdated) -> Contract:
    if event is AchievementRecorded:
        return recorded().model_copy(update={"data": AchievementData(grade=grade), "status": ResultStatus.PROVISIONAL})
    return AchievementUpdated(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade=grade),
        status=ResultStatus.PROVISIONAL,
        provenance=PROVENANCE,
    )


@pytest.mark.parametrize("event", [AchievementUpdated, AchievementRecorded])
def test_a_provisional_result_after_the_final_one_changes_nothing_in_a_poll_or_across_polls(
    event: type[AchievementRecorded | AchievementUpdated],
) -> None:
    one_poll = record_changes([message(recorded(), offset=0), message(provisional("4", event), offset=1)])
    next_poll = record_changes([message(provisional("4", event), offset=1)], ON_RECORD)

    assert one_poll.achievements[ACHIEVEMENT] == AchievementFacts(
        ACHIEVEMENT, ULN, "RN5133", False, "6001166X", AWARDED, grade="7", title="GCSE Mathematics"
    )
    assert one_poll.statuses == {ACHIEVEMENT: "F"}
    assert (next_poll.achievements, next_poll.statuses) == ({}, {})
    assert next_poll.touches, "the batch still put an event of the learner's qualification on the log"


@pytest.mark.parametrize("fast", [True, False])
def test_an_update_of_a_withdrawn_achievement_is_refused_as_the_projector_refuses_it(fast: bool) -> None:
    def read(event: Contract, offset: int) -> Message:
        value = encode(wrap(event, source="validation", correlation_id="tests"))
        return Message(PLR_EVENTS.name, 0, offset, ULN.encode(), value if fast else b" " + value)

    nine = AchievementUpdated(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade="9"),
        status=ResultStatus.FINAL,
        provenance=PROVENANCE,
    )
    withdrawn_on_record = {ACHIEVEMENT: AchievementSoFar(ResultStatus.FINAL, withdrawn=True, grade="7")}
    for messages, on_record in (
        ([read(recorded(), 0), read(withdrawn(), 1), read(nine, 2)], None),
        ([read(nine, 2)], withdrawn_on_record),
        ([read(updated(), 0)], None),  # an update of an achievement never recorded
    ):
        with pytest.raises(AchievementEventMismatch) as refused:
            record_changes(messages, on_record)
        # poison: the consumer parks it and holds the learner's later events behind it, as the projector does
        assert classify_failure(refused.value) is Failure.POISON
        assert str(ACHIEVEMENT) in str(refused.value)


def reinstated() -> AchievementReinstated:
    return AchievementReinstated(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE)


def superseded(grade: str) -> AchievementSuperseded:
    return AchievementSuperseded(
        achievement_id=ACHIEVEMENT, key=KEY, data=AchievementData(grade=grade), provenance=PROVENANCE
    )


def as_stored(polls: list[list[Contract]]) -> tuple[bool, str | None, str | None, str | None]:
    """The events applied poll by poll, each poll folded over the record as the earlier ones left it (the store's
    rules: each fact as the latest change that says it, withdrawn false when none does, status the latest said)."""
    withdrawn_now: bool | None = None
    grade: str | None = None
    title: str | None = None
    status: str | None = None
    offset = 0
    for events in polls:
        on_record = (
            {ACHIEVEMENT: AchievementSoFar(ResultStatus(status), withdrawn=bool(withdrawn_now), grade=grade)}
            if status is not None
            else None
        )
        messages = [message(event, offset=offset + index) for index, event in enumerate(events)]
        offset += len(events)
        changes = record_changes(messages, on_record)
        facts = changes.achievements.get(ACHIEVEMENT)
        if facts is not None:
            withdrawn_now = facts.withdrawn if facts.withdrawn is not None else withdrawn_now
            grade = facts.grade or grade
            title = facts.title or title
        status = changes.statuses.get(ACHIEVEMENT, status)
    return bool(withdrawn_now), grade, title, status


ORDINARY = {
    # what the record kept of each before it followed the fold (each poll's own fold, merged as the store reads)
    "recorded, updated, superseded, withdrawn, reinstated": (
        [provisional("5", AchievementRecorded), provisional("6"), superseded("8"), withdrawn(), reinstated()],
        (False, "8", "GCSE Mathematics", "F"),
    ),
    "recorded, updated, withdrawn": ([recorded(), updated(), withdrawn()], (True, "8", "GCSE Mathematics", "F")),
    "recorded, withdrawn, recorded again": (
        [recorded(), withdrawn(), recorded().model_copy(update={"data": AchievementData(grade="9")})],
        (False, "9", "GCSE Mathematics", "F"),
    ),
    "recorded, superseded, updated": (
        [provisional("5", AchievementRecorded), superseded("7"), updated()],
        (False, "8", "GCSE Mathematics", "F"),
    ),
}


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_the_decider_s_sequences_are_kept_as_before_in_one_poll_or_split_across_polls(name: str) -> None:
    events, kept = ORDINARY[name]
    assert as_stored([events]) == kept
    for cut in range(1, len(events)):
        assert as_stored([events[:cut], events[cut:]]) == kept, (name, cut)
    every_event_its_own_poll = [[event] for event in events]
    assert as_stored(every_event_its_own_poll) == kept
