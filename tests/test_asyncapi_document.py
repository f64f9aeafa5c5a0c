"""docs/asyncapi.json and docs/events.md are current, valid AsyncAPI 3.0, and name every topic and event."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT7
from scripts.dev.export_asyncapi import ASYNCAPI, CATALOGUE, DEAD_LETTER, document, render, render_catalogue

from lrs_contracts.dead_letters import HEADER_NAMES
from lrs_contracts.examples import DEAD_LETTER_EXAMPLE, EXAMPLES
from lrs_contracts.outcomes import BatchValidationStarted
from lrs_contracts.registry import EVENT_TYPES, encode, wrap
from lrs_contracts.topics import ALL_TOPICS

SCHEMA = Path(__file__).parent / "schemas" / "asyncapi" / "3.0.0.json"


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return document()


@pytest.fixture(scope="module")
def asyncapi_validator() -> Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(schema["$id"], DRAFT7.create_resource(schema))
    for definition in schema["definitions"].values():
        registry = registry.with_resource(definition["$id"], DRAFT7.create_resource(definition))
    return Draft7Validator(schema, registry=registry)


def test_the_committed_document_and_catalogue_are_current(current: dict[str, Any]) -> None:
    stale = "is stale: run .venv/bin/python scripts/dev/export_asyncapi.py"
    assert ASYNCAPI.read_text(encoding="utf-8") == render(current), f"docs/asyncapi.json {stale}"
    assert CATALOGUE.read_text(encoding="utf-8") == render_catalogue(current), f"docs/events.md {stale}"


def test_the_document_is_valid_asyncapi_3(current: dict[str, Any], asyncapi_validator: Draft7Validator) -> None:
    assert current["asyncapi"] == "3.0.0"
    asyncapi_validator.validate(current)
    broken = copy.deepcopy(current)
    broken["channels"][ALL_TOPICS[0].name]["bindings"]["kafka"]["partitions"] = "six"
    with pytest.raises(ValidationError):
        asyncapi_validator.validate(broken)


def test_every_topic_its_dead_letters_and_every_event_type_are_channels_and_messages(current: dict[str, Any]) -> None:
    channels, messages = current["channels"], current["components"]["messages"]
    assert set(channels) == {name for topic in ALL_TOPICS for name in (topic.name, topic.dead_letters)}
    for topic in ALL_TOPICS:
        channel = channels[topic.name]
        kafka = channel["bindings"]["kafka"]
        assert (channel["address"], kafka["partitions"]) == (topic.name, topic.partitions)
        assert ("compact" in kafka["topicConfiguration"]["cleanup.policy"]) is topic.compacted
        assert list(channel["messages"]) == list(topic.carries)
        for event_type in topic.carries:
            assert messages[event_type]["bindings"]["kafka"]["key"]["description"] == topic.key
        assert list(channels[topic.dead_letters]["messages"]) == [DEAD_LETTER]
    assert {event_type for topic in ALL_TOPICS for event_type in topic.carries} == set(EVENT_TYPES)
    assert list(messages[DEAD_LETTER]["headers"]["properties"]) == list(HEADER_NAMES)


def test_a_real_message_validates_against_its_payload_schema_and_a_wrong_one_does_not(current: dict[str, Any]) -> None:
    event_type = "lrs.batch.validation.started.v1"
    message = json.loads(
        encode(
            wrap(
                BatchValidationStarted(batch_id=uuid.uuid4(), ao_id="RN5133", record_count=3),
                source="validation",
                correlation_id="c-1",
                occurred_at=datetime.now(UTC),
            )
        )
    )
    payload = Draft202012Validator({**current, "$ref": f"#/components/messages/{event_type}/payload"})
    payload.validate(message)
    wrong = copy.deepcopy(message)
    wrong["data"]["record_count"] = 0
    with pytest.raises(ValidationError):
        payload.validate(wrong)
    with pytest.raises(ValidationError):
        payload.validate({**message, "event_type": "lrs.batch.completed.v1"})


def test_every_event_has_its_example_and_key_and_each_example_validates_against_its_message(
    current: dict[str, Any],
) -> None:
    messages, catalogue = current["components"]["messages"], render_catalogue(current)
    for example in EXAMPLES:
        message = messages[example.event_type]
        assert message["examples"] == [
            {"name": example.name, "summary": example.summary, "payload": json.loads(encode(example.envelope))}
        ]
        assert message["bindings"]["kafka"]["key"]["examples"] == [example.key]
        payload = Draft202012Validator(
            {**current, "$ref": f"#/components/messages/{example.event_type}/payload"},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        payload.validate(message["examples"][0]["payload"])
        assert f"Example, key `{example.key}`: {example.summary}" in catalogue
    assert {event_type for event_type, message in messages.items() if "examples" in message} == {
        *EVENT_TYPES,
        DEAD_LETTER,
    }


def test_the_dead_letter_example_has_the_headers_the_document_declares(current: dict[str, Any]) -> None:
    message = current["components"]["messages"][DEAD_LETTER]
    [example] = message["examples"]
    Draft202012Validator(message["headers"]).validate(example["headers"])
    assert example["headers"] == DEAD_LETTER_EXAMPLE.headers()
    assert example["payload"] == json.loads(encode(DEAD_LETTER_EXAMPLE.parked.envelope))


def test_the_architecture_doc_lists_every_event_type_or_points_to_the_catalogue() -> None:
    architecture = (ASYNCAPI.parent / "architecture.md").read_text(encoding="utf-8")
    assert "events.md" in architecture and "asyncapi.json" in architecture
    assert "lrs.batch.validation.started.v1" in architecture
