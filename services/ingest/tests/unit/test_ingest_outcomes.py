"""The outcome consumer's pure parts and its handling of a poll, with fakes for the database and Kafka."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition

from ingest.outcomes import (
    Ignored,
    OutcomeConsumer,
    Poison,
    StartAtFirstUndecidedBatch,
    classify,
    dead_letter_headers,
    next_offsets,
    start_timestamp_ms,
)
from ingest.service import DecisionSignal
from lrs_contracts.batch import BatchSubmissionCompleted, JobType
from lrs_contracts.envelope import Envelope
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchRecordsDecided, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap

BATCH_ID = uuid.uuid4()
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    value: bytes | None
    offset: int = 0
    partition: int = 0
    topic: str = "lrs.batch.outcomes.v1"
    key: bytes | None = b"key"


def completed() -> BatchCompleted:
    return BatchCompleted(
        batch_id=BATCH_ID,
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="a@example.org",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )


def decided() -> BatchRecordsDecided:
    outcome = RecordOutcome(line=1, status=RecordStatus.ACCEPTED, uln_masked="******0043")
    return BatchRecordsDecided(batch_id=BATCH_ID, ao_id="RN5133", chunk_index=0, outcomes=(outcome,))


def encoded(payload: Any) -> bytes:
    return encode(wrap(payload, source="validation", correlation_id=str(BATCH_ID)))


def test_outcome_events_are_read_and_anything_else_is_ignored_or_poison() -> None:
    assert classify(encoded(completed())) == completed()
    assert classify(encoded(decided())) == decided()
    other = Envelope.model_validate(
        {**wrap(completed(), source="x", correlation_id="c").model_dump(), "event_type": "lrs.future.thing.v1"}
    )
    assert isinstance(classify(encode(other)), Poison)
    assert isinstance(classify(b"{not json"), Poison)
    assert isinstance(classify(None), Poison)
    assert isinstance(classify(b'{"event_id": 1}'), Poison)


def test_a_registered_event_of_another_kind_is_ignored() -> None:
    marker = BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id="RN5133", record_count=1, chunk_count=1)
    assert classify(encoded(marker)) == Ignored("lrs.batch.submission.completed.v1")


def test_offsets_committed_are_one_past_the_last_message_of_each_partition() -> None:
    first, second = TopicPartition("t", 0), TopicPartition("t", 3)
    batches = {first: [Message(b"", offset=5), Message(b"", offset=6)], second: [Message(b"", offset=41)]}
    assert next_offsets(batches) == {first: 7, second: 42}  # type: ignore[arg-type]


def test_a_dead_letter_says_where_it_came_from_and_why() -> None:
    headers = dict(dead_letter_headers(Message(b"x", offset=9, partition=2), "boom"))  # type: ignore[arg-type]
    assert headers == {
        "lrs_error": b"boom",
        "lrs_original_topic": b"lrs.batch.outcomes.v1",
        "lrs_original_partition": b"2",
        "lrs_original_offset": b"9",
    }


@dataclass
class FakeRepository:
    applied: list[list[Any]] = field(default_factory=list)

    async def apply_outcomes(self, events: list[Any]) -> None:
        self.applied.append(list(events))


@dataclass
class FakePublisher:
    sent: list[tuple[str, bytes, list[bytes], Any]] = field(default_factory=list)

    async def publish(self, topic: str, key: bytes, values: Any, headers: Any = ()) -> None:
        self.sent.append((topic, key, list(values), headers))


async def test_one_poll_is_stored_in_one_go_and_poison_goes_to_the_dlq() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    consumer = OutcomeConsumer("kafka:9092", "group", repository, publisher, DecisionSignal())  # type: ignore[arg-type]
    messages = [
        Message(encoded(decided()), offset=1),
        Message(b"garbage", offset=2),
        Message(encoded(completed()), offset=3),
    ]
    await consumer.handle(messages)  # type: ignore[arg-type]
    assert repository.applied == [[decided(), completed()]]
    ((topic, key, values, headers),) = publisher.sent
    assert (topic, key, values) == ("lrs.batch.outcomes.v1.dlq", b"key", [b"garbage"])
    assert dict(headers)["lrs_original_offset"] == b"2"


async def test_a_poll_of_nothing_for_the_view_touches_nothing() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    consumer = OutcomeConsumer("kafka:9092", "group", repository, publisher, DecisionSignal())  # type: ignore[arg-type]
    marker = BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id="RN5133", record_count=1, chunk_count=1)
    await consumer.handle([Message(encoded(marker))])  # type: ignore[list-item]
    assert repository.applied == [] and publisher.sent == []


def test_a_new_group_starts_before_the_oldest_undecided_batch_or_just_before_now() -> None:
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    oldest = datetime(2025, 5, 30, 8, 0, tzinfo=UTC)
    margin = timedelta(minutes=15)
    assert start_timestamp_ms(oldest, now, margin) == int((oldest - margin).timestamp() * 1000)
    assert start_timestamp_ms(None, now, margin) == int((now - margin).timestamp() * 1000)
    assert start_timestamp_ms(now + timedelta(hours=1), now, margin) == int((now - margin).timestamp() * 1000)


@dataclass(frozen=True)
class OffsetAndTimestamp:
    offset: int
    timestamp: int


@dataclass
class FakeConsumer:
    committed_offsets: dict[TopicPartition, int | None]
    by_time: dict[TopicPartition, OffsetAndTimestamp | None]
    seeks: dict[TopicPartition, int | str] = field(default_factory=dict)
    asked_since: dict[TopicPartition, int] = field(default_factory=dict)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.committed_offsets[partition]

    async def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[TopicPartition, Any]:
        self.asked_since.update(timestamps)
        return {partition: self.by_time[partition] for partition in timestamps}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset

    async def seek_to_end(self, partition: TopicPartition) -> None:
        self.seeks[partition] = "end"


async def test_only_partitions_the_group_never_committed_are_moved() -> None:
    committed, found, nothing = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)
    consumer = FakeConsumer(
        committed_offsets={committed: 7, found: None, nothing: None},
        by_time={found: OffsetAndTimestamp(40, 0), nothing: None},
    )

    async def since() -> int:
        return 1_700_000_000_000

    await StartAtFirstUndecidedBatch(consumer, since).on_partitions_assigned({committed, found, nothing})  # type: ignore[arg-type]
    assert consumer.seeks == {found: 40, nothing: "end"}
    assert consumer.asked_since == {found: 1_700_000_000_000, nothing: 1_700_000_000_000}
