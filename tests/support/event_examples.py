"""Events generated from the committed JSON-Schema snapshots (`contracts/schemas/`): what may be on the
wire, for property tests of the fast decoders against the pydantic models, and ways to mutate them."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from lrs_contracts.compatibility import snapshot_path

Schema = dict[str, Any]
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
        optional={"causation_id": st.none() | st.text(max_size=40), "schema_version": st.just(1)},
    )


def json_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += json_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += json_paths(item, (*path, index))
    return found


def container_of(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=5), children, max_size=2),
    max_leaves=4,
)


def mutate(document: dict[str, Any], path: tuple[Any, ...], change: str, replacement: Any) -> None:
    """Changes `document` in place at `path`: `remove` the value, `add` an unexpected key beside it, or
    `replace` it (a list item is always replaced)."""
    container = container_of(document, path)
    if change == "remove" and isinstance(container, dict):
        del container[path[-1]]
    elif change == "add" and isinstance(container, dict):
        container[f"unexpected_{path[-1]}"] = replacement
    else:
        container[path[-1]] = replacement
