from __future__ import annotations

import uuid
from datetime import date
from typing import get_args

import pytest

from lrs_contracts.envelope import Contract
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
    ResultStatus,
)
from lrs_contracts.registry import event_type_of
from lrs_domain.achievements import (
    KIND_OF_EVENT_TYPE,
    AchievementChange,
    AchievementEvent,
    AchievementEventMismatch,
    AchievementState,
    achievement_id,
    evolve,
    implied_status,
    transition,
)

KEY = AchievementKey(ao_id="RN5001", uln="1000000043", qualification_number="60303049", award_date=date(2024, 8, 22))
ID = achievement_id(KEY)
PROVENANCE = Provenance(batch_id=uuid.UUID(int=1), line=4)
SUMMARY = QualificationSummary(
    title="GCSE",
    qualification_type="GCSE (9 to 1)",
    framework="RQF",
    kind="qualification",
    awarding_organisation_name="AO",
)


def recorded(grade: str = "5", status: ResultStatus = ResultStatus.PROVISIONAL) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=ID,
        key=KEY,
        data=AchievementData(grade=grade),
        status=status,
        qualification=SUMMARY,
        provenance=PROVENANCE,
    )


def test_achievement_id_is_the_documented_deterministic_id() -> None:
    assert (
        uuid.uuid5(
            uuid.UUID("6f0c8a52-4f8e-5d39-9a43-2f1b1e7a9d10"), "achievement|RN5001|1000000043|60303049|2024-08-22"
        )
        == ID
    )


def test_a_history_of_events_rebuilds_the_state() -> None:
    state = evolve(None, recorded())
    assert (state.status, state.data.grade, state.withdrawn) == (ResultStatus.PROVISIONAL, "5", False)

    state = evolve(
        state,
        AchievementUpdated(
            achievement_id=ID,
            key=KEY,
            data=AchievementData(grade="6"),
            status=ResultStatus.PROVISIONAL,
            provenance=PROVENANCE,
        ),
    )
    assert state.data.grade == "6"

    state = evolve(
        state, AchievementSuperseded(achievement_id=ID, key=KEY, data=AchievementData(grade="7"), provenance=PROVENANCE)
    )
    assert (state.status, state.data.grade) == (ResultStatus.FINAL, "7")

    state = evolve(state, AchievementWithdrawn(achievement_id=ID, key=KEY, provenance=PROVENANCE))
    assert state.withdrawn

    state = evolve(state, AchievementReinstated(achievement_id=ID, key=KEY, provenance=PROVENANCE))
    assert not state.withdrawn
    assert (state.status, state.data.grade) == (ResultStatus.FINAL, "7")


def test_recording_a_withdrawn_achievement_again_recreates_it() -> None:
    withdrawn = evolve(
        evolve(None, recorded("4")), AchievementWithdrawn(achievement_id=ID, key=KEY, provenance=PROVENANCE)
    )
    again = evolve(withdrawn, recorded("8", ResultStatus.FINAL))
    assert (again.withdrawn, again.data.grade, again.status) == (False, "8", ResultStatus.FINAL)


def test_only_a_recording_can_start_an_achievement() -> None:
    with pytest.raises(AchievementEventMismatch):
        evolve(None, AchievementWithdrawn(achievement_id=ID, key=KEY, provenance=PROVENANCE))


def test_an_event_of_another_achievement_is_refused() -> None:
    state = evolve(None, recorded())
    with pytest.raises(AchievementEventMismatch):
        evolve(state, AchievementWithdrawn(achievement_id=uuid.UUID(int=7), key=KEY, provenance=PROVENANCE))


# --- the one fold: what each event did, and the events that change nothing -------------------------


def updated(grade: str, status: ResultStatus = ResultStatus.PROVISIONAL) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=ID, key=KEY, data=AchievementData(grade=grade), status=status, provenance=PROVENANCE
    )


WITHDRAWN = AchievementWithdrawn(achievement_id=ID, key=KEY, provenance=PROVENANCE)
REINSTATED = AchievementReinstated(achievement_id=ID, key=KEY, provenance=PROVENANCE)


