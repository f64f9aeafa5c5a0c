"""One achievement and how PLR events change it: the one fold the decider and the projector share.

Public API:
- `AchievementState` — one achievement: its id, key, data, status and whether it is withdrawn;
- `AchievementEvent` (alias `PlrEventPayload`) — the five PLR events that change an achievement;
- `achievement_id(key)` — the deterministic id of the achievement at a key;
- `transition(state, event) -> Transition | None` — the fold: the achievement after `event` and what
  the event did to it (as the PLR history names it), or None when the event changes nothing;
- `evolve(state, event) -> AchievementState` — the same fold when only the state matters;
- `AchievementEventMismatch` — the event cannot apply to the state it was given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

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


class AchievementChange(StrEnum):
    """What an event did to an achievement, as the achievement's history shows it."""

    RECORDED = "recorded"
    RECREATED = "recreated"
    UPDATED = "updated"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"
    REINSTATED = "reinstated"


@dataclass(frozen=True, slots=True)
class Transition:
    state: AchievementState
    change: AchievementChange


class AchievementEventMismatch(ValueError):
    """An event that cannot apply: no achievement yet, another achievement's event, or a change of a
    withdrawn achievement other than re-recording or reinstating it."""


def achievement_id(key: AchievementKey) -> uuid.UUID:
    """Stable across retries and rebuilds: the same key always names the same achievement."""
    return deterministic_id("achievement", key.ao_id, key.uln, key.qualification_number, key.award_date.isoformat())


def transition(state: AchievementState | None, event: AchievementEvent) -> Transition | None:
    """The achievement after `event` and what the event did, or None when it changes nothing.

    Only `AchievementRecorded` may start from nothing; recording onto a withdrawn achievement
    re-creates it under the same id. Nothing changes for an identical resubmission, a Provisional
    after the Final (DOMAIN rule 3), a withdrawal of a withdrawn achievement or a reinstatement of a
    live one. The decider never emits those (its rules reject them first), but the log is replayed as
    written.
    """
    if isinstance(event, AchievementRecorded):
        if state is None:
            return Transition(_recorded(event), AchievementChange.RECORDED)
        _require_same_achievement(state, event)
        if _late_provisional(state, event.status):
            return None
        if state.withdrawn:
            return Transition(_recorded(event), AchievementChange.RECREATED)
        return _changed(state, event.data, event.status, AchievementChange.RECORDED)
    if state is None:
        raise AchievementEventMismatch(f"{_short(event)}: no achievement with this key has been recorded")
    _require_same_achievement(state, event)
    if isinstance(event, AchievementWithdrawn):
        return None if state.withdrawn else Transition(replace(state, withdrawn=True), AchievementChange.WITHDRAWN)
    if isinstance(event, AchievementReinstated):
        return Transition(replace(state, withdrawn=False), AchievementChange.REINSTATED) if state.withdrawn else None
    if state.withdrawn:
        raise AchievementEventMismatch(f"{_short(event)}: the achievement is withdrawn")
    if isinstance(event, AchievementUpdated):
        if _late_provisional(state, event.status):
            return None
        return _changed(state, event.data, event.status, AchievementChange.UPDATED)
    return _changed(state, event.data, ResultStatus.FINAL, AchievementChange.SUPERSEDED)


def evolve(state: AchievementState | None, event: AchievementEvent) -> AchievementState:
    """The achievement after `event` (the same state when the event changes nothing)."""
    moved = transition(state, event)
    if moved is not None:
        return moved.state
    assert state is not None  # only an existing achievement can be left unchanged
    return state


def _recorded(event: AchievementRecorded) -> AchievementState:
    return AchievementState(
        achievement_id=event.achievement_id, key=event.key, data=event.data, status=event.status, withdrawn=False
    )


def _changed(
    state: AchievementState, data: AchievementData, status: ResultStatus, change: AchievementChange
) -> Transition | None:
    if status == state.status and data == state.data:
        return None
    if status != state.status:
        change = AchievementChange.SUPERSEDED
    return Transition(replace(state, data=data, status=status), change)


def _late_provisional(state: AchievementState, status: ResultStatus) -> bool:
    return state.status == ResultStatus.FINAL and status == ResultStatus.PROVISIONAL


def _require_same_achievement(state: AchievementState, event: AchievementEvent) -> None:
    if state.achievement_id != event.achievement_id:
        raise AchievementEventMismatch(
            f"{_short(event)}: event for achievement {event.achievement_id} applied to achievement "
            f"{state.achievement_id}"
        )


def _short(event: AchievementEvent) -> str:
    """`lrs.achievement.updated.v1` → `updated`."""
    return event.event_type.split(".")[-2]
