"""One achievement and how PLR events change it: the one fold every reader of the PLR log shares (the
decider, the projector's live loop and bulk rebuild, and the challenges service's record).

Public API:
- `AchievementState` — one achievement: its id, key, data, status and whether it is withdrawn;
- `AchievementEvent` — the five PLR events that change an achievement;
- `achievement_id(key)` — the deterministic id of the achievement at a key;
- `transition(state, event) -> Transition | None` — the fold: the achievement after `event` and what
  the event did to it (as the PLR history names it), or None when the event changes nothing;
- `evolve(state, event) -> AchievementState` — the same fold when only the state matters;
- `step(status, kind, *, withdrawn, event_status, data_differs, event_achievement_id, achievement_id)`
  — the fold itself on plain values, for a reader that never builds the models (the projector's plain
  path and bulk rebuild, the challenges service); `transition` is `step` applied to the models;
- `KIND_OF_EVENT_TYPE` — the kind `step` takes each achievement event type for, by its event type;
- `implied_status(kind)` — the status an event of `kind` carries without saying it (a supersession's: Final);
- `AchievementEventMismatch` — the event cannot apply to the state it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TypeVar

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
from lrs_contracts.registry import event_type_of


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
    """The achievement after `event` and what the event did, or None when it changes nothing (`step`)."""
    moved = _moved(state, event)
    if moved is None:
        return None
    return Transition(*moved)


def evolve(state: AchievementState | None, event: AchievementEvent) -> AchievementState:
    """The achievement after `event` (the same state when the event changes nothing)."""
    if state is None and event.__class__ is AchievementRecorded:
        values = event.__dict__
        if values["status"] is not None:  # `_moved`'s answer for a new achievement, nearly every event of a batch
            recorded: AchievementState = _new(AchievementState)
            _set_id(recorded, values["achievement_id"])
            _set_key(recorded, values["key"])
            _set_data(recorded, values["data"])
            _set_status(recorded, values["status"])
            _set_withdrawn(recorded, False)
            return recorded
    moved = _moved(state, event)
    if moved is not None:
        return moved[0]
    assert state is not None  # only an existing achievement can be left unchanged
    return state


def _moved(
    state: AchievementState | None, event: AchievementEvent
) -> tuple[AchievementState, AchievementChange] | None:
    """`transition` as a plain pair: `evolve` runs once per accepted record of a batch, and needs no
    `Transition` (a frozen dataclass, ~0.7 µs to build)."""
    kind = _KINDS[type(event)]
    data: AchievementData | None = None
    event_status: ResultStatus | None
    if isinstance(event, AchievementRecorded | AchievementUpdated):
        data, event_status = event.data, event.status
    else:
        event_status = implied_status(kind)
        if isinstance(event, AchievementSuperseded):
            data = event.data
    if state is None:
        moved = step(
            None,
            kind,
            withdrawn=False,
            event_status=event_status,
            data_differs=True,
            event_achievement_id=event.achievement_id,
            achievement_id=None,
        )
    else:
        moved = step(
            state.status,
            kind,
            withdrawn=state.withdrawn,
            event_status=event_status,
            data_differs=data is not None and data != state.data,
            event_achievement_id=event.achievement_id,
            achievement_id=state.achievement_id,
        )
    if moved is None:
        return None
    change, status, withdrawn = moved
    if state is None or change is AchievementChange.RECREATED:
        assert isinstance(event, AchievementRecorded)  # only a recording starts or re-creates one
        return _recorded(event), change
    if data is None:
        return _state(state.achievement_id, state.key, state.data, state.status, withdrawn), change
    return _state(state.achievement_id, state.key, data, status, withdrawn), change


# An achievement id as the reader has it: a UUID, or its canonical text (the plain decoders')
AchievementIdT = TypeVar("AchievementIdT", uuid.UUID, str)


def step(
    status: ResultStatus | None,
    kind: AchievementChange,
    *,
    withdrawn: bool,
    event_status: ResultStatus | None,
    data_differs: bool,
    event_achievement_id: AchievementIdT,
    achievement_id: AchievementIdT | None,
) -> tuple[AchievementChange, ResultStatus, bool] | None:
    """The fold on plain values: what an event of `kind` does to the achievement with `status` and
    `withdrawn` (`status` None: nothing recorded at the key yet), as (change, status, withdrawn), or
    None when it changes nothing.

    `kind` is RECORDED, UPDATED, SUPERSEDED, WITHDRAWN or REINSTATED (the event types);
    `event_status` the event's status (`implied_status(kind)` where it says none: FINAL for a
    supersession, None for a withdrawal or reinstatement); `data_differs` whether the event's data
    differs from the achievement's; the event's `event_achievement_id` must equal the achievement's
    `achievement_id` (None when `status` is), both UUIDs or both text. A data change after the change
    RECORDED, RECREATED, UPDATED or SUPERSEDED takes the event's data; RECREATED also its key and
    qualification, as a recording from nothing.

    Only a recording may start from nothing; recording onto a withdrawn achievement re-creates it
    under the same id. Nothing changes for an identical resubmission, a Provisional after the Final
    (DOMAIN rule 3), a withdrawal of a withdrawn achievement or a reinstatement of a live one. The
    decider never emits those (its rules reject them first), but the log is replayed as written.
    """
    if status is None:
        if kind is AchievementChange.RECORDED:
            assert event_status is not None
            return kind, event_status, False
        raise AchievementEventMismatch(f"{kind.value}: no achievement with this key has been recorded")
    if event_achievement_id != achievement_id:
        raise AchievementEventMismatch(
            f"{kind.value}: event for achievement {event_achievement_id} applied to achievement {achievement_id}"
        )
    if kind is AchievementChange.WITHDRAWN:
        return None if withdrawn else (kind, status, True)
    if kind is AchievementChange.REINSTATED:
        return (kind, status, False) if withdrawn else None
    assert event_status is not None
    if kind is AchievementChange.RECORDED:
        if status == ResultStatus.FINAL and event_status == ResultStatus.PROVISIONAL:
            return None
        if withdrawn:
            return AchievementChange.RECREATED, event_status, False
    elif withdrawn:
        raise AchievementEventMismatch(f"{kind.value}: the achievement is withdrawn")
    elif (
        kind is AchievementChange.UPDATED and status == ResultStatus.FINAL and event_status == ResultStatus.PROVISIONAL
    ):
        return None
    if event_status == status and not data_differs:
        return None
    return (AchievementChange.SUPERSEDED if event_status != status else kind), event_status, False


def implied_status(kind: AchievementChange) -> ResultStatus | None:
    """The status an event of `kind` carries without saying it, as `step` takes it: a supersession's is FINAL
    (the Final result replaced the Provisional one); a withdrawal or reinstatement has none, and a recording or
    an update says its own."""
    return ResultStatus.FINAL if kind is AchievementChange.SUPERSEDED else None


def _recorded(event: AchievementRecorded) -> AchievementState:
    values = event.__dict__
    return _state(values["achievement_id"], values["key"], values["data"], values["status"], False)


if tuple(field.name for field in fields(AchievementState)) != ("achievement_id", "key", "data", "status", "withdrawn"):
    raise AssertionError("AchievementState's fields changed: teach lrs_domain.achievements._state them")
_new = object.__new__
# The state's slots set through their descriptors, not its generated `__init__`, which sets each field of a
# frozen dataclass through `object.__setattr__` (0.7 against 1.3-2.1 µs a state): one per accepted record.
_set_id = AchievementState.__dict__["achievement_id"].__set__
_set_key = AchievementState.__dict__["key"].__set__
_set_data = AchievementState.__dict__["data"].__set__
_set_status = AchievementState.__dict__["status"].__set__
_set_withdrawn = AchievementState.__dict__["withdrawn"].__set__


def _state(
    achievement_id: uuid.UUID, key: AchievementKey, data: AchievementData, status: ResultStatus, withdrawn: bool
) -> AchievementState:
    """`AchievementState(achievement_id, key, data, status, withdrawn)`."""
    state: AchievementState = _new(AchievementState)
    _set_id(state, achievement_id)
    _set_key(state, key)
    _set_data(state, data)
    _set_status(state, status)
    _set_withdrawn(state, withdrawn)
    return state


_KINDS: dict[type[AchievementEvent], AchievementChange] = {
    AchievementRecorded: AchievementChange.RECORDED,
    AchievementUpdated: AchievementChange.UPDATED,
    AchievementSuperseded: AchievementChange.SUPERSEDED,
    AchievementWithdrawn: AchievementChange.WITHDRAWN,
    AchievementReinstated: AchievementChange.REINSTATED,
}
# By the event type the log spells: a plain dict (not a read-only view), as the plain readers look each event up in it.
KIND_OF_EVENT_TYPE: Mapping[str, AchievementChange] = {event_type_of(model): kind for model, kind in _KINDS.items()}
