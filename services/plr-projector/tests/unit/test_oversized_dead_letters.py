"""The projector's dead-letter outbox: an event too large to send again goes to its DLQ without its value."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from lrs_contracts.dead_letters import DeadLetter, Headers
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.kafka import MAX_MESSAGE_BYTES
from plr_projector.consumer import Runner, Topics
from plr_projector.projection import Position
from plr_projector.store import ParkedRow


@dataclass
class SizeCheckingProducer:
    """Refuses a record as aiokafka's producer does."""

    sent: list[tuple[str, bytes | None, bytes | None, Headers]] = field(default_factory=list)

    async def send_and_wait(self, topic: str, *, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
        if size > MAX_MESSAGE_BYTES:
            raise MessageSizeTooLargeError(f"The message is {size} bytes when serialized")
        self.sent.append((topic, key, value, headers))


@dataclass
class PendingDeadLetters:
    """The read model's `parked` rows waiting for their copy on the DLQ."""

    schema: str
    pending: list[ParkedRow]

    async def pending_dead_letters(self, connection: Any, limit: int = 500) -> list[ParkedRow]:
        return self.pending[:limit]

    async def mark_dead_letters_published(self, connection: Any, positions: Sequence[Position]) -> None:
        self.pending = [row for row in self.pending if row.position not in positions]


class Pool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        yield None


async def test_an_event_too_large_to_send_again_goes_to_its_dlq_without_its_value() -> None:
    """Its copy was refused for ever, and the projector, retrying it before each next batch, stopped with it."""
    oversized = b"x" * (MAX_MESSAGE_BYTES - 160)
    row = ParkedRow(
        topic=PLR_EVENTS.name,
        partition=3,
        offset=41,
        park_key="1000000043",
        reason="error",
        error="ValueError: not JSON",
        event_id=None,
        event_type=None,
        message_key=b"1000000043",
        value=oversized,
        kafka_timestamp_ms=0,
        attempts=1,
        parked_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    model = PendingDeadLetters(f"plr_{uuid.uuid4().hex[:8]}", [row])
    producer = SizeCheckingProducer()
    runner = Runner(
        "live",
        model,  # type: ignore[arg-type]
        Pool(),
        "127.0.0.1:1",
        Topics(),
        max_batch_records=10,
        poll_timeout_ms=10,
        dead_letter_producer=producer,
    )

    async with asyncio.timeout(5):
        await runner.publish_dead_letters()

    [(topic, key, value, headers)] = producer.sent
    assert (topic, key, value) == (PLR_EVENTS.dead_letters, b"1000000043", b"")
    letter = DeadLetter.from_headers(headers)
    assert (letter.value_omitted_bytes, letter.original_offset) == (len(oversized), 41)
    assert model.pending == []
