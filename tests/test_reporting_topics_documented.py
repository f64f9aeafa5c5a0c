"""What an analyst reads of the reporting topics without the prose around them: every field of their events says what
it counts (committed schema, AsyncAPI document, catalogue alike), and their channels say where poison goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from scripts.dev.export_asyncapi import ASYNCAPI, document

from lrs_contracts.compatibility import snapshot_path
from lrs_contracts.registry import event_type_of, schema_of
from lrs_contracts.reporting import REPORTING_EVENTS
from lrs_contracts.topics import ALL_TOPICS, BATCH_OUTCOMES, CHALLENGE_EVENTS, REPORTING_TOPICS

REPORTING_EVENT_TYPES = [event_type_of(model) for model in REPORTING_EVENTS]


def fields_of(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, property) of every field of the event and of every object it nests."""
    for name, definition in schema.get("$defs", {}).items():
        for field, property_ in definition.get("properties", {}).items():
            yield f"{name}.{field}", property_
    for field, property_ in schema["properties"].items():
        yield field, property_


@pytest.mark.parametrize("event_type", REPORTING_EVENT_TYPES)
def test_every_field_of_a_reporting_event_says_what_it_is(event_type: str) -> None:
    model = next(model for model in REPORTING_EVENTS if event_type_of(model) == event_type)
    schema = schema_of(model)
    undescribed = [name for name, field in fields_of(schema) if name != "event_type" and not field.get("description")]
    assert undescribed == []
    # and the committed snapshot says so too (the compatibility check alone lets descriptions go stale)
    assert json.loads(snapshot_path(event_type).read_text(encoding="utf-8")) == schema


def test_the_reporting_channels_say_nothing_is_parked_on_their_dead_letters_but_where_reporting_parks() -> None:
    channels = document()["channels"]
    committed = json.loads(ASYNCAPI.read_text(encoding="utf-8"))["channels"]
    for topic in REPORTING_TOPICS:
        for described in (channels[topic.name]["description"], committed[topic.name]["description"]):
            assert f"Poison messages are parked on `{topic.dead_letters}`" not in described
            assert f"nothing is parked on `{topic.dead_letters}`" in described
            assert f"`{BATCH_OUTCOMES.dead_letters}`" in described and f"`{CHALLENGE_EVENTS.dead_letters}`" in described
    consumed = [topic for topic in ALL_TOPICS if topic not in REPORTING_TOPICS]
    for topic in consumed:
        assert f"Poison messages are parked on `{topic.dead_letters}`." in channels[topic.name]["description"]
