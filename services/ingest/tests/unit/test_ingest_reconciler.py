"""The batch view's reconciler with a fake topic and repository: what it reads, applies and remembers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition

from ingest.reconciler import BatchViewReconciler
from ingest.repository import WaitingBatch
from ingest.service import DecisionSignal
from lrs_contracts.batch import JobType
from lrs_contracts.envelope import utc_now
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchValidationStarted
from lrs_contracts.registry import encode, wrap

TOPIC = "lrs.batch.outcomes.v1"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@dataclass(frozen=True)
class Message:
    offset: int
    key: bytes
    value: bytes
    timestamp: int


@dataclass(frozen=True)
class OffsetAndTimestamp:
    offset: int
    timestamp: int


@dataclass
class Topic:
    logs: dict[TopicPartition, list[Message]] = field(default_factory=lambda: {P0: [], P1: []})
    read: list[tuple[TopicPartition, int]] = field(default_factory=list)  # every message handed out

    def append(self, partition: TopicPartition, key: uuid.UUID, value: bytes, at: datetime) -> None:
        log = self.logs[partition]
        log.append(Message(len(log), str(key).encode(), value, int(at.timestamp() * 1000)))


@dataclass
class FakeConsumer:
    topic: Topic
    positions: dict[TopicPartition, int] = field(default_factory=dict)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(partitions, 0)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {partition: len(self.topic.logs[partition]) for partition in partitions}

    async def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[TopicPartition, Any]:
        return {
            partition: next(
                (OffsetAndTimestamp(m.offset, m.timestamp) for m in self.topic.logs[partition] if m.timestamp >= since),
                None,
            )
            for partition, since in timestamps.items()
        }

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Message]]:
        polled = {}
        for partition in partitions:
            messages = self.topic.logs[partition][self.positions[partition] : self.positions[partition] + 2]
            if messages:
                polled[partition] = messages
                self.positions[partition] += len(messages)
                self.topic.read.extend((partition, message.offset) for message in messages)
        return polled


@dataclass
class FakeRepository:
    waiting: list[WaitingBatch] = field(default_factory=list)
    applied: list[list[Any]] = field(default_factory=list)
    refuse: set[uuid.UUID] = field(default_factory=set)
    # batches the outcome consumer stores while a pass reads the topic
    stored_during_pass: set[uuid.UUID] = field(default_factory=set)

    async def waiting_batches(
        self, *, older_than: timedelta, newer_than: timedelta, limit: int, parked_by: str
    ) -> list[WaitingBatch]:
        assert parked_by == "ingest.batch-view"  # batches it parked a message of are left to operators
        waiting = list(self.waiting)
        self.waiting = [batch for batch in self.waiting if batch.batch_id not in self.stored_during_pass]
        return waiting

    async def apply_outcomes(self, events: list[Any]) -> None:
        if events[0].batch_id in self.refuse:
            raise ValueError("PostgreSQL refuses a value of this batch")
        self.applied.append(list(events))
        decided = {event.batch_id for event in events if isinstance(event, BatchCompleted)}
        self.waiting = [batch for batch in self.waiting if batch.batch_id not in decided]


def started(batch_id: uuid.UUID) -> bytes:
    return encode(
        wrap(BatchValidationStarted(batch_id=batch_id, ao_id="RN5133", record_count=1), source="v", correlation_id="c")
    )


def completed(batch_id: uuid.UUID) -> bytes:
    now = utc_now()
    event = BatchCompleted(
        batch_id=batch_id,
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="a@example.org",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=now,
        decided_at=now,
    )
    return encode(wrap(event, source="v", correlation_id="c"))


def reconciler(
    topic: Topic,
    repository: FakeRepository,
    consumer_passed: dict[TopicPartition, int] | None = None,
    **options: Any,
) -> BatchViewReconciler:
    """`consumer_passed`: the outcome consumer's committed offsets; by default it has passed every message."""

    async def partitions(_: str) -> list[TopicPartition]:
        return [P0, P1]

    async def passed() -> dict[TopicPartition, int]:
        if consumer_passed is None:
            return {partition: len(log) for partition, log in topic.logs.items()}
        return consumer_passed

    return BatchViewReconciler(
        "kafka:9092",
        repository,  # type: ignore[arg-type]
        DecisionSignal(),
        stale_after=60,
        interval=1,
        consumer_passed=passed,
        consumer_factory=lambda *_, **__: FakeConsumer(topic),
        partitions_of=partitions,
        **options,
    )


NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=2)


async def test_a_waiting_batch_is_made_final_from_its_events_on_the_topic() -> None:
    lost, other = uuid.uuid4(), uuid.uuid4()
    topic = Topic()
    topic.append(P0, other, b"not even an envelope", LONG_AGO)  # older than the margin: never read
    topic.append(P0, lost, started(lost), NOW - timedelta(minutes=2))
    topic.append(P0, lost, completed(lost), NOW - timedelta(minutes=1))
    topic.append(P1, other, completed(other), NOW - timedelta(minutes=3))
    repository = FakeRepository([WaitingBatch(lost, NOW - timedelta(minutes=2))])

    assert await reconciler(topic, repository).reconcile() == 1

    assert [[type(event).__name__ for event in events] for events in repository.applied] == [
        ["BatchValidationStarted", "BatchCompleted"]
    ]
    assert (P0, 0) not in topic.read


async def test_a_batch_not_decided_yet_costs_the_next_pass_only_the_new_messages() -> None:
    waiting = uuid.uuid4()
    topic = Topic()
    for _ in range(3):
        topic.append(P0, uuid.uuid4(), b"{}", NOW - timedelta(minutes=1))
    repository = FakeRepository([WaitingBatch(waiting, NOW - timedelta(minutes=2))])
    pass_ = reconciler(topic, repository)

    assert await pass_.reconcile() == 0
    topic.read.clear()
    topic.append(P1, waiting, completed(waiting), NOW)
    assert await pass_.reconcile() == 1

    assert topic.read == [(P1, 0)]
    assert repository.waiting == []


async def test_a_batch_whose_events_cannot_be_stored_is_searched_again() -> None:
    stuck = uuid.uuid4()
    topic = Topic()
    topic.append(P0, stuck, completed(stuck), NOW - timedelta(minutes=1))
    repository = FakeRepository([WaitingBatch(stuck, NOW - timedelta(minutes=2))], refuse={stuck})
    pass_ = reconciler(topic, repository)

    assert await pass_.reconcile() == 0
    repository.refuse.clear()  # an operator fixed what PostgreSQL refused
    assert await pass_.reconcile() == 1


async def test_a_batch_the_outcome_consumer_stores_during_the_pass_is_not_decoded_and_stored_again() -> None:
    stored, lost = uuid.uuid4(), uuid.uuid4()
    topic = Topic()
    topic.append(P0, stored, completed(stored), NOW - timedelta(minutes=1))
    topic.append(P1, lost, completed(lost), NOW - timedelta(minutes=1))
    waiting = [WaitingBatch(stored, NOW - timedelta(minutes=2)), WaitingBatch(lost, NOW - timedelta(minutes=2))]
    repository = FakeRepository(waiting, stored_during_pass={stored})

    assert await reconciler(topic, repository).reconcile() == 1

    assert [[event.batch_id for event in events] for events in repository.applied] == [[lost]]


