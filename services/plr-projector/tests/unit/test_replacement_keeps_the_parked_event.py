"""A corrected copy of a parked PLR event is the parked event mended, nothing else: it keeps the event's type, time,
correlation id, achievement id, key (AO, learner, qualification, award date) and provenance (batch, line) wherever
the parked bytes give them readably, as a poison's do ("invalid: data.data.grade: Field required"). A copy that
named another batch and an earlier time was applied, and the learner's PLR history said "updated 15 Jan 2025 by
batch 25a0f3b2", a batch that never held them; one of another type and AO put an achievement under an AO that never
sent it. What the parked event got wrong (its grade, a line that is no number) is what a copy mends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import orjson

from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementUpdated,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import PLR_TOPIC, Message, replacement_refusal

ULN = "1214472698"
EVENT = uuid.UUID(int=1)
ACHIEVEMENT = uuid.UUID(int=5)
BATCH = uuid.UUID(int=7)
AT = datetime(2026, 12, 7, 22, 41, tzinfo=UTC)
KEY = AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="60051234", award_date=date(2026, 7, 6))


def _updated(*, key: AchievementKey = KEY, batch: uuid.UUID = BATCH, line: int = 3) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=ACHIEVEMENT,
        key=key,
        data=AchievementData(grade="Merit"),
        status=ResultStatus.FINAL,
        provenance=Provenance(batch_id=batch, line=line),
    )


def _bytes(
    payload: AchievementUpdated | AchievementRecorded,
    *,
    event_id: uuid.UUID = EVENT,
    occurred_at: datetime = AT,
    correlation_id: str = str(BATCH),
) -> bytes:
    envelope = wrap(payload, source="validation", correlation_id=correlation_id, event_id=event_id)
    return encode(envelope.model_copy(update={"occurred_at": occurred_at}))


def _without_grade(value: bytes) -> bytes:
    """The usual poison: "invalid: data.data.grade: Field required"."""
    document: dict[str, Any] = orjson.loads(value)
    del document["data"]["data"]["grade"]
    return orjson.dumps(document)


def _parked(value: bytes) -> Message:
    return Message(PLR_TOPIC, 0, 3, ULN.encode(), value, 0)


POISON = _parked(_without_grade(_bytes(_updated())))


def _changes(*fields: str) -> str:
    return (
        f"the replacement changes the parked event's {' and '.join(fields)}: a corrected copy is the parked event"
        " mended, nothing else, and keeps its type, time, correlation id, key and provenance"
    )


def test_the_poison_mended_and_nothing_else_is_a_corrected_copy() -> None:
    assert replacement_refusal(POISON, _bytes(_updated()), ULN) is None


def test_a_copy_naming_another_batch_and_line_is_refused() -> None:
    another = uuid.UUID("25a0f3b2-0000-4000-8000-000000000000")
    said = replacement_refusal(POISON, _bytes(_updated(batch=another, line=9)), ULN)
    assert said == _changes("data.provenance.batch_id", "data.provenance.line")


def test_a_copy_of_another_time_or_correlation_is_refused() -> None:
    earlier = datetime(2025, 1, 15, 9, tzinfo=UTC)
    assert replacement_refusal(POISON, _bytes(_updated(), occurred_at=earlier), ULN) == _changes("occurred_at")
    assert replacement_refusal(POISON, _bytes(_updated(), correlation_id="other"), ULN) == _changes("correlation_id")


def test_a_copy_under_another_ao_or_of_another_type_is_refused() -> None:
    other_ao = KEY.model_copy(update={"ao_id": "RN9001"})
    assert replacement_refusal(POISON, _bytes(_updated(key=other_ao)), ULN) == _changes("data.key.ao_id")
    recorded = AchievementRecorded(
        achievement_id=ACHIEVEMENT,
        key=other_ao,
        data=AchievementData(grade="Distinction*"),
        status=ResultStatus.FINAL,
        qualification=QualificationSummary(
            title="T",
            qualification_type="Other",
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="Pearson Education Ltd",
        ),
        provenance=Provenance(batch_id=uuid.UUID(int=8), line=1),
    )
    said = replacement_refusal(POISON, _bytes(recorded), ULN)
    assert said == _changes("event_type", "data.key.ao_id", "data.provenance.batch_id", "data.provenance.line")


def test_a_copy_of_another_qualification_or_award_date_is_refused() -> None:
    other_qualification = KEY.model_copy(update={"qualification_number": "60099999"})
    said = replacement_refusal(POISON, _bytes(_updated(key=other_qualification)), ULN)
    assert said == _changes("data.key.qualification_number")
    other_date = KEY.model_copy(update={"award_date": date(2026, 7, 7)})
    assert replacement_refusal(POISON, _bytes(_updated(key=other_date)), ULN) == _changes("data.key.award_date")


def test_a_poison_under_another_events_id_is_refused_though_it_does_not_read_whole() -> None:
    other = uuid.UUID(int=2)
    said = replacement_refusal(POISON, _bytes(_updated(), event_id=other), ULN)
    assert said is not None and said.startswith(f"the replacement's event_id is {other}, the parked event's {EVENT}")


def test_what_the_parked_event_got_wrong_is_what_a_copy_mends() -> None:
    broken_line = _parked(_bytes(_updated()).replace(b'"line":3', b'"line":"three"'))
    assert replacement_refusal(broken_line, _bytes(_updated(line=4)), ULN) is None
    said = replacement_refusal(broken_line, _bytes(_updated(batch=uuid.UUID(int=8))), ULN)
    assert said == _changes("data.provenance.batch_id")
    late = _parked(_bytes(_updated()).replace(b'"occurred_at":"2026-12-07T22:41:00Z"', b'"occurred_at":"later"'))
    assert late.value is not None and b'"later"' in late.value
    assert replacement_refusal(late, _bytes(_updated(), occurred_at=datetime(2026, 12, 8, tzinfo=UTC)), ULN) is None


def test_an_event_parked_whole_keeps_its_time_too() -> None:
    """Parked behind another (it reads whole): its copy may mend the grade, not when or from where it came."""
    whole = _parked(_bytes(_updated()))
    assert replacement_refusal(whole, _bytes(_updated()), ULN) is None
    earlier = datetime(2025, 1, 15, 9, tzinfo=UTC)
    assert replacement_refusal(whole, _bytes(_updated(), occurred_at=earlier), ULN) == _changes("occurred_at")


def test_parked_bytes_that_are_no_json_hold_the_copy_to_the_streams_learner_alone() -> None:
    unreadable = _parked(b"\xff not json")
    earlier = datetime(2025, 1, 15, 9, tzinfo=UTC)
    assert replacement_refusal(unreadable, _bytes(_updated(batch=uuid.uuid4()), occurred_at=earlier), ULN) is None
    other_learner = KEY.model_copy(update={"uln": "1026893096"})
    said = replacement_refusal(unreadable, _bytes(_updated(key=other_learner)), ULN)
    assert said == "the replacement is not about the learner whose events are parked"


def test_a_field_the_columns_could_not_hold_is_mended_though_a_copy_keeps_it() -> None:
    """An event its contract accepts but the read model's columns cannot hold is parked naming the field
    ("unstorable: provenance.line does not fit its column"): a copy mends that field, even one a copy otherwise
    keeps, and nothing else."""
    too_long = _parked(_bytes(_updated(line=2**31)))
    assert replacement_refusal(too_long, _bytes(_updated(line=3)), ULN) is None
    with_nul = _parked(_bytes(_updated(key=KEY.model_copy(update={"qualification_number": "6005\x001234"}))))
    assert replacement_refusal(with_nul, _bytes(_updated()), ULN) is None
    assert replacement_refusal(too_long, _bytes(_updated(line=3, batch=uuid.UUID(int=8))), ULN) == _changes(
        "data.provenance.batch_id"
    )


def test_a_copy_holding_nul_anywhere_is_refused_as_postgresql_could_not_read_it_back() -> None:
    """The copy is kept for good and read back as `jsonb` (its free text emptied at the learner's erasure): a NUL
    even where the projector writes nothing, a record's MIS identifier, would leave that erasure refused."""
    with_nul = _updated()
    with_nul = with_nul.model_copy(
        update={"provenance": with_nul.provenance.model_copy(update={"mis_identifier": "MIS\x00 7"})}
    )
    refusal = replacement_refusal(POISON, _bytes(with_nul), ULN)
    assert refusal is not None
    assert refusal.startswith("the replacement's data.provenance.mis_identifier holds NUL (U+0000) at character 4")
    assert "MIS" not in refusal


def test_a_copy_naming_a_field_twice_is_refused_as_one_reading_could_hide_a_nul() -> None:
    """Python keeps the last of two `mis_identifier`s, but PostgreSQL reads the first too: a NUL there would leave the
    learner's later erasure refused (a review of session 64)."""
    copy = _bytes(_updated()).replace(
        b'"mis_identifier":null', b'"mis_identifier":"MIS\\u0000 7","mis_identifier":null'
    )
    assert copy.count(b'"mis_identifier"') == 2
    refusal = replacement_refusal(POISON, copy, ULN)
    assert refusal is not None and refusal.startswith("the replacement names 'mis_identifier' twice in one object")
