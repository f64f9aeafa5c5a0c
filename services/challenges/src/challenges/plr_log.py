"""What the challenges service keeps of the PLR log: messages in, record changes out. Pure, no I/O.

From `lrs.plr.events.v1` each achievement's ULN, AO and whether it is withdrawn; from
`lrs.learner.events.v1` the merges, so a merged learner's achievements count as the master's, and
the erasures, after which the learner's challenges keep no text of theirs. Centre (ILR) records and
the other learner events are not challengeable facts and are left out.

An achievement event, nearly every record, is read for the three facts kept (its id, ULN and AO)
from the head of its JSON, matched as validation writes it (decision 0089): the envelope's fields in
their order, then the payload's type, id and key, each as its contract says. Judging the rest of the
event is the PLR projector's part. Any other record, and one whose head is written otherwise, is
decoded in full, and one that cannot be decoded is poison.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from asyncpg.pgproto import pgproto

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_fields, plain_of
from lrs_contracts.learner import LearnerErased, LearnersMerged
from lrs_contracts.plr import (
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
)
from lrs_contracts.registry import decode, event_type_of
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_platform.consumer import Message

FOLLOWED_TOPICS = (PLR_EVENTS.name, LEARNER_EVENTS.name)


class AchievementChange(NamedTuple):  # a poll makes thousands: a tuple is the cheapest to build
    achievement_id: uuid.UUID
    uln: str
    ao_id: str
    withdrawn: bool | None  # None: as it was (an update or supersession)


@dataclass
class RecordChanges:
    """The net effect of some messages, each achievement and merged ULN once."""

    achievements: dict[uuid.UUID, AchievementChange] = field(default_factory=dict)
    merges: dict[str, str] = field(default_factory=dict)  # merged ULN -> master ULN
    erasures: set[str] = field(default_factory=set)  # erased learners' ULNs

    def add(self, change: AchievementChange) -> None:
        if change.withdrawn is None:
            earlier = self.achievements.get(change.achievement_id)
            if earlier is not None:
                change = AchievementChange(change.achievement_id, change.uln, change.ao_id, earlier.withdrawn)
        self.achievements[change.achievement_id] = change


def record_changes(messages: Iterable[Message]) -> RecordChanges:
    """Folds messages (in log order) into changes. Raises on a message that cannot be decoded."""
    changes = RecordChanges()
    achievements = changes.achievements
    for message in messages:
        value = message.value
        if value is None:
            raise ValueError(f"a message without a value on {message.topic}")
        head = _ACHIEVEMENT_HEAD(value)
        if head is not None:
            event_type, achievement_text, ao_id, uln, award_date = head.groups()
            if _DATES.get(award_date) or _is_date(award_date):
                # asyncpg's uuid.UUID (equal to and hashed as the standard one): parsed and stored in C
                achievement_id = pgproto.UUID(achievement_text.decode())
                withdrawn = _HEAD_WITHDRAWN_AFTER[event_type]
                if withdrawn is None and (earlier := achievements.get(achievement_id)) is not None:
                    withdrawn = earlier.withdrawn
                achievements[achievement_id] = AchievementChange(
                    achievement_id, uln.decode(), ao_id.decode(), withdrawn
                )
                continue
        event_type, payload = _plain_payload(value)
        if event_type in _WITHDRAWN_AFTER:
            ao_id, uln = payload[_KEY][:2]
            changes.add(
                AchievementChange(uuid.UUID(payload[_ACHIEVEMENT_ID]), uln, ao_id, _WITHDRAWN_AFTER[event_type])
            )
        elif event_type == _MERGED:
            changes.merges[payload[_MERGED_ULN]] = payload[_MASTER_ULN]
        elif event_type == _ERASED:
            changes.erasures.add(payload[_ERASED_ULN])
    return changes


def _plain_payload(raw: bytes) -> tuple[str, tuple[Any, ...]]:
    """The event type and the payload's plain values: the fast path for what validation wrote, the
    validating decode (the last word on anything else) otherwise."""
    try:
        envelope, payload = decode_plain(raw)
        event_type: str = envelope[_EVENT_TYPE]
    except NotFast:
        envelope_model, model = decode(raw)
        return envelope_model.event_type, plain_of(model)
    return event_type, payload


def _is_date(text: bytes) -> bool:
    """An award date as its contract reads `YYYY-MM-DD`: a day of the calendar (remembered: dates repeat)."""
    valid = _DATES.get(text)
    if valid is None:
        try:
            date.fromisoformat(text.decode())
            valid = True
        except ValueError:
            valid = False
        if len(_DATES) >= 4096:
            _DATES.clear()
        _DATES[text] = valid
    return valid


_DATES: dict[bytes, bool] = {}
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
# UUID, and the key's four fields, the ULN with its pattern. Texts (S) are plain: no escape or control
# character, so their bytes are their text. Groups: 1 event type, 2 achievement id, 3 AO, 4 ULN, 5 award date.
_ACHIEVEMENT_HEAD = re.compile(
    (
        rb'\{"event_id":"S","event_type":"(E)","occurred_at":"S","source":"S","correlation_id":"S",'
        rb'"causation_id":(?:"S"|null),"schema_version":[0-9]+,"data":\{"event_type":"\1",'
        rb'"achievement_id":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",'
        rb'"key":\{"ao_id":"(S)","uln":"([1-9][0-9]{9})","qualification_number":"S",'
        rb'"award_date":"([0-9]{4}-[0-9]{2}-[0-9]{2})"\},'
    )
    # the bytes that are not `"`, `\` or a control character, named as they are: a negated class costs
    # the engine a second step a byte (~0.5 µs an event)
    .replace(b"S", rb"[\x20\x21\x23-\x5b\x5d-\xff]*")
    .replace(b"E", b"|".join(re.escape(event_type) for event_type in _HEAD_WITHDRAWN_AFTER))
).match
_EVENT_TYPE = plain_fields(Envelope).index("event_type")
_ACHIEVEMENT_ID = plain_fields(AchievementRecorded).index("achievement_id")
_KEY = plain_fields(AchievementRecorded).index("key")
_MERGED_ULN = plain_fields(LearnersMerged).index("merged_uln")
_MASTER_ULN = plain_fields(LearnersMerged).index("master_uln")
_ERASED_ULN = plain_fields(LearnerErased).index("uln")
for _model in (AchievementUpdated, AchievementSuperseded, AchievementWithdrawn, AchievementReinstated):
    if plain_fields(_model)[: _KEY + 1] != plain_fields(AchievementRecorded)[: _KEY + 1]:
        raise RuntimeError(f"{_model.__name__} does not start as AchievementRecorded does")
if plain_fields(AchievementKey)[:2] != ("ao_id", "uln"):
    raise RuntimeError(f"AchievementKey is read as (ao_id, uln, ...), not {plain_fields(AchievementKey)}")
