"""`registry.typed_envelopes`: envelope and payload in one pass, read as `registry.decode` reads them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from lrs_contracts.envelope import Envelope
from lrs_contracts.examples import EXAMPLES, EventExample
from lrs_contracts.learner import LearnersMerged
from lrs_contracts.plr import AchievementRecorded, AchievementWithdrawn
from lrs_contracts.registry import EVENT_TYPES, decode, encode, typed_envelopes

EVERY_EVENT = typed_envelopes(EVENT_TYPES.values())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_every_event_type_reads_as_decode_reads_it(example: EventExample) -> None:
    raw = encode(example.envelope)
    envelope, payload = decode(raw)
    typed = EVERY_EVENT.validate_json(raw)
    assert isinstance(typed, Envelope)
    assert typed.model_dump(exclude={"data"}) == envelope.model_dump(exclude={"data"})
    read: object = typed.data  # the payload model, where `Envelope` has its dict
    assert type(read) is type(payload)
    assert read == payload


def test_an_event_of_a_type_not_given_is_refused_and_left_to_decode() -> None:
    withdrawals = typed_envelopes([AchievementWithdrawn])
    merged = next(example for example in EXAMPLES if isinstance(example.payload, LearnersMerged))
    with pytest.raises(ValidationError):
        withdrawals.validate_json(encode(merged.envelope))
    assert decode(encode(merged.envelope))[1] == merged.payload


def test_an_invalid_payload_is_refused_as_decode_refuses_it() -> None:
    recorded = next(example for example in EXAMPLES if isinstance(example.payload, AchievementRecorded))
    message = recorded.message()
    message["data"] = {**recorded.payload.model_dump(mode="json"), "status": "Maybe"}
    raw = json.dumps(message).encode()
    with pytest.raises(ValidationError):
        typed_envelopes([AchievementRecorded, AchievementWithdrawn]).validate_json(raw)
    with pytest.raises(ValidationError):
        decode(raw)
