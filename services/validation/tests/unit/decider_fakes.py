"""What the decider's unit tests run it on: Kafka records of a batch on one partition, a retry policy that does not
wait, a key store without keys and a dead-letter office whose parked messages are the test's to see."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.dead_letters import Headers
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_SUBMITTED
from lrs_platform.consumer import RetryPolicy
from lrs_platform.keyring import KeyLookup
from lrs_platform.parking import DeadLetterOffice
from validation.decider import Decider

AO = "RN5001"
PARTITION = TopicPartition(BATCH_SUBMITTED.name, 2)
NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0)


@dataclass(frozen=True)
class Record:
    """A Kafka message as aiokafka's consumer hands it out."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: int = 0


def batch_records(batch_id: uuid.UUID, first_offset: int, record: SubmittedRecord | None = None) -> list[Record]:
    """A batch of one record (`record`, or a learner's grade) as ingest submits it: its start, its one chunk and its
    end marker, at `first_offset` and the two offsets after it on PARTITION."""
    record = record or SubmittedRecord(
        line=1, action="Create", uln="3000000002", qualification_number="60303049", grade="5"
    )
    payloads: list[Contract] = [
        BatchSubmitted(
            batch_id=batch_id,
            ao_id=AO,
            header=BatchHeader(awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org"),
            format=BatchFormat.JSON,
            record_count=1,
            content_sha256="0" * 64,
            size_bytes=1,
            submitted_by=f"ao:{AO}",
            received_at=datetime(2025, 3, 1, tzinfo=UTC),
        ),
        BatchRecordsSubmitted(batch_id=batch_id, ao_id=AO, chunk_index=0, records=(record,)),
        BatchSubmissionCompleted(batch_id=batch_id, ao_id=AO, record_count=1, chunk_count=1),
    ]
    return [
        Record(PARTITION.topic, PARTITION.partition, first_offset + index, AO.encode(), value)
        for index, value in enumerate(encode(wrap(p, source="ingest", correlation_id="c")) for p in payloads)
    ]


@dataclass
class FakeBatch:
    """A record batch that holds `capacity` messages."""

    capacity: int = 1_000
    messages: list[tuple[bytes, bytes]] = field(default_factory=list)

    def append(self, *, timestamp: None, key: bytes, value: bytes) -> object | None:
        if len(self.messages) == self.capacity:
            return None
        self.messages.append((key, value))
        return object()


class NoKeys:
    """A key store without keys: the records these tests decide carry no sealed details."""

    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        return {}

    async def destroy(self, name: str) -> bool:
        return False


async def no_publisher(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    raise AssertionError("the decider publishes dead letters itself, in its own transaction")


def decider(
    decisions: Any,
    producer: Any,
    parked: Any,
    *,
    consumer: Any = None,
    reference: Any = None,
    keys: Any = None,
    maintenance: Any = None,
) -> Decider:
    """A decider on the fakes given, its parked messages kept by `parked`; it retries at once."""
    office = DeadLetterOffice(parked, no_publisher)
    return Decider(
        consumer,
        producer,
        "validation",
        reference,
        decisions,
        office,
        NO_WAIT,
        registry=reference,
        keys=keys or NoKeys(),
        maintenance=maintenance,
    )


async def offer_all(target: Decider, records: list[Record]) -> None:
    for record in records:
        await target._offer(PARTITION, record)
