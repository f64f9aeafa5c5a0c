"""The decider's view of one AO's achievements, and how PLR events change it.

Public API:
- `AchievementState` — one achievement as the decider sees it;
- `AchievementEvent` (alias `PlrEventPayload`) — the five PLR events that change an achievement;
- `achievement_id(key)` — the deterministic id of the achievement at a key;
- `evolve(state, event) -> AchievementState` — apply one event, so state can be rebuilt from the log;
- `AchievementEventMismatch` — the event cannot apply to the state it was given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from lrs_contracts.envelope import deterministic_id
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    ResultStatus,
)


@dataclass(frozen=True, slots=True)
class AchievementState:
    achievement_id: uuid.UUID
    key: AchievementKey
    data: AchievementData
    status: ResultStatus
    withdrawn: bool


AchievementEvent = (
    AchievementRecorded | AchievementUpdated | AchievementSuperseded | AchievementWithdrawn | AchievementReinstated
)
PlrEventPayload = AchievementEvent


class AchievementEventMismatch(ValueError):
    """An event that cannot apply: no achievement yet, or another achievement's event."""


def achievement_id(key: AchievementKey) -> uuid.UUID:
    """Stable across retries and rebuilds: the same key always names the same achievement."""
    return deterministic_id("achievement", key.ao_id, key.uln, key.qualification_number, key.award_date.isoformat())


def evolve(state: AchievementState | None, event: AchievementEvent) -> AchievementState:
    """The achievement after `event`. Only `AchievementRecorded` may start from nothing.

    Recording onto an existing (withdrawn) achievement re-creates it under the same id.
    """
    if isinstance(event, AchievementRecorded):
        if state is not None:
            _require_same_achievement(state, event.achievement_id)
        return AchievementState(
            achievement_id=event.achievement_id,
            key=event.key,
            data=event.data,
            status=event.status,
            withdrawn=False,
        )
    if state is None:
        raise AchievementEventMismatch(
            f"{event.event_type} for achievement {event.achievement_id} arrived before it was recorded"
        )
    _require_same_achievement(state, event.achievement_id)
    if isinstance(event, AchievementUpdated):
        return replace(state, data=event.data, status=event.status)
    if isinstance(event, AchievementSuperseded):
        return replace(state, data=event.data, status=ResultStatus.FINAL)
    if isinstance(event, AchievementWithdrawn):
        return replace(state, withdrawn=True)
    return replace(state, withdrawn=False)


def _require_same_achievement(state: AchievementState, event_achievement_id: uuid.UUID) -> None:
    if state.achievement_id != event_achievement_id:
        raise AchievementEventMismatch(
            f"event for achievement {event_achievement_id} applied to achievement {state.achievement_id}"
        )
