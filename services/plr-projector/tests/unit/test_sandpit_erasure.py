"""A Sandpit reset's erasure takes one AO's achievements off a learner's PLR, history and all, and
leaves the other AOs' and other learners' alone; the same key recorded afterwards starts again."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from tests.support.projector import summary

from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    Provenance,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.sandpit import SandpitAchievementsErased
from plr_projector.projection import (
    PLR_TOPIC,
    BatchChanges,
    Decoded,
    Message,
    Snapshot,
    decode_message,
    needs_of,
    project_batch,
)

ULN, OTHER_ULN = "1000000043", "1026893096"
RESET = uuid.UUID(int=5)
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def recorded(ao: str, uln: str = ULN, line: int = 1) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=uuid.uuid4(),
        key=AchievementKey(ao_id=ao, uln=uln, qualification_number="6001166X", award_date=date(2025, 2, 1)),
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        qualification=summary(),
        provenance=Provenance(batch_id=uuid.uuid4(), line=line),
    )


def decoded(*payloads: AchievementRecorded | SandpitAchievementsErased) -> list[Decoded]:
    messages = [
        Message(
            PLR_TOPIC,
            0,
            offset,
            (payload.uln if isinstance(payload, SandpitAchievementsErased) else payload.key.uln).encode(),
            encode(wrap(payload, source="tests", correlation_id="c", occurred_at=T0)),
            int(T0.timestamp() * 1000),
        )
        for offset, payload in enumerate(payloads)
    ]
    return [decode_message(message) for message in messages]


def project(*payloads: AchievementRecorded | SandpitAchievementsErased) -> BatchChanges:
    return project_batch(Snapshot(), decoded(*payloads))


def test_the_erasure_has_its_learners_rows_loaded() -> None:
    erasure = SandpitAchievementsErased(reset_id=RESET, ao_id="RN5133", uln=ULN)
    assert needs_of(decoded(erasure)).ulns == {ULN}


def test_the_erasure_removes_only_that_aos_achievements_on_that_learner() -> None:
    changes = project(
        recorded("RN5133"),
        recorded("RN9093"),
        recorded("RN5133", uln=OTHER_ULN),
        SandpitAchievementsErased(reset_id=RESET, ao_id="RN5133", uln=ULN),
    )
    assert {(uln, ao) for uln, ao, _, _ in changes.achievements} == {(ULN, "RN9093"), (OTHER_ULN, "RN5133")}
    assert {(entry.uln, entry.ao_id) for entry in changes.history} == {(ULN, "RN9093"), (OTHER_ULN, "RN5133")}
    assert {(uln, ao) for uln, ao, _, _ in changes.erased} == {(ULN, "RN5133")}


def test_recorded_again_after_the_erasure_it_is_a_new_achievement() -> None:
    changes = project(
        recorded("RN5133"), SandpitAchievementsErased(reset_id=RESET, ao_id="RN5133", uln=ULN), recorded("RN5133")
    )
    (row,) = changes.achievements.values()
    assert row.version == 1
    assert [entry.change for entry in changes.history] == ["recorded"]


def test_a_key_recorded_then_erased_in_one_poll_is_not_one_to_create() -> None:
    """The write inserts the created keys and merges the rest: a created key no longer among the rows
    would have it insert the stored ones as new (a duplicate key)."""
    changes = project(
        recorded("RN5133"), recorded("RN9093"), SandpitAchievementsErased(reset_id=RESET, ao_id="RN5133", uln=ULN)
    )
    assert changes.created == {(ULN, "RN9093", "6001166X", date(2025, 2, 1))}
    assert changes.created <= set(changes.achievements)


def test_a_key_recorded_again_after_the_erasure_is_one_to_create() -> None:
    changes = project(
        recorded("RN5133"), SandpitAchievementsErased(reset_id=RESET, ao_id="RN5133", uln=ULN), recorded("RN5133")
    )
    assert changes.created == set(changes.achievements)
