"""A decision commits the offsets committable when its batch's end marker was read, whatever happens while
it is attempted (decision 0113)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from tests.support.waiting import eventually

from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_domain.achievements import AchievementState
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner
from lrs_platform.consumer import RetryPolicy
from lrs_platform.keyring import KeyLookup
from lrs_platform.parking import DeadLetterOffice, Parking
from validation.decider import Decider
from validation.decision_store import OutgoingMessage, StoredDecision

PARTITION = TopicPartition(BATCH_SUBMITTED.name, 2)
WAIT = 5


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: int = 0


def batch(ao: str, first_offset: int, uln: str = "3000000002") -> tuple[uuid.UUID, list[Record]]:
    """A batch of one record in one chunk: its start, its chunk and its end marker."""
    batch_id = uuid.uuid4()
    record = SubmittedRecord(line=1, action="Create", uln=uln, qualification_number="60303049", grade="5")
    payloads: list[Contract] = [
        BatchSubmitted(
            batch_id=batch_id,
            ao_id=ao,
            header=BatchHeader(awarding_organisation=ao, job_type=JobType.FINAL, notification_email="r@example.org"),
            format=BatchFormat.JSON,
            record_count=1,
            content_sha256="0" * 64,
            size_bytes=1,
            submitted_by=f"ao:{ao}",
            received_at=datetime(2025, 3, 1, tzinfo=UTC),
        ),
        BatchRecordsSubmitted(batch_id=batch_id, ao_id=ao, chunk_index=0, records=(record,)),
        BatchSubmissionCompleted(batch_id=batch_id, ao_id=ao, record_count=1, chunk_count=1),
    ]
    return batch_id, [
        Record(PARTITION.topic, PARTITION.partition, first_offset + index, ao.encode(), value)
        for index, value in enumerate(encode(wrap(p, source="ingest", correlation_id="c")) for p in payloads)
    ]


@dataclass
class Builder:
    keys: list[bytes] = field(default_factory=list)

    def append(self, *, timestamp: None, key: bytes, value: bytes) -> object:
        self.keys.append(key)
        return self


@dataclass
class Producer:
    """Transactions in the order they began; fails the commit of one with offsets with a Kafka error when told to."""

    transactions: list[list[tuple[str, Any]]] = field(default_factory=list)
    open: int = 0
    most_open: int = 0
    fail_commit: bool = False

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> Builder:
        return Builder()

    async def send_batch(self, builder: Builder, topic: str, *, partition: int) -> None:
        self.transactions[-1].extend((topic, key) for key in builder.keys)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.transactions.append([])
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            yield
            await asyncio.sleep(0)
            if self.fail_commit and any(kind == "offsets" for kind, _ in self.transactions[-1]):
                raise KafkaError("the broker fenced this producer")
        finally:
            self.open -= 1

    async def send(self, topic: str, key: bytes | None = None, value: bytes | None = None, headers: Any = None) -> None:
        self.transactions[-1].append((topic, key if topic != BATCH_OUTCOMES.name else _event_type(value)))

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        self.transactions[-1].append(("offsets", offsets[PARTITION]))


def _event_type(value: bytes | None) -> str:
    assert value is not None
    envelope, _ = decode(value)
    return envelope.event_type


@dataclass
class Store:
    """Undecided batches, no stored states. Storing a decision waits while `storing` is clear; notes,
    in order, each state read and each decision stored (by the AO), and each published."""

    storing: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[str] = field(default_factory=list)
    published: list[uuid.UUID] = field(default_factory=list)
    record_started: asyncio.Event = field(default_factory=asyncio.Event)
    outages: int = 0  # the first stores fail as PostgreSQL away would

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        return None

    async def existing_states(self, ao_id: str, needed: object) -> dict[tuple[str, str], list[AchievementState]]:
        self.events.append(f"read {ao_id}")
        return {}

    async def record(
        self,
        batch_id: uuid.UUID,
        ao_id: str,
        failed: bool,
        messages: Sequence[OutgoingMessage],
        states: object,
        new_achievement_ids: object = frozenset(),
    ) -> StoredDecision:
        self.record_started.set()
        await self.storing.wait()
        if self.outages:
            self.outages -= 1
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        self.events.append(f"stored {ao_id}")
        return StoredDecision(batch_id, failed, tuple(messages), False)

    async def mark_published(self, batch_id: uuid.UUID) -> None:
        self.published.append(batch_id)


@dataclass
class Reference:
    async def current(self) -> tuple[Catalogue, dict[str, AwardingOrganisation]]:
        return CATALOGUE, {}

    async def learners_for(self, ulns: Iterable[str]) -> dict[str, Learner]:
        return {}

    async def registry_snapshot(self) -> str:
        return ""

    async def registry_changed_since(self, snapshot: str) -> bool:
        return False


CATALOGUE = Catalogue()


class NoKeys:
    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        return {}

    async def destroy(self, name: str) -> bool:
        return False


@dataclass
class Parked:
    parked: list[Parking] = field(default_factory=list)

    async def park(self, parkings: Sequence[Parking], *, dlq_pending: bool) -> None:
        self.parked.extend(parkings)


async def _no_publisher(*args: Any) -> None:
    raise AssertionError("the decider publishes dead letters itself")


def decider(store: Store, producer: Producer, **options: Any) -> Decider:
    office = DeadLetterOffice(Parked(), _no_publisher)  # type: ignore[arg-type]
    return Decider(
        options.pop("consumer", None),
        producer,
        "validation",
        Reference(),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        office,
        RetryPolicy(base_seconds=0.0, max_seconds=0.0),
        keys=NoKeys(),
        **options,
    )


async def offer(target: Decider, records: Iterable[Record]) -> None:
    async def offered() -> None:
        for record in records:
            await target._offer(PARTITION, record)

    try:
        await asyncio.wait_for(offered(), timeout=WAIT)
    except TimeoutError:
        raise AssertionError("the loop was held") from None


async def until(condition: Callable[[], bool], what: str) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, within=WAIT, what=what, every=0.001)


async def test_a_decision_retried_after_a_rebalance_commits_the_offsets_committable_when_its_marker_was_read() -> None:
    """A batch begun before another's marker, forgotten by a rebalance while that decision's first attempt
    waits: the retried decision must not commit past the forgotten batch's start."""
    store, producer = Store(outages=1), Producer()
    target = decider(store, producer)
    _, interleaved = batch("RN5002", 0)  # offsets 0-1 read: its start and chunk, its end not yet
    first, first_records = batch("RN5001", 2)  # offsets 2-4
    await offer(target, [interleaved[0], interleaved[1], *first_records[:2]])

    deciding = asyncio.create_task(target._offer(PARTITION, first_records[2]))  # its marker: decided in the loop
    await until(store.record_started.is_set, "the decision being stored")
    target._assembler.forget({PARTITION.partition})  # the partition revoked (and given back) meanwhile
    store.storing.set()  # the first attempt fails as PostgreSQL away would; the second stores
    await asyncio.wait_for(deciding, timeout=WAIT)

    assert store.published == [first]
    decided = [transaction for transaction in producer.transactions if transaction[-1][0] == "offsets"]
    assert [transaction[-1] for transaction in decided] == [("offsets", 0)]


async def test_a_decision_given_up_parks_its_marker_with_the_offsets_committable_when_it_was_read() -> None:
    store, producer = Store(outages=10), Producer()
    store.storing.set()
    target = decider(store, producer)
    _, interleaved = batch("RN5002", 0)
    _, first_records = batch("RN5001", 2)
    await offer(target, [interleaved[0], interleaved[1], *first_records[:2]])

    deciding = asyncio.create_task(target._offer(PARTITION, first_records[2]))
    await until(store.record_started.is_set, "the decision being stored")
    target._assembler.forget({PARTITION.partition})
    await asyncio.wait_for(deciding, timeout=WAIT)

    dead_lettered = [transaction for transaction in producer.transactions if transaction[-1][0] == "offsets"]
    assert [transaction[-1] for transaction in dead_lettered] == [("offsets", 0)]
