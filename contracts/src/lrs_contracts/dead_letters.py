"""The dead-letter contract: what a message parked on `<topic>.dlq` carries, declared once, here.

A consumer that cannot apply a message (it fails the same way every time) copies it, key and value
unchanged, to its topic's dead-letter topic with these Kafka headers, and goes on with the next one. A
value too large to copy (a foreign producer's compressed batch can hold one the LRS's producers may not
send again) is left out: the copy's value is empty and `lrs-value-omitted` gives its size. The service's
parked table keeps every message whole, so `lrs dlq retry|skip` work on it as on any other.

| header | value |
|---|---|
| `lrs-error` | why, at most 1,000 bytes of UTF-8, never a value of the message: `invalid: <field>: <what>` for a message that fails its contract, naming the field (parked at its first attempt: `invalid: grade: Field required`, or `invalid: data.grade: Field required` where the reader checks the envelope whole), `<ExceptionClass>: <message>` for any other failure (after its attempts), `unknown event type '<type>'` for an event of a type the contracts do not know (a newer release's, met by an older consumer: parked at its first attempt, by every consumer), or the consumer's own words for another message it will not apply |
| `lrs-original-topic` | the topic the message was read from |
| `lrs-original-partition` | its partition (decimal) |
| `lrs-original-offset` | its offset (decimal) |
| `lrs-consumer` | who parked it: `<service>.<consumer>` (`ingest.batch-view`, `validation.decider`), or the service's name where it has one consumer (`notifier`, `reporting`) |
| `lrs-attempts` | how many times it was tried before it was parked (decimal) |
| `lrs-parked-at` | when, ISO-8601 UTC |
| `lrs-event-id` | the envelope's `event_id`, when the value was readable enough to say (else absent) |
| `lrs-event-type` | the envelope's `event_type`, likewise |
| `lrs-value-omitted` | only on a copy whose value was left out (empty) because the message was too large to send again: the original value's size in bytes (decimal); the service's parked table keeps the value |

Build them with `DeadLetter.headers()`, read them back with `DeadLetter.from_headers()`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from lrs_contracts.envelope import EVENT_TYPE_PATTERN, Contract, Envelope
from lrs_contracts.identifiers import is_uuid
from lrs_contracts.registry import EVENT_TYPES

ERROR = "lrs-error"
ORIGINAL_TOPIC = "lrs-original-topic"
ORIGINAL_PARTITION = "lrs-original-partition"
ORIGINAL_OFFSET = "lrs-original-offset"
CONSUMER = "lrs-consumer"
ATTEMPTS = "lrs-attempts"
PARKED_AT = "lrs-parked-at"
EVENT_ID = "lrs-event-id"
EVENT_TYPE = "lrs-event-type"
VALUE_OMITTED = "lrs-value-omitted"

HEADER_NAMES = (
    ERROR,
    ORIGINAL_TOPIC,
    ORIGINAL_PARTITION,
    ORIGINAL_OFFSET,
    CONSUMER,
    ATTEMPTS,
    PARKED_AT,
    EVENT_ID,
    EVENT_TYPE,
    VALUE_OMITTED,
)
OPTIONAL_HEADER_NAMES = (EVENT_ID, EVENT_TYPE, VALUE_OMITTED)
"""The headers a dead letter carries only when there is something to say (the rest are always there)."""

MAX_ERROR_BYTES = 1_000
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
DEAD_LETTER_SUFFIX = ".dlq"

Headers = list[tuple[str, bytes]]


def dead_letter_topic(topic: str) -> str:
    """`<topic>.dlq`: where poison messages of `topic` go (same key, same partition count)."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def error_text(error: BaseException) -> str:
    """`<ExceptionClass>: <message>`, cut to fit the `lrs-error` header; for a validation error (a message
    that fails its contract) `invalid: ` and the fields with what is wrong with them, never the values
    (which may be personal data)."""
    if isinstance(error, ValidationError):
        return _cut(f"{INVALID}{validation_issues(error)}")
    detail = str(error)
    return _cut(f"{type(error).__name__}: {detail}" if detail else type(error).__name__)


