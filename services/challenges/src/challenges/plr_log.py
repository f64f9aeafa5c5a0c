"""What the challenges service keeps of the PLR log: messages in, record changes out. Pure, no I/O.

From `lrs.plr.events.v1` each achievement's ULN, AO, whether it is withdrawn, and what a person
recognises it by (qualification, title, award date, grade, and whether its result is Provisional or
Final); and which batch touched which learner's qualification, and when (decision 0142: a challenge
resolved as corrected names such a batch). From `lrs.learner.events.v1` the merges, so a merged
learner's achievements count as the master's, and the erasures, after which the learner's challenges
keep no text of theirs. Centre (ILR) records and the other learner events are not challengeable facts
and are left out.

An achievement event, nearly every record, is read for the facts kept by matching the whole of its JSON
as validation writes it (`lrs_contracts.fast_match`, decision 0089), which takes only what the contract
models take and reads it as they do. Any other record, and one written otherwise, is decoded in full, and
one that cannot be decoded is poison, as the PLR projector parks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from asyncpg.pgproto import pgproto

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_fields, plain_of
from lrs_contracts.fast_match import ACHIEVEMENT_MODELS, achievement_fields
from lrs_contracts.learner import LearnerErased, LearnersMerged
from lrs_contracts.plr import (
    AchievementData,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import decode, event_type_of
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_platform.consumer import Message

FOLLOWED_TOPICS = (PLR_EVENTS.name, LEARNER_EVENTS.name)


class AchievementFacts(NamedTuple):  # a poll makes thousands: a tuple is the cheapest to build
    achievement_id: uuid.UUID
    uln: str
    ao_id: str
    withdrawn: bool | None  # None: as it was (an update or supersession)
    qualification_number: str | None = None
    award_date: date | None = None
    grade: str | None = None  # None: as it was (a withdrawal or reinstatement carries no data)
    title: str | None = None  # None: as it was (only a recording carries the qualification's title)


class BatchTouch(NamedTuple):
    """A batch put an event of this learner's achievement of this qualification on the log, at `decided_at`."""

    batch_id: uuid.UUID
    ao_id: str
    uln: str
    qualification_number: str
    decided_at: datetime


@dataclass
class RecordChanges:
    """The net effect of some messages, each achievement and merged ULN once."""

    achievements: dict[uuid.UUID, AchievementFacts] = field(default_factory=dict)
    merges: dict[str, str] = field(default_factory=dict)  # merged ULN -> master ULN
    erasures: set[str] = field(default_factory=set)  # erased learners' ULNs
    touches: set[BatchTouch] = field(default_factory=set)
    # each achievement's result status (P or F) as the latest of the messages that says it: a withdrawal or a
    # reinstatement says none (kept apart from its facts: decision 0183)
    statuses: dict[uuid.UUID, str] = field(default_factory=dict)

    def add(self, change: AchievementFacts) -> None:
        earlier = self.achievements.get(change.achievement_id)
        self.achievements[change.achievement_id] = _after(earlier, change) if earlier is not None else change


def _after(earlier: AchievementFacts, change: AchievementFacts) -> AchievementFacts:
    """`change` with what it leaves as it was taken from the `earlier` change of the same poll."""
    if change.withdrawn is not None and change.grade is not None and change.title is not None:
        return change
    return change._replace(
        withdrawn=earlier.withdrawn if change.withdrawn is None else change.withdrawn,
        grade=earlier.grade if change.grade is None else change.grade,
        title=earlier.title if change.title is None else change.title,
    )


def record_changes(messages: Iterable[Message]) -> RecordChanges:
    """Folds messages (in log order) into changes. Raises on a message that cannot be decoded."""
    changes = RecordChanges()
    achievements, touches, statuses = changes.achievements, changes.touches, changes.statuses
    batches: dict[bytes, tuple[uuid.UUID, datetime]] = {}  # batch id and decision time, by their texts
    touched: set[tuple[bytes, bytes, bytes, bytes]] = set()  # batch, AO, ULN, QAN as read: made touches at the end
    for message in messages:
        value = message.value
        if value is None:
            raise ValueError(f"a message without a value on {message.topic}")
        event = achievement_fields(value)
        if event is not None:
            # asyncpg's uuid.UUID (equal to and hashed as the standard one): parsed and stored in C
            achievement_id = pgproto.UUID(event.achievement_id.decode())
            change = AchievementFacts(
                achievement_id,
                event.uln.decode(),
                event.ao_id.decode(),
                _HEAD_WITHDRAWN_AFTER[event.event_type],
                event.qualification_number.decode(),
                event.award_date,
                event.grade.decode() if event.grade is not None else None,
                event.title.decode() if event.title is not None else None,
            )
            earlier = achievements.get(achievement_id)
            achievements[achievement_id] = _after(earlier, change) if earlier is not None else change
            status = _FINAL if event.event_type == _HEAD_SUPERSEDED else event.status
            if status is not None:
                statuses[achievement_id] = status.decode()
            if event.batch_id not in batches:
                # a batch's decision time: the `occurred_at` of its events (one for them all)
                batches[event.batch_id] = (pgproto.UUID(event.batch_id.decode()), event.occurred_at)
            touched.add((event.batch_id, event.ao_id, event.uln, event.qualification_number))
            continue
        event_type, occurred, payload = _plain_payload(value)
        if event_type in _WITHDRAWN_AFTER:
            ao_id, uln, qan, award_date = payload[_KEY]
            data = _DATA.get(event_type)
            qualification = _QUALIFICATION.get(event_type)
            change = AchievementFacts(
                uuid.UUID(payload[_ACHIEVEMENT_ID]),
                uln,
                ao_id,
                _WITHDRAWN_AFTER[event_type],
                qan,
                award_date if isinstance(award_date, date) else date.fromisoformat(award_date),
                payload[data][_GRADE] if data is not None else None,
                payload[qualification][_TITLE_FIELD] if qualification is not None else None,
            )
            changes.add(change)
            status_field = _STATUS_FIELD.get(event_type)
            if status_field is not None:
                statuses[change.achievement_id] = ResultStatus(payload[status_field]).value
            elif event_type == _SUPERSEDED:
                statuses[change.achievement_id] = ResultStatus.FINAL.value
            batch_id = payload[_PROVENANCE_FIELD[event_type]][_BATCH_ID_FIELD]
            touches.add(BatchTouch(uuid.UUID(str(batch_id)), ao_id, uln, qan, occurred))
        elif event_type == _MERGED:
            changes.merges[payload[_MERGED_ULN]] = payload[_MASTER_ULN]
        elif event_type == _ERASED:
            changes.erasures.add(payload[_ERASED_ULN])
    for batch_text, ao_id, uln, qan in touched:
        batch_id, decided_at = batches[batch_text]
        touches.add(BatchTouch(batch_id, ao_id.decode(), uln.decode(), qan.decode(), decided_at))
    return changes


