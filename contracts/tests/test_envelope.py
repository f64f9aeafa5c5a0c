from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from lrs_contracts.envelope import Envelope, deterministic_id
from lrs_contracts.learner import LearnersMerged
from lrs_contracts.plr import AchievementKey
from lrs_contracts.registry import EVENT_TYPES, UnknownEventType, decode, encode, payload_of, wrap
from lrs_contracts.topics import ALL_TOPICS


def test_round_trip_through_the_wire() -> None:
    payload = LearnersMerged(master_uln="1000000043", merged_uln="1026893096")
    envelope = wrap(payload, source="test", correlation_id="c-1")
    decoded_envelope, decoded = decode(encode(envelope))
    assert decoded == payload
    assert decoded_envelope.event_type == "lrs.learner.merged.v1"


def test_every_topic_event_is_registered_and_named_by_the_grammar() -> None:
    carried = {event_type for topic in ALL_TOPICS for event_type in topic.carries}
    assert carried == set(EVENT_TYPES)


def test_unknown_event_type_is_refused() -> None:
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_type="lrs.unknown.thing.v1",
        occurred_at=datetime.now(UTC),
        source="test",
        correlation_id="x",
        data={},
    )
    with pytest.raises(UnknownEventType):
        payload_of(envelope)


def test_occurred_at_must_be_utc() -> None:
    with pytest.raises(ValidationError):
        Envelope(
            event_id=uuid.uuid4(),
            event_type="lrs.learner.merged.v1",
            occurred_at=datetime.now(timezone(timedelta(hours=1))),
            source="t",
            correlation_id="x",
            data={},
        )


def test_deterministic_ids_are_stable_and_distinct() -> None:
    batch = uuid.uuid4()
    assert deterministic_id(batch, 4, "a") == deterministic_id(batch, 4, "a")
    assert deterministic_id(batch, 4, "a") != deterministic_id(batch, 5, "a")


def test_payloads_are_immutable_and_strict() -> None:
    key = AchievementKey(ao_id="RN1", uln="1000000043", qualification_number="6001166X", award_date=date(2020, 1, 1))
    with pytest.raises(ValidationError):
        key.uln = "1026893096"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        AchievementKey.model_validate({**key.model_dump(), "extra": 1})
