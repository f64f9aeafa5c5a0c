"""Writes the AsyncAPI 3.0 document of every topic and event (docs/asyncapi.json) and the event catalogue
rendered from it (docs/events.md), both from `contracts/` alone: topics and keys from
`lrs_contracts.topics`, message schemas from the registry, one example message (value and key) of each
event from `lrs_contracts.examples`, dead-letter headers from `lrs_contracts.dead_letters`, the Sandpit's
topics from `lrs_contracts.environments`. `tests/test_asyncapi_document.py` fails when either file is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from lrs_contracts import dead_letters
from lrs_contracts.envelope import Envelope
from lrs_contracts.environments import LIVE_ONLY_TOPICS, SHARED_TOPICS, Environment, TopicNames
from lrs_contracts.examples import DEAD_LETTER_EXAMPLE, EXAMPLES
from lrs_contracts.registry import EVENT_TYPES
from lrs_contracts.topics import ALL_TOPICS, BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS, REPORTING_TOPICS, Topic

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = DOCS / "asyncapi.json"
CATALOGUE = DOCS / "events.md"

KAFKA_BINDING = "0.5.0"
RETENTION_MS = {"7 days": 7 * 24 * 3600 * 1000, "30 days": 30 * 24 * 3600 * 1000, "forever": -1}
SCHEMAS = "#/components/schemas/"
DEAD_LETTER = "DeadLetter"

Json = dict[str, Any]


SANDPIT = TopicNames(Environment.SANDPIT)
_SANDPIT_ONLY = " (Sandpit only)"
SANDPIT_TAG = "sandpit"
CLIENT_CERTIFICATE = "clientCertificate"

WRITTEN_BY_NO_SANDPIT_SERVICE = {
    CHALLENGE_EVENTS.name: "the challenges service does not run in the Sandpit (decision 0060), so nothing writes this"
    " copy; it is created with the others, and the Sandpit's plr-projector and notifier read it",
}
"""Sandpit copies of topics no Sandpit service writes (`deploy/k8s/kafka-access.yaml`, `sandpit.services`; checked
by `tests/test_asyncapi_document.py`): no event travels on them."""

UNCONSUMED_NOTE = "no LRS consumer reads this topic: analysts' own consumers keep their own dead letters"
UNCONSUMED_TOPICS = frozenset(topic.name for topic in REPORTING_TOPICS)
"""Topics no LRS service consumes (reporting publishes them for analysts): nothing is ever parked on their `.dlq`."""
REPORTING_PARKS = (
    "reporting parks an event it cannot apply on the dead letters of the topic it read it from"
    f" (`{BATCH_OUTCOMES.dead_letters}`, `{CHALLENGE_EVENTS.dead_letters}`; `{PLR_EVENTS.dead_letters}` when it reads"
    " the PLR log, REPORTING_READ_PLR_LOG), and counts it, publishing its month again, once an operator retries it"
    " (`lrs dlq`)"
)
"""Where an event behind the reporting topics' figures goes when reporting cannot apply it (services/reporting's stream)."""


def _in_sandpit_only(event_type: str) -> bool:
    """The Sandpit's own events travel only on its `sandpit.` copies of the topics."""
    return event_type.startswith("lrs.sandpit.")


def live_events(topic: Topic) -> tuple[str, ...]:
    """What travels on the live topic: what it carries, less the Sandpit's own events."""
    return tuple(event_type for event_type in topic.carries if not _in_sandpit_only(event_type))


def sandpit_topics() -> list[tuple[Topic, Topic]]:
    """(live topic, the Sandpit's) for every topic the Sandpit has: physical names, dead letters and retention as it
    creates them (`TopicNames.declared`). A shared topic keeps its live name: the Sandpit only reads it."""
    return [(topic, SANDPIT.declared([topic])[0]) for topic in ALL_TOPICS if topic.name not in LIVE_ONLY_TOPICS]


def sandpit_events(topic: Topic) -> tuple[str, ...]:
    """What travels on the Sandpit's copy of `topic` (a live topic): nothing on a shared topic's (it is live's) or
    on one no Sandpit service writes, else what the topic carries, the Sandpit's own events included."""
    if topic.name in SHARED_TOPICS or topic.name in WRITTEN_BY_NO_SANDPIT_SERVICE:
        return ()
    return topic.carries


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


def _channel(address: str, description: str, messages: tuple[str, ...], kafka: Json, sandpit: bool = False) -> Json:
    channel: Json = {
        "address": address,
        "title": address,
        "description": description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {"kafka": {"topic": address, **kafka, "bindingVersion": KAFKA_BINDING}},
    }
    if sandpit:
        channel["tags"] = [{"name": SANDPIT_TAG}]
    return channel


