"""For the consumers' tests of an event type the contracts do not know (a newer release's, met by an older pod):
such an event, and what a consumer's `PoisonGuard` parks of a poll, over the in-memory parked table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from libs.platform.tests.unit.test_consumer_guard import NO_WAIT, MemoryParked

from lrs_contracts.dead_letters import DeadLetter, Headers
from lrs_contracts.registry import EVENT_TYPES
from lrs_platform.consumer import Handler, Message, PoisonGuard
from lrs_platform.parking import DeadLetterOffice, ParkedRow

UNKNOWN_TYPE = "lrs.batch.quarantined.v1"
"""No contract has it: the event of a release after this one."""

assert UNKNOWN_TYPE not in EVENT_TYPES

WORDS = f"unknown event type '{UNKNOWN_TYPE}'"
"""Its `lrs-error`, as docs/events.md ("Dead letters") gives it and the PLR projector parks it."""


def of_an_unknown_type(known: bytes, event_type: str = UNKNOWN_TYPE) -> bytes:
    """An encoded event of a known type, `event_type` instead: a whole envelope, its payload as it was."""
    document: dict[str, Any] = orjson.loads(known)
    document["event_type"] = event_type
    if "event_type" in document["data"]:
        document["data"]["event_type"] = event_type
    return orjson.dumps(document)


async def parked_by(
    consumer: str, handler: Handler, messages: Sequence[Message]
) -> tuple[list[ParkedRow], list[DeadLetter]]:
    """What `consumer`'s guard parks of one poll of `messages` (rows by offset) and the dead letters it sends."""
    parked = MemoryParked()
    sent: list[DeadLetter] = []

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append(DeadLetter.from_headers(headers))

    guard = PoisonGuard(consumer, handler, DeadLetterOffice(parked, publish), NO_WAIT)  # type: ignore[arg-type]
    await guard.apply(messages)
    return sorted(parked.rows.values(), key=lambda row: (row.partition, row.offset)), sent
