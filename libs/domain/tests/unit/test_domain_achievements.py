from __future__ import annotations

import uuid
from datetime import date

import pytest

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
from lrs_domain.achievements import AchievementEventMismatch, achievement_id, evolve

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
