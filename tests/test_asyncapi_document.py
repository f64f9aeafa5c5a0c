"""docs/asyncapi.json and docs/events.md are current, valid AsyncAPI 3.0, and name every topic and event."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT7
from scripts.dev.export_asyncapi import (
    ASYNCAPI,
    CATALOGUE,
    DEAD_LETTER,
    RETENTION_MS,
    SANDPIT_TAG,
    UNCONSUMED_NOTE,
    UNCONSUMED_TOPICS,
    WRITTEN_BY_NO_SANDPIT_SERVICE,
    document,
    render,
    render_catalogue,
    sandpit_events,
    sandpit_topics,
)

from lrs_contracts.dead_letters import HEADER_NAMES
from lrs_contracts.environments import SANDPIT_PREFIX, SANDPIT_RETENTION, SHARED_TOPICS, Environment, TopicNames
from lrs_contracts.examples import DEAD_LETTER_EXAMPLE, EXAMPLES
from lrs_contracts.outcomes import BatchValidationStarted
from lrs_contracts.registry import EVENT_TYPES, encode, wrap
from lrs_contracts.topics import ALL_TOPICS, REPORTING_TOPICS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Path(__file__).parent / "schemas" / "asyncapi" / "3.0.0.json"
SANDPIT_ONLY = {event_type for event_type in EVENT_TYPES if event_type.startswith("lrs.sandpit.")}


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
    live = {name for topic in ALL_TOPICS for name in (topic.name, topic.dead_letters)}
    assert live <= set(channels)
    for topic in ALL_TOPICS:
        channel = channels[topic.name]
        kafka = channel["bindings"]["kafka"]
        assert (channel["address"], kafka["partitions"]) == (topic.name, topic.partitions)
        assert ("compact" in kafka["topicConfiguration"]["cleanup.policy"]) is topic.compacted
        assert list(channel["messages"]) == [
            event_type for event_type in topic.carries if event_type not in SANDPIT_ONLY
        ]
        for event_type in topic.carries:
            key = messages[event_type]["bindings"]["kafka"]["key"]["description"]
            assert key == topic.key or f"Key: {key}." in messages[event_type]["summary"]
        assert list(channels[topic.dead_letters]["messages"]) == [DEAD_LETTER]
    assert {event_type for topic in ALL_TOPICS for event_type in topic.carries} == set(EVENT_TYPES)
    assert list(messages[DEAD_LETTER]["headers"]["properties"]) == list(HEADER_NAMES)
    assert {name for name in set(channels) - live if not name.startswith(SANDPIT_PREFIX)} == set()


def _kafka_access() -> dict[str, Any]:
    access: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "k8s" / "kafka-access.yaml").read_text(encoding="utf-8"))
    return access


def test_the_sandpit_topics_are_channels_as_the_sandpit_creates_them_and_carry_its_own_events_alone(
    current: dict[str, Any],
) -> None:
    """Finding 5 of the analysts' review: the `sandpit.*` topics were no channels, and the three `lrs.sandpit.*`
    events were listed on live channels, where they never travel."""
    channels = current["channels"]
    created = TopicNames(Environment.SANDPIT).declared(ALL_TOPICS)
    expected = {topic.dead_letters for topic in created} | {
        topic.name for topic in created if topic.name not in SHARED_TOPICS
    }
    assert {name for name in channels if name.startswith(SANDPIT_PREFIX)} == expected
    assert {name for name, channel in channels.items() if {"name": SANDPIT_TAG} in channel.get("tags", [])} == expected
    for topic in created:
        for name, retention in ((topic.dead_letters, topic.dead_letters_retention), (topic.name, topic.retention)):
            if name not in expected:
                continue  # a shared topic: live's channel
            kafka = channels[name]["bindings"]["kafka"]
            assert (channels[name]["address"], kafka["partitions"]) == (name, topic.partitions)
            configuration = kafka["topicConfiguration"]
            if name == topic.name and topic.compacted:
                assert configuration == {"cleanup.policy": ["compact"]}
            else:
                assert retention == SANDPIT_RETENTION, name
                assert configuration == {"cleanup.policy": ["delete"], "retention.ms": RETENTION_MS[retention]}
    on_sandpit = {event for name in expected for event in channels[name]["messages"]}
    on_live = {event for topic in ALL_TOPICS for event in channels[topic.name]["messages"]}
    assert SANDPIT_ONLY and on_sandpit >= SANDPIT_ONLY and not SANDPIT_ONLY & on_live

    # What a Sandpit channel carries is what the Sandpit's services write there (deploy/k8s/kafka-access.yaml).
    access = _kafka_access()
    written = {
        topic for name in access["sandpit"]["services"] for topic in access["services"][name].get("produces", [])
    }
    for live, topic in sandpit_topics():
        if live.name in SHARED_TOPICS:
            assert topic.name == live.name, "the Sandpit reads the live topic: its channel is live's"
            continue
        assert list(channels[topic.name]["messages"]) == list(sandpit_events(live))
        assert (live.name in written) is (live.name not in WRITTEN_BY_NO_SANDPIT_SERVICE), live.name


def test_the_catalogue_lists_the_sandpit_topics_and_puts_its_events_on_them_alone(current: dict[str, Any]) -> None:
    catalogue = render_catalogue(current)
    topics = catalogue.split("## Topics", 1)[1].split("## The envelope", 1)[0]
    live_table, sandpit_table = topics.split("### The Sandpit's topics", 1)
    for event_type in SANDPIT_ONLY:
        assert f"[`{event_type}`]" not in live_table and f"[`{event_type}`]" in sandpit_table
    for live, topic in sandpit_topics():
        assert f"| `{live.name}` |" in sandpit_table and f"`{topic.dead_letters}`" in sandpit_table
        if live.name not in SHARED_TOPICS:
            assert f"| `{topic.name}` |" in sandpit_table
    assert "`sandpit.<topic>.dlq`" in catalogue.split("## Dead letters", 1)[1].split("## Events", 1)[0]


def test_the_reporting_dead_letter_topics_say_no_lrs_consumer_reads_their_topic(current: dict[str, Any]) -> None:
    """Finding 7: `lrs.reporting.*.v1.dlq` exist, but no LRS service consumes a reporting topic, so they stay empty."""
    access = _kafka_access()
    consumed = {topic for grants in access["services"].values() for topic in grants.get("consumes", [])}
    assert {topic.name for topic in REPORTING_TOPICS} == UNCONSUMED_TOPICS and not UNCONSUMED_TOPICS & consumed
    catalogue = render_catalogue(current)
    for topic in ALL_TOPICS:
        unconsumed = topic.name in UNCONSUMED_TOPICS
        assert (f"`{topic.dead_letters}` ({UNCONSUMED_NOTE})" in catalogue) is unconsumed
        assert (UNCONSUMED_NOTE in current["channels"][topic.dead_letters]["description"]) is unconsumed


def test_the_production_server_is_the_tls_listener_with_a_client_certificate(current: dict[str, Any]) -> None:
    """Finding 6: the document named only `make up`'s plain-text broker."""
    servers, schemes = current["servers"], current["components"]["securitySchemes"]
    assert set(servers) == {"local", "production"}
    production = servers["production"]
    analysts = (ROOT / "deploy" / "k8s" / "analysts" / "kustomization.yaml").read_text(encoding="utf-8")
    assert f"KAFKA_BOOTSTRAP_SERVERS={production['host']}\n" in analysts and "KAFKA_SECURITY_PROTOCOL=SSL" in analysts
    kafka = next(
        each
        for each in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "kafka" / "kafka.yaml").read_text("utf-8"))
        if each and each.get("kind") == "Kafka"
    )
    port = int(production["host"].rsplit(":", 1)[1])
    [listener] = [each for each in kafka["spec"]["kafka"]["listeners"] if each["port"] == port]
    assert listener["tls"] is True and listener["authentication"]["type"] == "tls"
    assert production["protocol"] == "kafka-secure"
    [reference] = production["security"]
    assert schemes[reference["$ref"].rsplit("/", 1)[-1]]["type"] == "X509"
    assert "security" not in servers["local"]


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
