"""An envelope whose `schema_version` is not 1 is refused by every reader, the validating decoder and the fast paths
alike, as an event type it does not know is: another envelope version would be another shape or meaning, which a
reader parks rather than applies as version 1 (docs/events.md, the envelope)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lrs_contracts.dead_letters import error_text
from lrs_contracts.envelope import Envelope
from lrs_contracts.examples import EXAMPLES
from lrs_contracts.fast_decode import NotFast, decode_fast, decode_flat, decode_plain, scanned_rejections_by_code
from lrs_contracts.fast_match import achievement_fields
from lrs_contracts.registry import EVENT_TYPES, decode, encode, typed_envelopes

TYPED = typed_envelopes(EVENT_TYPES.values())


def example(event_type: str, schema_version: int) -> bytes:
    [found] = [item for item in EXAMPLES if item.event_type == event_type]
    value = encode(found.envelope)
    assert b'"schema_version":1,' in value
    return value.replace(b'"schema_version":1,', f'"schema_version":{schema_version},'.encode(), 1)


@pytest.mark.parametrize("event_type", ["lrs.achievement.recorded.v1", "lrs.batch.records.decided.v1"])
def test_version_1_is_read_by_every_reader(event_type: str) -> None:
    value = example(event_type, 1)
    decode(value)
    decode_fast(value)
    decode_plain(value)
    TYPED.validate_json(value)
    if event_type == "lrs.achievement.recorded.v1":
        assert achievement_fields(value) is not None
        decode_flat(value)
    else:
        assert scanned_rejections_by_code(value) is not None


@pytest.mark.parametrize("schema_version", [0, 2, 7, 99])
@pytest.mark.parametrize("event_type", ["lrs.achievement.recorded.v1", "lrs.batch.records.decided.v1"])
def test_another_version_is_refused_by_every_reader(event_type: str, schema_version: int) -> None:
    value = example(event_type, schema_version)
    with pytest.raises(ValidationError) as refused:
        decode(value)
    assert error_text(refused.value) == "invalid: schema_version: Input should be 1"
    with pytest.raises(ValidationError):
        TYPED.validate_json(value)
    for fast in (decode_fast, decode_plain):
        with pytest.raises(NotFast):
            fast(value)
    if event_type == "lrs.achievement.recorded.v1":
        assert achievement_fields(value) is None
        with pytest.raises(NotFast):
            decode_flat(value)
    else:
        assert scanned_rejections_by_code(value) is None


def test_the_published_envelope_says_version_1_only() -> None:
    assert Envelope.model_json_schema()["properties"]["schema_version"]["const"] == 1
