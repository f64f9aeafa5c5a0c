"""What the challenges service keeps of the PLR log: messages in, record changes out. Pure, no I/O.

From `lrs.plr.events.v1` each achievement's ULN, AO and whether it is withdrawn; from
`lrs.learner.events.v1` the merges, so a merged learner's achievements count as the master's.
Centre (ILR) records and the other learner events are not challengeable facts and are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from lrs_contracts.envelope import Contract
from lrs_contracts.fast_decode import NotFast, decode_fast
from lrs_contracts.learner import LearnersMerged
from lrs_contracts.plr import (
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
)
from lrs_contracts.registry import decode
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_platform.consumer import Message

FOLLOWED_TOPICS = (PLR_EVENTS.name, LEARNER_EVENTS.name)


@dataclass(frozen=True)
class AchievementChange:
    achievement_id: uuid.UUID
    uln: str
    ao_id: str
    withdrawn: bool | None  # None: as it was (an update or supersession)


@dataclass
class RecordChanges:
    """The net effect of some messages, each achievement and merged ULN once."""

    achievements: dict[uuid.UUID, AchievementChange] = field(default_factory=dict)
    merges: dict[str, str] = field(default_factory=dict)  # merged ULN -> master ULN

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
        payload = _payload(message.value)
        if isinstance(payload, AchievementRecorded | AchievementReinstated):
            changes.add(AchievementChange(payload.achievement_id, payload.key.uln, payload.key.ao_id, False))
        elif isinstance(payload, AchievementWithdrawn):
            changes.add(AchievementChange(payload.achievement_id, payload.key.uln, payload.key.ao_id, True))
        elif isinstance(payload, AchievementUpdated | AchievementSuperseded):
            changes.add(AchievementChange(payload.achievement_id, payload.key.uln, payload.key.ao_id, None))
        elif isinstance(payload, LearnersMerged):
            changes.merges[payload.merged_uln] = payload.master_uln
    return changes


def _payload(raw: bytes) -> Contract:
    """The fast path for what validation wrote; the validating decode has the last word on anything else."""
    try:
        return decode_fast(raw)[1]
    except NotFast:
        return decode(raw)[1]