INVALID = "invalid: "
"""How `lrs-error` starts for a message that fails its contract: parked at its first attempt."""


def unknown_event_type(event_type: str) -> str:
    """The `lrs-error` of an event of a type the contracts do not know (a newer release's, met by an older
    consumer): parked at its first attempt, as every consumer parks it."""
    return _cut(f"unknown event type {event_type[:200]!r}")


def validation_issues(error: ValidationError) -> str:
    """`where: what` of its first five issues, never an input (values may be personal data); an issue of the
    whole message (not JSON at all) has no location, so only its words."""
    issues = [
        f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" if issue["loc"] else issue["msg"]
        for issue in error.errors()[:5]
    ]
    return "; ".join(issues)


def _cut(text: str) -> str:
    """At most MAX_ERROR_BYTES of UTF-8, with NUL spelled out (PostgreSQL text refuses it)."""
    clean = text.replace("\x00", "\\0")
    encoded = clean.encode()
    if len(encoded) <= MAX_ERROR_BYTES:
        return clean
    return encoded[:MAX_ERROR_BYTES].decode(errors="ignore")


def peek_event(value: bytes | None) -> tuple[str | None, str | None]:
    """The envelope's (event_id, event_type) if the value is a JSON object carrying them, each only as the
    envelope spells it (a UUID, an event type's pattern): a poison's own text (a NUL, say) must never stop
    it from being parked."""
    if not value:
        return None, None
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(document, dict):
        return None, None
    event_id, event_type = document.get("event_id"), document.get("event_type")
    return (
        event_id if isinstance(event_id, str) and is_uuid(event_id) else None,
        event_type if isinstance(event_type, str) and _EVENT_TYPE.fullmatch(event_type) else None,
    )


def learners_named(payload: Contract) -> frozenset[str]:
    """Every ULN an event names (`uln`, `master_uln`, `merged_uln`, ..., at any depth): a corrected copy of a
    parked event must name the same ones, or it would put a fact on another learner's record, for good."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                if (name == "uln" or name.endswith("_uln")) and isinstance(inner, str):
                    found.add(inner)
                else:
                    walk(inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                walk(inner)

    walk(payload.model_dump(mode="json"))
    return frozenset(found)


@dataclass(frozen=True)
class DeadLetter:
    """Why and from where a message was parked: the `lrs-*` headers of a dead-letter message."""

    error: str
    original_topic: str
    original_partition: int
    original_offset: int
    consumer: str
    attempts: int
    parked_at: datetime
    event_id: str | None = None
    event_type: str | None = None
    value_omitted_bytes: int | None = None
    """The original value's size when the copy on `<topic>.dlq` leaves it out (too large to send again)."""

    @staticmethod
    def of(
        *,
        error: str,
        topic: str,
        partition: int,
        offset: int,
        consumer: str,
        attempts: int,
        value: bytes | None,
        parked_at: datetime | None = None,
    ) -> DeadLetter:
        """A dead letter for a message, with the event's id and type when its value reveals them."""
        event_id, event_type = peek_event(value)
        return DeadLetter(
            error=_cut(error),
            original_topic=topic,
            original_partition=partition,
            original_offset=offset,
            consumer=consumer,
            attempts=attempts,
            parked_at=parked_at or datetime.now(UTC),
            event_id=event_id,
            event_type=event_type,
        )

    def headers(self) -> Headers:
        headers = [
            (ERROR, _cut(self.error).encode()),
            (ORIGINAL_TOPIC, self.original_topic.encode()),
            (ORIGINAL_PARTITION, str(self.original_partition).encode()),
            (ORIGINAL_OFFSET, str(self.original_offset).encode()),
            (CONSUMER, self.consumer.encode()),
            (ATTEMPTS, str(self.attempts).encode()),
            (PARKED_AT, self.parked_at.astimezone(UTC).isoformat().encode()),
        ]
        if self.event_id is not None:
            headers.append((EVENT_ID, self.event_id.encode()))
        if self.event_type is not None:
            headers.append((EVENT_TYPE, self.event_type.encode()))
        if self.value_omitted_bytes is not None:
            headers.append((VALUE_OMITTED, str(self.value_omitted_bytes).encode()))
        return headers

    def without_value(self, value_bytes: int) -> DeadLetter:
        """The letter of a copy that leaves out the message's value (`value_bytes` long)."""
        return replace(self, value_omitted_bytes=value_bytes)

    @staticmethod
    def from_headers(headers: Iterable[tuple[str, bytes]]) -> DeadLetter:
        """Reads the `lrs-*` headers back; raises ValueError when a required one is missing or malformed."""
        found = {name: value.decode(errors="replace") for name, value in headers if name in HEADER_NAMES}
        try:
            return DeadLetter(
                error=found[ERROR],
                original_topic=found[ORIGINAL_TOPIC],
                original_partition=int(found[ORIGINAL_PARTITION]),
                original_offset=int(found[ORIGINAL_OFFSET]),
                consumer=found[CONSUMER],
                attempts=int(found[ATTEMPTS]),
                parked_at=datetime.fromisoformat(found[PARKED_AT]),
                event_id=found.get(EVENT_ID),
                event_type=found.get(EVENT_TYPE),
                value_omitted_bytes=int(found[VALUE_OMITTED]) if VALUE_OMITTED in found else None,
            )
        except KeyError as missing:
            raise ValueError(f"not a dead letter: header {missing} missing") from None


