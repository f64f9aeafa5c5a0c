"""What the challenges service keeps of the PLR log: messages in, record changes out. Pure, no I/O.

From `lrs.plr.events.v1` each achievement's ULN, AO, whether it is withdrawn, and what a person
recognises it by (qualification, title, award date, grade); and which batch touched which learner's
qualification, and when (decision 0142: a challenge resolved as corrected names such a batch). From
`lrs.learner.events.v1` the merges, so a merged learner's achievements count as the master's, and
the erasures, after which the learner's challenges keep no text of theirs. Centre (ILR) records and
the other learner events are not challengeable facts and are left out.

An achievement event, nearly every record, is read for the facts kept from the head of its JSON,
matched as validation writes it (decision 0089): the envelope's fields in their order, then the
payload's type, id and key, each as its contract says, and the grade where the data follows; then its
provenance's batch id, the last field of each achievement event, and a recorded achievement's title.
Judging the rest of the event is the PLR projector's part. Any other record, and one written
otherwise, is decoded in full, and one that cannot be decoded is poison.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from asyncpg.pgproto import pgproto

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_fields, plain_of
from lrs_contracts.learner import LearnerErased, LearnersMerged
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
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
    achievements, touches = changes.achievements, changes.touches
    batches: dict[bytes, tuple[uuid.UUID, datetime]] = {}  # batch id and decision time, by their texts
    touched: set[tuple[bytes, bytes, bytes, bytes]] = set()  # batch, AO, ULN, QAN as read: made touches at the end
    for message in messages:
        value = message.value
        if value is None:
            raise ValueError(f"a message without a value on {message.topic}")
        head = _ACHIEVEMENT_HEAD(value)
        if head is not None:
            event_type, occurred_at, achievement_text, ao_id, uln, qan, award_date, grade = head.groups()
            provenance = value.rfind(_PROVENANCE, head.end() - 1)
            batch_text = value[provenance + _PROVENANCE_LENGTH : provenance + _PROVENANCE_LENGTH + 36]
            title: bytes | None = None
            if event_type == _RECORDED_BYTES:
                start = value.find(_TITLE, head.end())
                end = value.find(b'"', start + _TITLE_LENGTH) if start >= 0 else -1
                title = value[start + _TITLE_LENGTH : end] if end >= 0 and b"\\" not in value[start:end] else None
            when = _DATES.get(award_date) or _is_date(award_date)
            if (
                when is not None
                and provenance >= 0
                and (batch_text in batches or _new_batch(batches, batch_text, occurred_at))
                and (title is not None or event_type != _RECORDED_BYTES)
                and (grade is not None or event_type in _WITHOUT_DATA_BYTES)
            ):
                # asyncpg's uuid.UUID (equal to and hashed as the standard one): parsed and stored in C
                achievement_id = pgproto.UUID(achievement_text.decode())
                change = AchievementFacts(
                    achievement_id,
                    uln.decode(),
                    ao_id.decode(),
                    _HEAD_WITHDRAWN_AFTER[event_type],
                    qan.decode(),
                    when,
                    grade.decode() if grade is not None else None,
                    title.decode() if title is not None else None,
                )
                earlier = achievements.get(achievement_id)
                achievements[achievement_id] = _after(earlier, change) if earlier is not None else change
                touched.add((batch_text, ao_id, uln, qan))
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


def _new_batch(batches: dict[bytes, tuple[uuid.UUID, datetime]], batch_text: bytes, occurred_at: bytes) -> bool:
    """Keeps a batch id read from an event's provenance, with its decision time (the envelope's `occurred_at`,
    the same for every event of a batch); False when either is written otherwise (the full decode reads it)."""
    if not _BATCH_ID(batch_text):
        return False
    try:
        decided_at = datetime.fromisoformat(occurred_at.decode())
    except ValueError:
        return False
    batches[batch_text] = (pgproto.UUID(batch_text.decode()), decided_at)
    return True


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


def _is_date(text: bytes) -> date | None:
    """An award date as its contract reads `YYYY-MM-DD`: a day of the calendar, or None (remembered: dates
    repeat)."""
    if text in _DATES:
        return _DATES[text]
    try:
        valid: date | None = date.fromisoformat(text.decode())
    except ValueError:
        valid = None
    if len(_DATES) >= 4096:
        _DATES.clear()
    _DATES[text] = valid
    return valid


_DATES: dict[bytes, date | None] = {}
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
_MERGED = event_type_of(LearnersMerged)
_ERASED = event_type_of(LearnerErased)
# The head of an achievement event up to its key, as validation writes it: the envelope's fields in the
# model's order (compact, as pydantic writes them), the payload's type again, its id as pydantic writes a
# UUID, the key's four fields, the ULN with its pattern, and the grade where data follows. Texts (S) are plain:
# no escape or control character, so their bytes are their text. Groups: 1 event type, 2 occurred at,
# 3 achievement id, 4 AO, 5 ULN, 6 QAN, 7 award date, 8 grade (None for an event without data).
_ACHIEVEMENT_HEAD = re.compile(
    (
        rb'\{"event_id":"S","event_type":"(E)","occurred_at":"(S)","source":"S","correlation_id":"S",'
        rb'"causation_id":(?:"S"|null),"schema_version":[0-9]+,"data":\{"event_type":"\1",'
        rb'"achievement_id":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",'
        rb'"key":\{"ao_id":"(S)","uln":"([1-9][0-9]{9})","qualification_number":"(S)",'
        rb'"award_date":"([0-9]{4}-[0-9]{2}-[0-9]{2})"\},'
        rb'(?:"data":\{"pathway":(?:null|"S"),"grade":"(S)")?'
    )
    # the bytes that are not `"`, `\` or a control character, named as they are: a negated class costs
    # the engine a second step a byte (~0.5 µs an event)
    .replace(b"S", rb"[\x20\x21\x23-\x5b\x5d-\xff]*")
    .replace(b"E", b"|".join(re.escape(event_type) for event_type in _HEAD_WITHDRAWN_AFTER))
).match
# Provenance is every achievement event's last field, its batch id first; a recording's qualification has its
# title first. A quote in a text is escaped (`\"`), so neither marker can be found inside a text.
_PROVENANCE = b',"provenance":{"batch_id":"'
_TITLE = b',"qualification":{"title":"'
_PROVENANCE_LENGTH, _TITLE_LENGTH = len(_PROVENANCE), len(_TITLE)
_RECORDED_BYTES = event_type_of(AchievementRecorded).encode()
_BATCH_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z").match
_EVENT_TYPE = plain_fields(Envelope).index("event_type")
_OCCURRED_AT = plain_fields(Envelope).index("occurred_at")
_ACHIEVEMENT_ID = plain_fields(AchievementRecorded).index("achievement_id")
_KEY = plain_fields(AchievementRecorded).index("key")
_ACHIEVEMENT_MODELS = (
    AchievementRecorded,
    AchievementUpdated,
    AchievementSuperseded,
    AchievementWithdrawn,
    AchievementReinstated,
)
_DATA = {event_type_of(m): plain_fields(m).index("data") for m in _ACHIEVEMENT_MODELS if "data" in plain_fields(m)}
_QUALIFICATION = {event_type_of(AchievementRecorded): plain_fields(AchievementRecorded).index("qualification")}
_PROVENANCE_FIELD = {event_type_of(m): plain_fields(m).index("provenance") for m in _ACHIEVEMENT_MODELS}
_WITHOUT_DATA_BYTES = frozenset(event_type_of(m).encode() for m in _ACHIEVEMENT_MODELS if "data" not in plain_fields(m))
_GRADE = plain_fields(AchievementData).index("grade")
_TITLE_FIELD = plain_fields(QualificationSummary).index("title")
_BATCH_ID_FIELD = plain_fields(Provenance).index("batch_id")
_MERGED_ULN = plain_fields(LearnersMerged).index("merged_uln")
_MASTER_ULN = plain_fields(LearnersMerged).index("master_uln")
_ERASED_ULN = plain_fields(LearnerErased).index("uln")
for _model in (AchievementUpdated, AchievementSuperseded, AchievementWithdrawn, AchievementReinstated):
    if plain_fields(_model)[: _KEY + 1] != plain_fields(AchievementRecorded)[: _KEY + 1]:
        raise RuntimeError(f"{_model.__name__} does not start as AchievementRecorded does")
if plain_fields(AchievementKey) != ("ao_id", "uln", "qualification_number", "award_date"):
    raise RuntimeError(f"AchievementKey is read as (ao_id, uln, qan, award date), not {plain_fields(AchievementKey)}")
for _achievement_model in _ACHIEVEMENT_MODELS:
    if plain_fields(_achievement_model)[-1] != "provenance":
        raise RuntimeError(f"{_achievement_model.__name__}'s provenance is not its last field: teach the fast path")
if plain_fields(AchievementData)[:2] != ("pathway", "grade") or plain_fields(QualificationSummary)[0] != "title":
    raise RuntimeError("AchievementData or QualificationSummary changed its order: teach the fast path")
