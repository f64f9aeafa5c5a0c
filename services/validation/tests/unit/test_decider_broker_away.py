"""The decider waits out a broker away while it publishes a batch, and still stops when it is fenced.

A broker stopped for longer than the producer's request timeout fails the batch's Kafka transaction
(`KafkaTimeoutError` while a record batch waits for the one before it); aiokafka aborts the transaction once
the broker answers again and the producer is ready for the next. That is an outage like PostgreSQL's: the
decision is published again, the same messages, and the process carries on. A fenced producer (another
decider took the transactional id) or one left unusable still stops the process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
)
from aiokafka.producer.transaction_manager import TransactionState

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
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_platform.consumer import RetryPolicy
from lrs_platform.parking import DeadLetterOffice, Parking
from validation.decider import Decider
from validation.decision_store import OutgoingMessage, StoredDecision

AO = "RN5001"
PARTITION = TopicPartition(BATCH_SUBMITTED.name, 2)
NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: int = 0


def batch_records(batch_id: uuid.UUID) -> list[Record]:
    record = SubmittedRecord(line=1, action="Create", uln="3000000002", qualification_number="60303049", grade="5")
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
        Record(PARTITION.topic, PARTITION.partition, 40 + index, AO.encode(), value)
        for index, value in enumerate(encode(wrap(p, source="ingest", correlation_id="c")) for p in payloads)
    ]


@dataclass
class FakeBatch:
    messages: list[tuple[bytes, bytes]] = field(default_factory=list)

    def append(self, *, timestamp: None, key: bytes, value: bytes) -> object | None:
        self.messages.append((key, value))
        return object()


@dataclass
class TransactionManager:
    """Where aiokafka keeps a transactional producer's state (`AIOKafkaProducer._txn_manager`)."""

    state: TransactionState = TransactionState.READY


@dataclass
class FailingProducer:
    """Fails the record batches of its first transactions with `failures`, in turn, leaving its transaction state
    `after_failure` (READY: aiokafka aborted the transaction)."""

    failures: list[KafkaError]
    after_failure: TransactionState = TransactionState.READY
    delivery_failures: list[KafkaError] = field(default_factory=list)  # record batches taken, then not written
    _txn_manager: TransactionManager = field(default_factory=TransactionManager)
    committed: list[list[tuple[str, Any]]] = field(default_factory=list)
    aborted: int = 0
    _open: list[tuple[str, Any]] = field(default_factory=list)

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(6))

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        if self.failures:
            self._txn_manager.state = self.after_failure
            raise self.failures.pop(0)
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.delivery_failures:
            delivery.set_exception(self.delivery_failures.pop(0))
        else:
            self._open.extend((topic, key) for key, _ in batch.messages)
            delivery.set_result(None)
        return delivery

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        assert self._txn_manager.state is TransactionState.READY, "aiokafka refuses to begin a transaction"
        self._open = []
        try:
            yield
        except BaseException:
            self.aborted += 1
            raise
        self.committed.append(self._open)

    async def send(self, topic: str, key: bytes | None = None, value: bytes | None = None, headers: Any = None) -> None:
        self._open.append((topic, key))

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        self._open.append(("offsets", offsets))


@dataclass
class StoredUnpublished:
    """The batch decided and stored, not yet published: what the decider finds at every attempt until marked."""

    published: list[uuid.UUID] = field(default_factory=list)

    async def is_decided(self, batch_id: uuid.UUID) -> bool:
        return False

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        messages = (OutgoingMessage(BATCH_OUTCOMES.name, str(batch_id), b"{}"),)
        return StoredDecision(batch_id, False, messages, batch_id in self.published)

    async def mark_published(self, batch_id: uuid.UUID) -> None:
        self.published.append(batch_id)


@dataclass
class NothingParked:
    async def park(self, parkings: list[Parking], *, dlq_pending: bool) -> None:
        raise AssertionError("a broker away never parks the batch")

    async def counts(self, consumer: str) -> dict[str, int]:
        return {"error": 0, "blocked": 0}


