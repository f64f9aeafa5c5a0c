"""Writes the AsyncAPI 3.0 document of every topic and event (docs/asyncapi.json) and the event catalogue
rendered from it (docs/events.md), both from `contracts/` alone: topics and keys from
`lrs_contracts.topics`, message schemas from the registry, one example message (value and key) of each
event from `lrs_contracts.examples`, dead-letter headers from `lrs_contracts.dead_letters`.
`tests/test_asyncapi_document.py` fails when either file is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from lrs_contracts import dead_letters
from lrs_contracts.envelope import Envelope
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.examples import DEAD_LETTER_EXAMPLE, EXAMPLES
from lrs_contracts.registry import EVENT_TYPES
from lrs_contracts.topics import ALL_TOPICS, Topic

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = DOCS / "asyncapi.json"
CATALOGUE = DOCS / "events.md"

KAFKA_BINDING = "0.5.0"
RETENTION_MS = {"7 days": 7 * 24 * 3600 * 1000, "forever": -1}
SCHEMAS = "#/components/schemas/"
DEAD_LETTER = "DeadLetter"

Json = dict[str, Any]


SANDPIT = TopicNames(Environment.SANDPIT)
_SANDPIT_ONLY = " (Sandpit only)"


def _in_sandpit_only(event_type: str) -> bool:
    """The Sandpit's own events travel only on its `sandpit.` copies of the topics."""
    return event_type.startswith("lrs.sandpit.")


def _hoist(schema: Json, into: Json) -> Json:
    """Moves a pydantic schema's $defs into `into` (components.schemas); refs already point there."""
    for name, definition in schema.pop("$defs", {}).items():
        if into.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are called {name}")
    return schema


def _schema_of(model: type[Any], into: Json) -> Json:
    return _hoist(model.model_json_schema(ref_template=SCHEMAS + "{model}"), into)


def _key_of(summary: str, topic_key: str) -> str:
    """The topic's key, unless the event's own summary names another ("Key: reset id.")."""
    named = re.search(r"\bKey: ([^.]+)\.", summary)
    return named.group(1) if named else topic_key


def _summary(model: type[Any]) -> str:
    doc = (model.__doc__ or "").strip()
    first = " ".join(doc.split("\n\n")[0].split())
    summary = re.sub(r"^lrs\.[a-z0-9_.]+\.v[0-9]+ — ", "", first)
    return summary[:1].upper() + summary[1:]


def _dead_letter_headers() -> list[tuple[str, str]]:
    """(header, meaning) from the table in `lrs_contracts.dead_letters`' docstring: the one description."""
    rows = re.findall(r"^\| `(lrs-[a-z-]+)` \| (.+) \|$", dead_letters.__doc__ or "", flags=re.MULTILINE)
    assert [name for name, _ in rows] == list(dead_letters.HEADER_NAMES), "dead_letters' docstring table drifted"
    return rows


def _topic_configuration(topic: Topic) -> Json:
    if topic.compacted:
        return {"cleanup.policy": ["compact"]}
    return {"cleanup.policy": ["delete"], "retention.ms": RETENTION_MS[topic.retention]}


def _key(description: str) -> Json:
    return {"type": "string", "description": description}


