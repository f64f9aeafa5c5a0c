"""The fast decode path reads every event exactly as the pydantic models do (decision 0033), and the
fast way out writes exactly what `encode(wrap(...))` writes.

Events are generated from the committed JSON-Schema snapshots (`contracts/schemas/`), so what is
checked is what may be on the wire: every valid instance of every registered event decodes on the
fast path to the very envelope and payload `registry.decode` returns; and a mutated one (a field
missing, an unknown field, a value of another type) is either refused (`NotFast`: the caller then
asks pydantic) or read exactly as pydantic reads it, never accepted where pydantic refuses.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from tests.support.event_examples import JSON_VALUES, envelopes, from_schema, json_paths, mutate

from lrs_contracts.compatibility import snapshot_path
from lrs_contracts.envelope import Envelope, deterministic_id
from lrs_contracts.examples import EXAMPLES as CONTRACT_EXAMPLES
from lrs_contracts.fast_decode import (
    FAST_MODELS,
    MEMO_SIZE,
    PLAIN_MODELS,
    DerivedIds,
    EnvelopeWriter,
    NotFast,
    decode_fast,
    decode_flat,
    decode_plain,
    flat_fields,
    flat_of,
    plain_of,
)
from lrs_contracts.plr import AchievementRecorded
from lrs_contracts.registry import EVENT_TYPES, UnknownEventType, decode, encode, wrap

EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _raw(document: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(document, ensure_ascii=ascii_only).encode()


def _same(fast: BaseModel, slow: BaseModel) -> None:
    assert type(fast) is type(slow)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump_json() == slow.model_dump_json()


EVENTS = sorted(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENTS)
@EXAMPLES
@given(data=st.data(), ascii_only=st.booleans())
def test_every_valid_event_decodes_on_the_fast_path_as_pydantic_reads_it(
    event_type: str, data: st.DataObject, ascii_only: bool
) -> None:
    raw = _raw(data.draw(envelopes(event_type)), ascii_only)
    envelope, payload = decode(raw)
    fast_envelope, fast_payload = decode_fast(raw)
    _same(fast_envelope, envelope)
    _same(fast_payload, payload)
    assert decode_plain(raw) == (plain_of(envelope), plain_of(payload))
    flat = flat_of(envelope, payload)
    assert decode_flat(raw) == flat
    assert decode_flat(raw) == flat  # again: a nested model of scalars is now remembered by its values
    assert len(flat) == len(flat_fields(EVENT_TYPES[event_type]))


@pytest.mark.parametrize("event_type", EVENTS)
@EXAMPLES
@given(data=st.data(), change=st.sampled_from(["remove", "add", "replace"]), replacement=JSON_VALUES)
def test_the_fast_path_never_reads_what_pydantic_refuses_nor_reads_it_otherwise(
    event_type: str, data: st.DataObject, change: str, replacement: Any
) -> None:
    document = data.draw(envelopes(event_type))
    path = data.draw(st.sampled_from(json_paths(document)[1:]))
    mutate(document, path, change, replacement)
    raw = _raw(document, ascii_only=True)
    try:
        expected = decode(raw)
    except (ValidationError, UnknownEventType, ValueError):
        with pytest.raises(NotFast):
            decode_fast(raw)
        with pytest.raises(NotFast):
            decode_plain(raw)
        with pytest.raises(NotFast):
            decode_flat(raw)
        return
    with contextlib.suppress(NotFast):  # refused: the validating decoder answers instead
        assert decode_plain(raw) == (plain_of(expected[0]), plain_of(expected[1]))
    with contextlib.suppress(NotFast):
        assert decode_flat(raw) == flat_of(*expected)
    try:
        fast = decode_fast(raw)
    except NotFast:
        return
    _same(fast[0], expected[0])
    _same(fast[1], expected[1])


def _models_within(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for candidate in _annotation_models(field.annotation):
            found |= _models_within(candidate)
    return found


def _annotation_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in getattr(annotation, "__args__", ()) for model in _annotation_models(argument)]


def test_every_registered_event_and_the_envelope_have_a_generated_builder() -> None:
    models: list[type[BaseModel]] = [Envelope, *EVENT_TYPES.values()]
    wanted = set().union(*(_models_within(model) for model in models))
    assert wanted - FAST_MODELS == set()
    assert wanted - PLAIN_MODELS == set()
    for model in EVENT_TYPES.values():  # a KeyError: no flat builder
        assert flat_fields(model)[0] == "event_id"


def test_a_remembered_nested_model_is_read_again_only_with_the_same_values() -> None:
    document = json.loads(encode(wrap(_recorded(), source="validation", correlation_id="c")))
    flat = flat_of(*decode(_raw(document, ascii_only=True)))
    for _ in range(3):
        assert decode_flat(_raw(document, ascii_only=True)) == flat
    document["data"]["qualification"]["level"] = 3  # pydantic refuses a number for a text
    with pytest.raises(ValidationError):
        decode(_raw(document, ascii_only=True))
    with pytest.raises(NotFast):
        decode_flat(_raw(document, ascii_only=True))
    document["data"]["qualification"]["level"] = None
    assert decode_flat(_raw(document, ascii_only=True)) == flat_of(*decode(_raw(document, ascii_only=True)))


def test_texts_remembered_as_checked_read_as_the_check_reads_them() -> None:
    """A text that matched a pattern or a UUID's spelling is remembered (a batch repeats its event
    type and batch id), and no longer where texts rarely repeat (ids, ULNs): each reads the same."""
    document = json.loads(encode(wrap(_recorded(), source="validation", correlation_id="c")))
    for number in range(2 * MEMO_SIZE + 2):
        event_id = uuid.UUID(int=number)
        document["event_id"] = str(event_id).upper() if number % 2 else str(event_id)
        document["data"]["key"]["uln"] = "0123456789" if number % 1000 == 7 else str(1_000_000_000 + number // 2)
        raw = _raw(document, ascii_only=True)
        if number % 1000 == 7:  # a ULN the pattern refuses, remembered or not
            with pytest.raises(ValidationError):
                decode(raw)
            with pytest.raises(NotFast):
                decode_flat(raw)
        elif number % 500 < 2:
            assert decode_flat(raw) == flat_of(*decode(raw))
        else:
            assert decode_flat(raw)[0] == str(event_id)


def _recorded() -> AchievementRecorded:
    return AchievementRecorded.model_validate(
        {
            "achievement_id": str(uuid.uuid4()),
            "key": {
                "ao_id": "RN5133",
                "uln": "1234567890",
                "qualification_number": "60012345",
                "award_date": "2024-08-22",
            },
            "data": {"grade": "A", "credits": 1},
            "status": "F",
            "qualification": {
                "title": "A level in Things",
                "qualification_type": "A level",
                "level": "Level 3",
                "framework": "RQF",
                "kind": "qualification",
                "awarding_organisation_name": "An AO",
            },
            "provenance": {"batch_id": str(uuid.uuid4()), "line": 1},
        }
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"not an event",
        b'{"event_type": "lrs.achievement.recorded.v1"}',
        b"[]",
        b'{"event_id":"05f6ee01-e8b2-4464-845f-6f800ea5150f","event_type":"lrs.nothing.happened.v1",'
        b'"occurred_at":"2024-08-22T08:00:00Z","source":"s","correlation_id":"c","data":{}}',
    ],
)
def test_what_is_not_an_event_is_left_to_the_validating_decoder(raw: bytes) -> None:
    with pytest.raises(NotFast):
        decode_fast(raw)
    with pytest.raises(NotFast):
        decode_plain(raw)
    with pytest.raises(NotFast):
        decode_flat(raw)


# --- the way out ----------------------------------------------------------------------------------

TEXT = st.text(min_size=1, max_size=30)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@EXAMPLES
@given(
    data=st.data(),
    source=TEXT,
    correlation_id=TEXT,
    causation_id=st.none() | st.text(max_size=30),
    occurred_at=st.datetimes(timezones=st.just(UTC)),
    event_id=st.uuids(),
)
def test_the_writer_writes_what_wrap_and_encode_write(
    event_type: str,
    data: st.DataObject,
    source: str,
    correlation_id: str,
    causation_id: str | None,
    occurred_at: datetime,
    event_id: uuid.UUID,
) -> None:
    root = json.loads(snapshot_path(event_type).read_text())
    payload = EVENT_TYPES[event_type].model_validate(data.draw(from_schema(root, root)))
    writer = EnvelopeWriter(
        source=source, correlation_id=correlation_id, causation_id=causation_id, occurred_at=occurred_at
    )
    expected = encode(
        wrap(
            payload,
            source=source,
            correlation_id=correlation_id,
            causation_id=causation_id,
            event_id=event_id,
            occurred_at=occurred_at,
        )
    )
    assert writer.encode(payload, event_id) == expected
    assert writer.encode(payload, str(event_id)) == expected  # the envelope is written once per type


def test_the_writer_refuses_what_the_envelope_refuses() -> None:
    payload = EVENT_TYPES["lrs.batch.validation.started.v1"].model_validate(
        {"batch_id": str(uuid.uuid4()), "ao_id": "RN5133", "record_count": 1}
    )
    writer = EnvelopeWriter(source="", correlation_id="c", causation_id=None, occurred_at=datetime.now(UTC))
    with pytest.raises(ValueError, match="source"):
        writer.encode(payload, uuid.uuid4())


@given(
    prefix=st.lists(st.uuids() | TEXT | st.integers(), min_size=1, max_size=3),
    rest=st.lists(TEXT | st.integers(), min_size=1, max_size=3),
)
def test_derived_ids_are_deterministic_ids(prefix: list[object], rest: list[object]) -> None:
    assert DerivedIds(*prefix).text(*rest) == str(deterministic_id(*prefix, *rest))


@pytest.mark.parametrize("offset", ["+00:60", "+00:99", "+24:00", "-23:60", "+23:59", "-01:30", "Z"])
@pytest.mark.parametrize(
    ("event_type", "field"), [("lrs.learner.erased.v1", "erased_at"), ("lrs.batch.completed.v1", "decided_at")]
)
def test_a_payloads_time_with_any_offset_is_read_as_pydantic_reads_it_or_not_at_all(
    event_type: str, field: str, offset: str
) -> None:
    """`fromisoformat` reads +00:99 as an offset of 1 h 39 min, which pydantic refuses (a code review)."""
    [example] = [example for example in CONTRACT_EXAMPLES if example.event_type == event_type][:1]
    document = example.message()
    data = document["data"]
    assert isinstance(data, dict)
    data[field] = str(data[field])[:19] + offset
    raw = json.dumps(document).encode()
    try:
        expected = decode(raw)
    except (ValidationError, ValueError):
        assert offset in ("+00:60", "+00:99", "+24:00", "-23:60")
        for fast in (decode_fast, decode_plain, decode_flat):
            with pytest.raises(NotFast):
                fast(raw)
        return
    assert decode_flat(raw) == flat_of(*expected)