def _dead_letters_channel(topic: Topic, description: str, sandpit: bool = False) -> Json:
    configuration = {"cleanup.policy": ["delete"], "retention.ms": RETENTION_MS[topic.dead_letters_retention]}
    return _channel(
        topic.dead_letters,
        description,
        (DEAD_LETTER,),
        {"partitions": topic.partitions, "topicConfiguration": configuration},
        sandpit,
    )


def _live_channels(topic: Topic) -> Json:
    sandpit = (
        "The Sandpit has no copy of it."
        if topic.name in LIVE_ONLY_TOPICS
        else f"The Sandpit reads it too, never writes to it, and parks on `{SANDPIT.dead_letters(topic.name)}`."
        if topic.name in SHARED_TOPICS
        else f"The Sandpit's copy: `{SANDPIT.of(topic)}`."
    )
    kept = (
        f"nothing is parked here ({UNCONSUMED_NOTE})"
        if topic.name in UNCONSUMED_TOPICS
        else "kept until an operator retries or skips them (`lrs dlq`)"
    )
    poison = (
        f"No LRS service consumes it, so nothing is parked on `{topic.dead_letters}`: {REPORTING_PARKS}."
        if topic.name in UNCONSUMED_TOPICS
        else f"Poison messages are parked on `{topic.dead_letters}`."
    )
    return {
        topic.name: _channel(
            topic.name,
            f"Key: {topic.key}. Retention: {topic.retention}. Partitions: {topic.partitions}. {poison} {sandpit}",
            live_events(topic),
            {"partitions": topic.partitions, "topicConfiguration": _topic_configuration(topic)},
        ),
        topic.dead_letters: _dead_letters_channel(
            topic, f"Dead letters of `{topic.name}`: same key ({topic.key}), same partition count, {kept}."
        ),
    }


def _sandpit_channels(live: Topic, topic: Topic) -> Json:
    kept = f"kept until an operator retries or skips them (`lrs --sandpit dlq`), at most {topic.dead_letters_retention}"
    if live.name in SHARED_TOPICS:
        return {
            topic.dead_letters: _dead_letters_channel(
                topic,
                f"Dead letters of the Sandpit's consumers of the live `{live.name}`, which the Sandpit reads as it is"
                f" and never writes: same key ({live.key}), same partition count, {kept}.",
                sandpit=True,
            )
        }
    events = sandpit_events(live)
    carried = (
        f" Nothing travels on it: {WRITTEN_BY_NO_SANDPIT_SERVICE[live.name]}."
        if not events
        else " It also carries the Sandpit's own events, which never travel on a live topic."
        if set(events) - set(live_events(live))
        else ""
    )
    return {
        topic.name: _channel(
            topic.name,
            f"The Sandpit's copy of `{live.name}` (decision 0060). Key: {topic.key}. Retention: {topic.retention}."
            f" Partitions: {topic.partitions}. Poison messages are parked on `{topic.dead_letters}`.{carried}",
            events,
            {"partitions": topic.partitions, "topicConfiguration": _topic_configuration(topic)},
            sandpit=True,
        ),
        topic.dead_letters: _dead_letters_channel(
            topic,
            f"Dead letters of `{topic.name}`: same key ({topic.key}), same partition count, {kept}.",
            sandpit=True,
        ),
    }


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
        channels.update(_live_channels(topic))
    for live, topic in sandpit_topics():
        channels.update(_sandpit_channels(live, topic))
    missing = set(EVENT_TYPES) - carried
    if missing:
        raise ValueError(f"event types on no topic: {sorted(missing)}")
    for topic in ALL_TOPICS:
        for event_type in topic.carries:
            key = {**_key(_key_of(messages[event_type]["summary"], topic.key)), "examples": [examples[event_type].key]}
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
                " schema). The Sandpit's topics (decision 0060), tagged `sandpit`, are on the same brokers: it"
                " prefixes every topic it writes and every dead-letter topic of its consumers with `sandpit.`, keeps"
                " them 30 days (compacted ones compacted), reads the live learner log and qualification catalogue as"
                " they are and has no reporting topics. Generated from `contracts/` by"
                " `scripts/dev/export_asyncapi.py`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": (
                    "the single-node KRaft broker of `make up`, on a free port: the one KAFKA_BOOTSTRAP_SERVERS in"
                    " `.run/env` names (9092 stands for it here); plain text, no authentication"
                ),
            },
            "production": {
                "host": "lrs-kafka-bootstrap.lrs.svc:9093",
                "protocol": "kafka-secure",
                "description": (
                    "the Strimzi Kafka cluster `lrs` in the namespace `lrs` (`deploy/k8s/base/kafka/kafka.yaml`): its"
                    " listener `tls` on port 9093, inside the cluster only, TLS with a client certificate. Only pods"
                    ' labelled `lrs.io/kafka-client: "true"` in the namespaces the listener admits may connect; each'
                    " logs in as a KafkaUser, whose ACLs decide what it may read. Analysts log in as `lrs-analysts`"
                    " (`deploy/k8s/analysts/kustomization.yaml`): the five `lrs.reporting.*.v1` topics only, and"
                    " consumer groups (if they use one) named `analysts.…`"
                ),
                "security": [{"$ref": f"#/components/securitySchemes/{CLIENT_CERTIFICATE}"}],
            },
        },
        "channels": channels,
        "components": {
            "messages": messages,
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                CLIENT_CERTIFICATE: {
                    "type": "X509",
                    "description": (
                        "mutual TLS: the client presents its KafkaUser's certificate and key (user.crt, user.key of"
                        " the Secret Strimzi writes beside the KafkaUser) and trusts the cluster CA (ca.crt of"
                        " `lrs-cluster-ca-cert`). The LRS services and `docs/analyst_quickstart.py` take them from"
                        " KAFKA_SECURITY_PROTOCOL=SSL, KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE"
                    ),
                }
            },
        },
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


