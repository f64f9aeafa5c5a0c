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

from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.parking import Parking
from validation.decision_store import OutgoingMessage, StoredDecision

from .decider_fakes import PARTITION, FakeBatch, batch_records, decider, offer_all


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


async def test_a_broker_away_while_a_batch_is_published_is_waited_out_and_the_batch_published_once() -> None:
    batch_id = uuid.uuid4()
    producer = FailingProducer([KafkaTimeoutError(), KafkaConnectionError("broker gone")])
    decisions = StoredUnpublished()
    target = decider(decisions, producer, NothingParked())

    await offer_all(target, batch_records(batch_id, first_offset=40))

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
        await offer_all(decider(decisions, producer, NothingParked()), batch_records(uuid.uuid4(), first_offset=40))

    assert decisions.published == []
    assert len(producer.committed) == 1  # the batch's start only


async def test_a_record_batch_not_written_aborts_the_transaction_instead_of_committing_it_without() -> None:
    """aiokafka commits a transaction whatever became of its record batches: one expired while its partition had
    no leader (a broker coming back) would be missing from a decision committed and marked published."""
    batch_id = uuid.uuid4()
    producer = FailingProducer([], delivery_failures=[NotLeaderForPartitionError()])
    decisions = StoredUnpublished()

    await offer_all(decider(decisions, producer, NothingParked()), batch_records(batch_id, first_offset=40))

    assert producer.aborted == 1
    _, published = producer.committed  # once, whole, after the abort
    assert published == [(BATCH_OUTCOMES.name, str(batch_id).encode()), ("offsets", {PARTITION: 43})]
    assert decisions.published == [batch_id]


async def test_a_producer_whose_sequence_has_a_gap_stops_the_decider() -> None:
    """After a batch given up, every later batch of its partition is refused: a new producer (a restart) is needed."""
    producer = FailingProducer([], delivery_failures=[OutOfOrderSequenceNumber()])
    decisions = StoredUnpublished()

    with pytest.raises(OutOfOrderSequenceNumber):
        await offer_all(decider(decisions, producer, NothingParked()), batch_records(uuid.uuid4(), first_offset=40))

    assert decisions.published == []
    assert len(producer.committed) == 1  # the batch's start only