def document() -> Json:
    schemas: Json = {}
    envelope = _schema_of(Envelope, schemas)
    schemas["Envelope"] = envelope
    messages: Json = {}
    examples = {example.event_type: example for example in EXAMPLES}
    without = set(EVENT_TYPES) - set(examples)
    if without:
        raise ValueError(f"event types without an example in lrs_contracts.examples: {sorted(without)}")
    for event_type, model in EVENT_TYPES.items():
        schemas[model.__name__] = _schema_of(model, schemas)
        messages[event_type] = {
            "name": event_type,
            "title": model.__name__,
            "summary": _summary(model),
            "contentType": "application/json",
            "payload": {
                "allOf": [
                    {"$ref": SCHEMAS + "Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "event_type": {"const": event_type},
                            "data": {"$ref": SCHEMAS + model.__name__},
                        },
                    },
                ]
            },
            # the key is no part of an AsyncAPI example: it is shown in the Kafka binding's key schema
            "examples": [
                {
                    "name": examples[event_type].name,
                    "summary": examples[event_type].summary,
                    "payload": examples[event_type].message(),
                }
            ],
        }
    headers = _dead_letter_headers()
    optional = set(dead_letters.OPTIONAL_HEADER_NAMES)
    messages[DEAD_LETTER] = {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A message a consumer could not apply: key and value unchanged (the value left out when too large:"
        " lrs-value-omitted), with the lrs-* headers saying why.",
        "headers": {
            "type": "object",
            "required": [name for name, _ in headers if name not in optional],
            "properties": {name: {"type": "string", "description": meaning} for name, meaning in headers},
        },
        "payload": {
            "description": (
                "the original message's value, byte for byte (usually an envelope); empty when lrs-value-omitted"
                " says it was too large to send again"
            )
        },
        "examples": [
            {
                "name": DEAD_LETTER_EXAMPLE.name,
                "summary": DEAD_LETTER_EXAMPLE.summary,
                "headers": DEAD_LETTER_EXAMPLE.headers(),
                "payload": DEAD_LETTER_EXAMPLE.parked.message(),
            }
        ],
    }
    channels: Json = {}
    carried: set[str] = set()
    for topic in ALL_TOPICS:
        carried.update(topic.carries)
        channels[topic.name] = {
            "address": topic.name,
            "title": topic.name,
            "description": (
                f"Key: {topic.key}. Retention: {topic.retention}. Partitions: {topic.partitions}."
                f" Poison messages are parked on `{topic.dead_letters}`."
            ),
            "messages": {event_type: {"$ref": f"#/components/messages/{event_type}"} for event_type in topic.carries},
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": _topic_configuration(topic),
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
        channels[topic.dead_letters] = {
            "address": topic.dead_letters,
            "title": topic.dead_letters,
            "description": (
                f"Dead letters of `{topic.name}`: same key ({topic.key}), same partition count, kept until an"
                " operator retries or skips them (`lrs dlq`)."
            ),
            "messages": {DEAD_LETTER: {"$ref": f"#/components/messages/{DEAD_LETTER}"}},
            "bindings": {
                "kafka": {
                    "topic": topic.dead_letters,
                    "partitions": topic.partitions,
                    "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": -1},
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
    missing = set(EVENT_TYPES) - carried
    if missing:
        raise ValueError(f"event types on no topic: {sorted(missing)}")
    for topic in ALL_TOPICS:
        for event_type in topic.carries:
            key = {**_key(topic.key), "examples": [examples[event_type].key]}
            messages[event_type]["bindings"] = {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Learning Records Service events",
            "version": "1.0.0",
            "description": (
                "Every Kafka topic of the LRS, its partition key, retention and dead-letter topic, and every event"
                " it carries. Each message value is a JSON envelope (CloudEvents-style metadata) whose `data` is"
                " the event named by `event_type`; each message has one example (its key in the Kafka binding's key"
                " schema). Generated from `contracts/` by `scripts/dev/export_asyncapi.py`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": (
                    "the single-node KRaft broker of `make up`, on a free port: the one KAFKA_BOOTSTRAP_SERVERS in"
                    " `.run/env` names (9092 stands for it here)"
                ),
            }
        },
        "channels": channels,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render(document: Json) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _type_of(schema: Json) -> str:
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(SCHEMAS)
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        kinds = [_type_of(option) for option in schema["anyOf"]]
        return " or ".join(kind for kind in kinds if kind != "null") + (" or null" if "null" in kinds else "")
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    kind = str(schema.get("type", "any"))
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields(schema: Json) -> list[str]:
    required = set(schema.get("required", ()))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, field in schema.get("properties", {}).items():
        description = _cell(str(field.get("description", "")))
        rows.append(f"| `{name}` | {_type_of(field)} | {'yes' if name in required else 'no'} | {description} |")
    return rows


def _example(message: Json) -> list[str]:
    [example] = message["examples"]
    [key] = message["bindings"]["kafka"]["key"]["examples"]
    value = json.dumps(example["payload"], indent=2, ensure_ascii=False)
    return [f"Example, key `{key}`: {example['summary']}", "", "```json", value, "```", ""]


def render_catalogue(document: Json) -> str:
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    lines = [
        "# Event catalogue",
        "",
        "Every topic and event of the LRS. Generated from `contracts/` by `scripts/dev/export_asyncapi.py`, with",
        "the machine-readable AsyncAPI 3.0 document beside it (`docs/asyncapi.json`); do not edit by hand.",
        "Each event ends with an example message and its key (`lrs_contracts.examples`): illustrative values that",
        "agree with the domain and with one another; a sealed field holds a placeholder in the sealed form, not",
        "ciphertext.",
        "",
        "## Topics",
        "",
        "| topic | key | partitions | retention | dead letters | events |",
        "|---|---|---|---|---|---|",
    ]
    for topic in ALL_TOPICS:
        events = ", ".join(
            f"[`{event_type}`](#{event_type.replace('.', '')}){_SANDPIT_ONLY if _in_sandpit_only(event_type) else ''}"
            for event_type in topic.carries
        )
        lines.append(
            f"| `{topic.name}` | {_cell(topic.key)} | {topic.partitions} | {topic.retention}"
            f" | `{topic.dead_letters}` | {events} |"
        )
    lines += [
        "",
        "## The envelope",
        "",
        "Every message value is this JSON object; `data` holds the event named by `event_type`.",
        "",
        *_fields(schemas["Envelope"]),
        "",
        "## Dead letters",
        "",
        "A consumer parks a message it cannot apply on `<topic>.dlq`, key and value unchanged (the value left out"
        " when too large to send again: `lrs-value-omitted`), with these headers:",
        "",
        "| header | meaning | always |",
        "|---|---|---|",
    ]
    dead_letter = messages[DEAD_LETTER]["headers"]
    for name, header in dead_letter["properties"].items():
        always = "yes" if name in dead_letter["required"] else "no"
        lines.append(f"| `{name}` | {_cell(header['description'])} | {always} |")
    [parked] = messages[DEAD_LETTER]["examples"]
    lines += [
        "",
        f"Example: {parked['summary']} Headers:",
        "",
        "```json",
        json.dumps(parked["headers"], indent=2, ensure_ascii=False),
        "```",
        "",
        "Value:",
        "",
        "```json",
        json.dumps(parked["payload"], indent=2, ensure_ascii=False),
        "```",
    ]
    lines += ["", "## Events", ""]
    for topic in ALL_TOPICS:
        for event_type in topic.carries:
            message = messages[event_type]
            lines += [
                f"### {event_type}",
                "",
                f"{message['summary']}",
                "",
                f"Topic `{SANDPIT.of(topic) if _in_sandpit_only(event_type) else topic.name}`,"
                f" key: {_key_of(message['summary'], topic.key)}."
                f" Payload `data`: `{message['title']}`.",
                "",
                *_fields(schemas[message["title"]]),
                "",
                *_example(message),
            ]
    payloads = {messages[event_type]["title"] for topic in ALL_TOPICS for event_type in topic.carries}
    lines += ["## Types", "", "The structures and values the events' fields name.", ""]
    for name in sorted(set(schemas) - payloads - {"Envelope"}):
        schema = schemas[name]
        lines += [f"### {name}", ""]
        if schema.get("description"):
            lines += [_cell(str(schema["description"])), ""]
        lines += [*(_fields(schema) if "properties" in schema else [f"One of {_type_of(schema)}."]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    current = document()
    ASYNCAPI.write_text(render(current), encoding="utf-8")
    CATALOGUE.write_text(render_catalogue(current), encoding="utf-8")
    sys.stdout.write("docs/asyncapi.json\ndocs/events.md\n")