def _more_of(schema: Json) -> list[str]:
    """The paragraphs of an event's description after its summary (what it counts, when it is sent again)."""
    paragraphs = str(schema.get("description", "")).split("\n\n")[1:]
    return [line for paragraph in paragraphs for line in (" ".join(paragraph.split()), "")]


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


def _event_links(events: tuple[str, ...]) -> str:
    return ", ".join(
        f"[`{event_type}`](#{event_type.replace('.', '')}){_SANDPIT_ONLY if _in_sandpit_only(event_type) else ''}"
        for event_type in events
    )


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
        unconsumed = f" ({UNCONSUMED_NOTE})" if topic.name in UNCONSUMED_TOPICS else ""
        lines.append(
            f"| `{topic.name}` | {_cell(topic.key)} | {topic.partitions} | {topic.retention}"
            f" | `{topic.dead_letters}`{unconsumed} | {_event_links(live_events(topic))} |"
        )
    lines += [
        "",
        "### The Sandpit's topics",
        "",
        "The Sandpit (decision 0060) runs on the same brokers. Every topic it writes and every dead-letter topic of its"
        " consumers carries the prefix `sandpit.`, with the live topic's key and partitions; they are kept 30 days"
        " (compacted ones are compacted). It reads the live learner log and qualification catalogue as they are and"
        " never writes to them, so its consumers of those park on `sandpit.<topic>.dlq`. It has no copy of the"
        " reporting topics, and nothing live reads a `sandpit.` topic. Tagged `sandpit` in `docs/asyncapi.json`.",
        "",
        "| live topic | the Sandpit's topic | retention | dead letters (30 days) | events |",
        "|---|---|---|---|---|",
    ]
    for live, topic in sandpit_topics():
        events = sandpit_events(live)
        if live.name in SHARED_TOPICS:
            name, retention, what = "none: it reads the live topic", "(live's)", "none written by the Sandpit"
        else:
            name, retention = f"`{topic.name}`", topic.retention
            what = _event_links(events) if events else f"none: {WRITTEN_BY_NO_SANDPIT_SERVICE[live.name]}"
        lines.append(f"| `{live.name}` | {name} | {retention} | `{topic.dead_letters}` | {what} |")
    lines += [
        "",
        "## Brokers",
        "",
        "| server | host | protocol | security | what |",
        "|---|---|---|---|---|",
    ]
    schemes = document["components"].get("securitySchemes", {})
    for name, server in document["servers"].items():
        used = [schemes[str(ref["$ref"]).rsplit("/", 1)[-1]] for ref in server.get("security", [])]
        security = ", ".join(f"`{scheme['type']}`, {scheme['description']}" for scheme in used)
        lines.append(
            f"| `{name}` | `{server['host']}` | `{server['protocol']}` | {_cell(security or 'none')}"
            f" | {_cell(server['description'])} |"
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
        "A consumer parks a message it cannot apply on `<topic>.dlq` (a Sandpit consumer on `sandpit.<topic>.dlq`,"
        " a live topic it reads included), key and value unchanged (the value left out when too large to send again:"
        " `lrs-value-omitted`), with these headers:",
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
                *_more_of(schemas[message["title"]]),
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
