"""Every event has a committed JSON-Schema snapshot, and today's model is compatible with it."""

from __future__ import annotations

import json
import warnings

import pytest
from pydantic import Field, create_model

from lrs_contracts.compatibility import changes, incompatibilities, snapshot_path
from lrs_contracts.outcomes import BatchCompleted
from lrs_contracts.plr import AchievementRecorded
from lrs_contracts.registry import EVENT_TYPES, schema_of

REGENERATE = "python -m lrs_contracts.compatibility (only for a NEW event type)"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_has_a_snapshot_and_stays_compatible(event_type: str) -> None:
    path = snapshot_path(event_type)
    assert path.exists(), f"{event_type} has no schema snapshot: run {REGENERATE}"
    committed = json.loads(path.read_text())
    found = changes(committed, schema_of(EVENT_TYPES[event_type]))
    assert found.incompatible == [], (
        f"{event_type} changed incompatibly: {found.incompatible}; publish a v2 event instead"
    )
    for note in found.notes:  # allowed within the version (a new optional field or enum value): said, not refused
        warnings.warn(f"{event_type}: {note}: upgrade the topic's consumers before its producers", stacklevel=1)


def test_adding_a_required_field_to_a_v1_event_is_refused() -> None:
    committed = json.loads(snapshot_path("lrs.achievement.recorded.v1").read_text())
    changed = create_model("AchievementRecordedCopy", __base__=AchievementRecorded, certificate_number=(str, ...))
    assert incompatibilities(committed, schema_of(changed)) == ["certificate_number: new required field"]


def test_adding_an_optional_field_is_compatible() -> None:
    committed = json.loads(snapshot_path("lrs.batch.completed.v1").read_text())
    changed = create_model("BatchCompletedCopy", __base__=BatchCompleted, channel=(str | None, Field(default=None)))
    assert incompatibilities(committed, schema_of(changed)) == []


def test_removing_or_retyping_a_field_is_refused() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    new = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert incompatibilities(old, new) == ["b: field removed", "a: type changed from string to integer"]


def test_nested_required_field_is_found() -> None:
    old = {
        "type": "object",
        "properties": {"key": {"$ref": "#/$defs/Key"}},
        "$defs": {"Key": {"type": "object", "properties": {"uln": {"type": "string"}}, "required": ["uln"]}},
    }
    new = json.loads(json.dumps(old))
    new["$defs"]["Key"]["properties"]["qan"] = {"type": "string"}
    new["$defs"]["Key"]["required"].append("qan")
    assert incompatibilities(old, new) == ["key.qan: new required field"]