async def test_what_the_outcome_consumer_has_not_passed_yet_is_left_to_it() -> None:
    behind, missed = uuid.uuid4(), uuid.uuid4()
    topic = Topic()
    topic.append(P0, missed, completed(missed), NOW - timedelta(minutes=1))
    topic.append(P0, behind, started(behind), NOW - timedelta(minutes=1))
    topic.append(P0, behind, completed(behind), NOW - timedelta(minutes=1))
    waiting = [WaitingBatch(behind, NOW - timedelta(minutes=2)), WaitingBatch(missed, NOW - timedelta(minutes=2))]
    repository = FakeRepository(waiting)
    consumer_passed = {P0: 1}  # the group never committed on P1
    pass_ = reconciler(topic, repository, consumer_passed)

    assert await pass_.reconcile() == 1
    assert [[event.batch_id for event in events] for events in repository.applied] == [[missed]]

    # the consumer passed the rest without storing it (a restored database, say): the next pass reads on
    topic.read.clear()
    consumer_passed[P0] = 3
    assert await pass_.reconcile() == 1
    assert [[event.batch_id for event in events] for events in repository.applied[1:]] == [[behind, behind]]
    assert min(offset for _, offset in topic.read) == 1


async def test_a_batch_with_a_message_the_batch_view_cannot_read_is_left_alone_and_the_others_go_on() -> None:
    """The batch view parks that message and holds the batch's later ones: completing the batch from them
    here finished it without the parked chunk (any error reading it, not only a ValueError, skips it)."""
    unreadable, fine = uuid.uuid4(), uuid.uuid4()
    topic = Topic()
    topic.append(P0, unreadable, b"not even an envelope", NOW - timedelta(minutes=2))
    topic.append(P0, unreadable, completed(unreadable), NOW - timedelta(minutes=1))
    topic.append(P1, fine, completed(fine), NOW - timedelta(minutes=1))
    repository = FakeRepository(
        [WaitingBatch(unreadable, NOW - timedelta(minutes=3)), WaitingBatch(fine, NOW - timedelta(minutes=3))]
    )

    assert await reconciler(topic, repository).reconcile() == 1

    assert [[event.batch_id for event in events] for events in repository.applied] == [[fine]]


async def test_a_pass_stores_what_it_found_as_it_reads_not_all_at_its_end() -> None:
    """A pass may find gigabytes (a thousand batches of 10,000 records): it holds about `most_bytes_held`."""
    lost = [uuid.uuid4() for _ in range(6)]
    topic = Topic()
    for batch_id in lost:
        topic.append(P0, batch_id, started(batch_id), NOW - timedelta(minutes=2))
        topic.append(P0, batch_id, completed(batch_id), NOW - timedelta(minutes=1))
    repository = FakeRepository([WaitingBatch(batch_id, NOW - timedelta(minutes=3)) for batch_id in lost])
    read_when_stored: list[int] = []
    apply = repository.apply_outcomes

    async def noting_what_was_read(events: list[Any]) -> None:
        read_when_stored.append(len(topic.read))
        await apply(events)

    repository.apply_outcomes = noting_what_was_read  # type: ignore[method-assign]
    one_batch = len(started(lost[0])) + len(completed(lost[0]))

    assert await reconciler(topic, repository, most_bytes_held=one_batch).reconcile() == 6

    # a poll hands out two messages, one batch's: each is stored before the next poll
    assert read_when_stored == [2, 4, 6, 8, 10, 12]
    assert [[event.batch_id for event in events] for events in repository.applied] == [[b, b] for b in lost]


async def test_a_pass_postgresql_ended_leaves_what_it_read_to_be_read_again() -> None:
    lost = uuid.uuid4()
    topic = Topic()
    topic.append(P0, lost, completed(lost), NOW - timedelta(minutes=1))
    repository = FakeRepository([WaitingBatch(lost, NOW - timedelta(minutes=2))])
    apply = repository.apply_outcomes

    async def away(events: list[Any]) -> None:
        raise ConnectionRefusedError

    repository.apply_outcomes = away  # type: ignore[method-assign]
    pass_ = reconciler(topic, repository)
    with pytest.raises(ConnectionRefusedError):
        await pass_.reconcile()

    repository.apply_outcomes = apply  # type: ignore[method-assign]
    assert await pass_.reconcile() == 1
    assert repository.waiting == []