def changes(*events: AchievementEvent) -> list[AchievementChange | None]:
    state: AchievementState | None = None
    seen: list[AchievementChange | None] = []
    for event in events:
        moved = transition(state, event)
        seen.append(moved.change if moved else None)
        state = moved.state if moved else state
    return seen


def test_each_event_names_its_change_as_the_history_shows_it() -> None:
    superseded = AchievementSuperseded(
        achievement_id=ID, key=KEY, data=AchievementData(grade="7"), provenance=PROVENANCE
    )
    assert changes(
        recorded("4"), updated("5"), superseded, WITHDRAWN, REINSTATED, WITHDRAWN, recorded("6", ResultStatus.FINAL)
    ) == [
        AchievementChange.RECORDED,
        AchievementChange.UPDATED,
        AchievementChange.SUPERSEDED,
        AchievementChange.WITHDRAWN,
        AchievementChange.REINSTATED,
        AchievementChange.WITHDRAWN,
        AchievementChange.RECREATED,
    ]


def test_a_change_of_status_is_a_supersession_whichever_event_carries_it() -> None:
    assert changes(recorded("4"), recorded("4", ResultStatus.FINAL)) == [
        AchievementChange.RECORDED,
        AchievementChange.SUPERSEDED,
    ]
    assert changes(recorded("4"), updated("4", ResultStatus.FINAL))[-1] is AchievementChange.SUPERSEDED
    assert changes(recorded("4"), recorded("5"))[-1] is AchievementChange.RECORDED


def test_events_that_change_nothing_are_told_apart() -> None:
    final = recorded("7", ResultStatus.FINAL)
    assert changes(recorded("4"), recorded("4")) == [AchievementChange.RECORDED, None]
    assert changes(recorded("4"), updated("4")) == [AchievementChange.RECORDED, None]
    assert changes(final, recorded("6")) == [AchievementChange.RECORDED, None]  # a late Provisional
    assert changes(final, updated("6")) == [AchievementChange.RECORDED, None]
    assert changes(final, WITHDRAWN, recorded("6")) == [AchievementChange.RECORDED, AchievementChange.WITHDRAWN, None]
    assert changes(final, WITHDRAWN, WITHDRAWN)[-1] is None
    assert changes(final, REINSTATED)[-1] is None


def test_evolve_keeps_the_state_when_nothing_changes() -> None:
    state = evolve(None, recorded("7", ResultStatus.FINAL))
    assert evolve(state, recorded("6")) is state


def test_a_withdrawn_achievement_is_neither_updated_nor_superseded() -> None:
    withdrawn = evolve(evolve(None, recorded("4")), WITHDRAWN)
    superseded = AchievementSuperseded(
        achievement_id=ID, key=KEY, data=AchievementData(grade="7"), provenance=PROVENANCE
    )
    for event in (updated("5"), superseded):
        with pytest.raises(AchievementEventMismatch, match="withdrawn"):
            transition(withdrawn, event)


def test_the_fold_takes_each_achievement_event_type_for_its_kind_and_a_supersession_as_final() -> None:
    # what the readers that fold plain values (the projector, challenges) look the event types up in
    models: dict[type[Contract], AchievementChange] = {
        AchievementRecorded: AchievementChange.RECORDED,
        AchievementUpdated: AchievementChange.UPDATED,
        AchievementSuperseded: AchievementChange.SUPERSEDED,
        AchievementWithdrawn: AchievementChange.WITHDRAWN,
        AchievementReinstated: AchievementChange.REINSTATED,
    }
    assert set(models) == set(get_args(AchievementEvent))
    assert {event_type_of(model): kind for model, kind in models.items()} == KIND_OF_EVENT_TYPE
    assert {kind: implied_status(kind) for kind in KIND_OF_EVENT_TYPE.values()} == {
        AchievementChange.RECORDED: None,
        AchievementChange.UPDATED: None,
        AchievementChange.SUPERSEDED: ResultStatus.FINAL,
        AchievementChange.WITHDRAWN: None,
        AchievementChange.REINSTATED: None,
    }
