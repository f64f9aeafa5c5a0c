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
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from lrs_contracts.compatibility import snapshot_path
from lrs_contracts.envelope import Envelope, deterministic_id
from lrs_contracts.fast_decode import (
    FAST_MODELS,
    PLAIN_MODELS,
    DerivedIds,
    EnvelopeWriter,
    NotFast,
    decode_fast,
    decode_plain,
    plain_of,
)
from lrs_contracts.registry import EVENT_TYPES, UnknownEventType, decode, encode, wrap

Schema = dict[str, Any]
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT64 = 2**63 - 1


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: Schema = root["$defs"][ref.removeprefix("#/$defs/")]
    return resolved


def _iso(moment: datetime, timespec: str, zulu: bool) -> str:
    text = moment.isoformat(timespec=timespec)
    return text.replace("+00:00", "Z") if zulu else text


def _datetime_text(utc_only: bool) -> st.SearchStrategy[str]:
    zones = [UTC] if utc_only else [UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5, minutes=30))]
    return st.builds(
        _iso,
        st.datetimes(timezones=st.sampled_from(zones)),
        st.sampled_from(["seconds", "milliseconds", "microseconds"]),
        st.booleans(),
    )


def _text(schema: Schema) -> st.SearchStrategy[Any]:
    form = schema.get("format")
    if form == "uuid":
        return st.uuids().map(str)
    if form == "date":
        return st.dates().map(lambda day: day.isoformat())
    if form == "date-time":
        return _datetime_text(utc_only=False)
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda text: low <= len(text) and (high is None or len(text) <= high)
        )
    return st.text(min_size=low, max_size=high if high is not None else 40)


def from_schema(schema: Schema, root: Schema) -> st.SearchStrategy[Any]:
    """Valid JSON values of a (pydantic-generated) JSON Schema: the subset the snapshots use."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, root) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "string":
        return _text(schema)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -INT64), max_value=INT64)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), root), max_size=3)
    if kind == "object" and "properties" in schema:
        return _object(schema, root)
    if kind == "object":
        values = schema.get("additionalProperties", {})
        return st.dictionaries(st.text(max_size=10), from_schema(values, root) if values else st.integers(), max_size=3)
    raise AssertionError(f"the generator does not know {schema!r}: extend it")


def _object(schema: Schema, root: Schema) -> st.SearchStrategy[dict[str, Any]]:
    required = set(schema.get("required", ()))
    fields = {name: from_schema(value, root) for name, value in schema["properties"].items()}
    present = st.fixed_dictionaries(
        {name: fields[name] for name in fields if name in required},
        optional={name: fields[name] for name in fields if name not in required},
    )
    return st.tuples(present, st.booleans()).map(lambda pair: _reordered(pair[0], shuffle=pair[1]))


def _reordered(document: dict[str, Any], *, shuffle: bool) -> dict[str, Any]:
    items = list(document.items())
    if shuffle:
        random.Random(len(items)).shuffle(items)
    return dict(items)


def envelopes(event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """An envelope as `wrap` writes it (and as another writer could), around a valid payload."""
    root = json.loads(snapshot_path(event_type).read_text())
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids().map(str),
            "event_type": st.just(event_type),
            "occurred_at": _datetime_text(utc_only=True),
            "source": st.text(min_size=1, max_size=20),
            "correlation_id": st.text(min_size=1, max_size=40),
            "data": from_schema(root, root),
        },
        optional={"causation_id": st.none() | st.text(max_size=40), "schema_version": st.integers(1, 5)},
    )


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


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _container(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=5), children, max_size=2),
    max_leaves=4,
)


@pytest.mark.parametrize("event_type", EVENTS)
@EXAMPLES
@given(data=st.data(), change=st.sampled_from(["remove", "add", "replace"]), replacement=JSON_VALUES)
def test_the_fast_path_never_reads_what_pydantic_refuses_nor_reads_it_otherwise(
    event_type: str, data: st.DataObject, change: str, replacement: Any
) -> None:
    document = data.draw(envelopes(event_type))
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    container = _container(document, path)
    if change == "remove" and isinstance(container, dict):
        del container[path[-1]]
    elif change == "add" and isinstance(container, dict):
        container[f"unexpected_{path[-1]}"] = replacement
    else:
        container[path[-1]] = replacement
    raw = _raw(document, ascii_only=True)
    try:
        expected = decode(raw)
    except (ValidationError, UnknownEventType, ValueError):
        with pytest.raises(NotFast):
            decode_fast(raw)
        with pytest.raises(NotFast):
            decode_plain(raw)
        return
    with contextlib.suppress(NotFast):  # refused: the validating decoder answers instead
        assert decode_plain(raw) == (plain_of(expected[0]), plain_of(expected[1]))
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
    wanted = set().union(*(_models_within(model) for model in (Envelope, *EVENT_TYPES.values())))
    assert wanted - FAST_MODELS == set()
    assert wanted - PLAIN_MODELS == set()


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