def positions_after(messages: Iterable[Message]) -> dict[tuple[str, int], int]:
    """Each partition's next offset after the messages (a partition's messages come in log order)."""
    return {(message.topic, message.partition): message.offset + 1 for message in messages}


def unapplied(messages: Sequence[Message], positions: Mapping[tuple[str, int], int]) -> Sequence[Message]:
    """The messages at or past their partition's position (none stored: 0); those below it were applied
    already, by whoever held the partition then. `messages` itself when none is below, as in nearly every
    poll (a partition's messages come in log order, so its first tells)."""
    firsts = {(message.topic, message.partition): message.offset for message in reversed(messages)}
    if all(offset >= positions.get(partition, 0) for partition, offset in firsts.items()):
        return messages
    return [message for message in messages if message.offset >= positions.get((message.topic, message.partition), 0)]


def _plain_payload(raw: bytes) -> tuple[str, datetime, tuple[Any, ...]]:
    """The event type, when it occurred and the payload's plain values: the fast path for what validation
    wrote, the validating decode (the last word on anything else) otherwise."""
    try:
        envelope, payload = decode_plain(raw)
        event_type: str = envelope[_EVENT_TYPE]
        occurred: datetime = envelope[_OCCURRED_AT]
    except NotFast:
        envelope_model, model = decode(raw)
        return envelope_model.event_type, envelope_model.occurred_at, plain_of(model)
    return event_type, occurred, payload


# Per achievement event type: withdrawn after it (None: as it was, for an update or supersession).
_WITHDRAWN_AFTER: dict[str, bool | None] = {
    event_type_of(AchievementRecorded): False,
    event_type_of(AchievementReinstated): False,
    event_type_of(AchievementWithdrawn): True,
    event_type_of(AchievementUpdated): None,
    event_type_of(AchievementSuperseded): None,
}
# The same, by the event type as an event's head spells it.
_HEAD_WITHDRAWN_AFTER = {event_type.encode(): withdrawn for event_type, withdrawn in _WITHDRAWN_AFTER.items()}
# A supersession says no status: a Final result replaced the Provisional one.
_SUPERSEDED = event_type_of(AchievementSuperseded)
_HEAD_SUPERSEDED, _FINAL = _SUPERSEDED.encode(), ResultStatus.FINAL.value.encode()
_STATUS_FIELD = {
    event_type_of(m): plain_fields(m).index("status") for m in ACHIEVEMENT_MODELS if "status" in plain_fields(m)
}
_MERGED = event_type_of(LearnersMerged)
_ERASED = event_type_of(LearnerErased)
_EVENT_TYPE = plain_fields(Envelope).index("event_type")
_OCCURRED_AT = plain_fields(Envelope).index("occurred_at")
_ACHIEVEMENT_ID = plain_fields(AchievementRecorded).index("achievement_id")
_KEY = plain_fields(AchievementRecorded).index("key")
_DATA = {event_type_of(m): plain_fields(m).index("data") for m in ACHIEVEMENT_MODELS if "data" in plain_fields(m)}
_QUALIFICATION = {event_type_of(AchievementRecorded): plain_fields(AchievementRecorded).index("qualification")}
_PROVENANCE_FIELD = {event_type_of(m): plain_fields(m).index("provenance") for m in ACHIEVEMENT_MODELS}
_GRADE = plain_fields(AchievementData).index("grade")
_TITLE_FIELD = plain_fields(QualificationSummary).index("title")
_BATCH_ID_FIELD = plain_fields(Provenance).index("batch_id")
_MERGED_ULN = plain_fields(LearnersMerged).index("merged_uln")
_MASTER_ULN = plain_fields(LearnersMerged).index("master_uln")
_ERASED_ULN = plain_fields(LearnerErased).index("uln")