KEPT_BY_A_CORRECTED_COPY = (
    ("event_type",),
    ("occurred_at",),
    ("correlation_id",),
    ("data", "achievement_id"),
    ("data", "key", "ao_id"),
    ("data", "key", "uln"),
    ("data", "key", "qualification_number"),
    ("data", "key", "award_date"),
    ("data", "provenance", "batch_id"),
    ("data", "provenance", "line"),
)
"""What a corrected copy keeps of the parked message: its type, time and correlation id, and an achievement's id,
key and provenance (whose batch and line the PLR's history names), where the parked bytes give them readably."""


def fields_changed(
    head: bytes | None,
    replacement: bytes,
    kept: Iterable[tuple[str, ...]] = KEPT_BY_A_CORRECTED_COPY,
    also_broken: Iterable[tuple[str, ...]] = (),
) -> list[str]:
    """The fields of `kept` (dotted: `data.provenance.batch_id`) the replacement changes: those the parked bytes
    hold and read (no issue of their contract is about them, and a type the contracts know: what the poison got
    wrong is what a copy mends) that the copy spells otherwise or leaves out. Read leniently, as JSON: a poison
    ("invalid: data.grade: Field required") still says when and from which batch it came. Nothing when the parked
    bytes are no JSON object. `also_broken`: fields the reader refused for its own reasons (the projector's columns
    cannot hold them), which the copy mends as well."""
    parked, copy = _json_object(head), _json_object(replacement)
    if parked is None:
        return []
    broken = [*_broken_fields(parked), *also_broken]
    changed = []
    for path in kept:
        if any(path[: len(where)] == where or where[: len(path)] == path for where in broken):
            continue
        held = _field(parked, path)
        if held is not _ABSENT and _field(copy or {}, path) != held:
            changed.append(".".join(path))
    return changed


_ABSENT = object()


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    try:
        document = json.loads(value or b"")
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _field(document: dict[str, Any], path: tuple[str, ...]) -> object:
    found: object = document
    for name in path:
        if not isinstance(found, dict) or name not in found:
            return _ABSENT
        found = found[name]
    return found


def _broken_fields(document: dict[str, Any]) -> list[tuple[str, ...]]:
    """Where the parked message fails its contract (its envelope, and its payload when its type is known): an
    `event_type` the contracts do not know is itself what a copy mends."""
    broken: list[tuple[str, ...]] = []
    try:
        Envelope.model_validate(document)
    except ValidationError as error:
        broken += [tuple(str(part) for part in issue["loc"]) for issue in error.errors()]
    event_type = document.get("event_type")
    model = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        broken.append(("event_type",))
    elif isinstance(data := document.get("data"), dict):
        try:
            model.model_validate(data)
        except ValidationError as error:
            broken += [("data", *(str(part) for part in issue["loc"])) for issue in error.errors()]
    return broken