class NoKeys:
    async def find(self, ulns: Any) -> dict[str, Any]:
        return {}

    async def destroy(self, name: str) -> bool:
        return False


async def no_publisher(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    raise AssertionError("nothing is dead-lettered")


def decider(producer: FailingProducer, decisions: StoredUnpublished) -> Decider:
    office = DeadLetterOffice(NothingParked(), no_publisher)  # type: ignore[arg-type]
    return Decider(
        None,
        producer,
        "validation",
        None,  # type: ignore[arg-type]
        decisions,  # type: ignore[arg-type]
        office,
        NO_WAIT,
        registry=None,  # type: ignore[arg-type]
        keys=NoKeys(),
    )


async def offer_all(target: Decider, records: list[Record]) -> None:
    for record in records:
        await target._offer(PARTITION, record)


async def test_a_broker_away_while_a_batch_is_published_is_waited_out_and_the_batch_published_once() -> None:
    batch_id = uuid.uuid4()
    producer = FailingProducer([KafkaTimeoutError(), KafkaConnectionError("broker gone")])
    decisions = StoredUnpublished()
    target = decider(producer, decisions)

    await offer_all(target, batch_records(batch_id))

    assert producer.aborted == 2
    started, published = producer.committed  # the batch's start, then its decision: once, after two aborts
    assert started == [(BATCH_OUTCOMES.name, str(batch_id).encode())]
    assert published == [(BATCH_OUTCOMES.name, str(batch_id).encode()), ("offsets", {PARTITION: 43})]
    assert decisions.published == [batch_id]
    assert target.batches_decided == 1
    assert target._attempts.retrying_since is None  # retried, and settled


@pytest.mark.parametrize(
    ("error", "after"),
    [
        (ProducerFenced(), TransactionState.FATAL_ERROR),  # another decider has the transactional id
        (KafkaTimeoutError(), TransactionState.FATAL_ERROR),  # fenced while its abort waited: unusable
        (KafkaTimeoutError(), TransactionState.ABORTABLE_ERROR),  # not aborted: no transaction begins again
    ],
    ids=["fenced", "timeout-then-fenced", "timeout-not-aborted"],
)
async def test_a_fenced_or_unusable_producer_still_stops_the_decider(
    error: KafkaError, after: TransactionState
) -> None:
    producer = FailingProducer([error], after_failure=after)
    decisions = StoredUnpublished()

    with pytest.raises(type(error)):
        await offer_all(decider(producer, decisions), batch_records(uuid.uuid4()))

    assert decisions.published == []
    assert len(producer.committed) == 1  # the batch's start only


async def test_a_record_batch_not_written_aborts_the_transaction_instead_of_committing_it_without() -> None:
    """aiokafka commits a transaction whatever became of its record batches: one expired while its partition had
    no leader (a broker coming back) would be missing from a decision committed and marked published."""
    batch_id = uuid.uuid4()
    producer = FailingProducer([], delivery_failures=[NotLeaderForPartitionError()])
    decisions = StoredUnpublished()

    await offer_all(decider(producer, decisions), batch_records(batch_id))

    assert producer.aborted == 1
    _, published = producer.committed  # once, whole, after the abort
    assert published == [(BATCH_OUTCOMES.name, str(batch_id).encode()), ("offsets", {PARTITION: 43})]
    assert decisions.published == [batch_id]


async def test_a_producer_whose_sequence_has_a_gap_stops_the_decider() -> None:
    """After a batch given up, every later batch of its partition is refused: a new producer (a restart) is needed."""
    producer = FailingProducer([], delivery_failures=[OutOfOrderSequenceNumber()])
    decisions = StoredUnpublished()

    with pytest.raises(OutOfOrderSequenceNumber):
        await offer_all(decider(producer, decisions), batch_records(uuid.uuid4()))

    assert decisions.published == []
    assert len(producer.committed) == 1  # the batch's start only
