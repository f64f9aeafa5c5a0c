"""What the challenges service keeps of the PLR log: messages in, record changes out. Pure, no I/O.

From `lrs.plr.events.v1` each achievement's ULN, AO and whether it is withdrawn; from
`lrs.learner.events.v1` the merges, so a merged learner's achievements count as the master's, and
the erasures, after which the learner's challenges keep no text of theirs. Centre (ILR) records and
the other learner events are not challengeable facts and are left out.

An achievement event, nearly every record, is read for the three facts kept (its id, ULN and AO),
each checked as its contract says; judging the rest of the event is the PLR projector's part. Any
other record, and one whose kept facts are not as validation writes them, is decoded in full, and
one that cannot be decoded is poison.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from asyncpg.pgproto import pgproto

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_builder_for, plain_fields, plain_of
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
        earlier = self.achievements.get(change.achievement_id)
        if change.withdrawn is None and earlier is not None:
            change = AchievementChange(change.achievement_id, change.uln, change.ao_id, earlier.withdrawn)
        self.achievements[change.achievement_id] = change


def record_changes(messages: Iterable[Message]) -> RecordChanges:
    """Folds messages (in log order) into changes. Raises on a message that cannot be decoded."""
    changes = RecordChanges()
    for message in messages:
        if message.value is None:
            raise ValueError(f"a message without a value on {message.topic}")
        kept = _achievement_facts(message.value)
        if kept is not None:
            changes.add(kept)
            continue
        event_type, payload = _plain_payload(message.value)
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


def _achievement_facts(raw: bytes) -> AchievementChange | None:
    """What an achievement event as validation wrote it says about the achievement, read from the
    few fields kept, each checked as its contract says (the PLR projector judges the rest of the
    event); None for anything else, which is decoded in full."""
    try:
        document = orjson.loads(raw)
        event_type = document["event_type"]
        data = document["data"]
        if event_type not in _WITHDRAWN_AFTER or data["event_type"] != event_type:
            return None
        ao_id, uln = _KEY_VALUES(data["key"])[:2]
        text = data["achievement_id"]
        if text.__class__ is not str or not _CANONICAL_UUID(text):
            return None
        # asyncpg's uuid.UUID (equal to and hashed as the standard one): parsed and stored in C
        return AchievementChange(pgproto.UUID(text), uln, ao_id, _WITHDRAWN_AFTER[event_type])
    except (orjson.JSONDecodeError, NotFast, KeyError, TypeError):
        return None


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


# Per achievement event type: withdrawn after it (None: as it was, for an update or supersession).
_WITHDRAWN_AFTER: dict[str, bool | None] = {
    event_type_of(AchievementRecorded): False,
    event_type_of(AchievementReinstated): False,
    event_type_of(AchievementWithdrawn): True,
    event_type_of(AchievementUpdated): None,
    event_type_of(AchievementSuperseded): None,
}
_MERGED = event_type_of(LearnersMerged)
_ERASED = event_type_of(LearnerErased)
_KEY_VALUES = plain_builder_for(AchievementKey)
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
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
