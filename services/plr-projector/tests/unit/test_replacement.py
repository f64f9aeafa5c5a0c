"""An operator's corrected copy of a parked event (`lrs dlq retry --replacement`) is applied only as what it
says it is: the same event mended. A copy about another learner, or under another event's id, was applied to
that learner for good (replays and rebuilds apply it again) and no AO could withdraw it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from lrs_contracts.dead_letters import learners_named
from lrs_contracts.plr import AchievementKey, AchievementRecorded, AchievementWithdrawn, Provenance
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import PLR_TOPIC, Message, replacement_refusal

ULN, OTHER_ULN = "1000000043", "1026893096"
EVENT = uuid.UUID(int=1)
AT = datetime(2026, 12, 4, 9, tzinfo=UTC)  # a copy keeps the parked event's time and achievement id


def _withdrawn(uln: str = ULN) -> AchievementWithdrawn:
    key = AchievementKey(ao_id="RN5133", uln=uln, qualification_number="6001166X", award_date=date(2024, 5, 20))
    provenance = Provenance(batch_id=uuid.UUID(int=7), line=1)
    return AchievementWithdrawn(achievement_id=uuid.UUID(int=3), key=key, provenance=provenance)


def _bytes(payload: AchievementWithdrawn | AchievementRecorded, event_id: uuid.UUID = EVENT) -> bytes:
    return encode(wrap(payload, source="tests", correlation_id="c", event_id=event_id, occurred_at=AT))


def _parked(value: bytes, key: str | None = ULN) -> Message:
    return Message(PLR_TOPIC, 0, 3, None if key is None else key.encode(), value, 0)


def test_the_parked_event_mended_under_its_own_id_is_a_corrected_copy() -> None:
    parked = _parked(_bytes(_withdrawn()).replace(b'"line":1', b'"line":"one"'))  # what cannot be read
    assert replacement_refusal(parked, _bytes(_withdrawn()), ULN) is None


def test_a_copy_about_another_learner_is_refused() -> None:
    assert replacement_refusal(_parked(b"\xff not json"), _bytes(_withdrawn(OTHER_ULN)), ULN) == (
        "the replacement is not about the learner whose events are parked"
    )
    readable = _parked(_bytes(_withdrawn()))  # parked behind another, say: its learners are known
    said = replacement_refusal(readable, _bytes(_withdrawn(OTHER_ULN)), ULN)
    assert said == "the replacement names other learners than the parked event: a corrected copy is about the same ones"


def test_a_copy_under_another_events_id_is_refused() -> None:
    other = uuid.UUID(int=2)
    said = replacement_refusal(_parked(_bytes(_withdrawn())), _bytes(_withdrawn(), event_id=other), ULN)
    assert said is not None and said.startswith(f"the replacement's event_id is {other}, the parked event's {EVENT}")


def test_what_is_no_event_of_the_topic_is_refused_saying_why() -> None:
    said = replacement_refusal(_parked(b"garbage"), b'{"grade": NaN}', ULN)
    assert said is not None and said.startswith(f"the replacement is not an event {PLR_TOPIC} carries (")


def test_a_keyless_stream_takes_a_copy_about_any_learner() -> None:
    keyless = _parked(b"\xff", key=None)
    assert replacement_refusal(keyless, _bytes(_withdrawn(OTHER_ULN)), f"keyless:{PLR_TOPIC}:0:3") is None


def test_the_learners_an_event_names_are_found_at_any_depth() -> None:
    assert learners_named(_withdrawn()) == {ULN}
