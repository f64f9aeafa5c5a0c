"""The decider reads and judges on while a decision is stored and published (decision 0113)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from tests.support.waiting import eventually

import validation.decider
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


async def test_the_next_batch_is_read_and_judged_while_a_decision_is_stored() -> None:
    store, producer = Store(), Producer()
    target = decider(store, producer)
    first, first_records = batch("RN5001", 0)
    second, second_records = batch("RN5002", 3)

    await offer(target, first_records)
    await until(store.record_started.is_set, "the first decision being stored")
    await offer(target, second_records[:2])  # the loop is not held by the decision being stored
    await until(lambda: "read RN5002" in store.events, "the next batch's chunk judged")
    assert store.events == ["read RN5001", "read RN5002"] and store.published == []

    store.storing.set()
    await offer(target, second_records[2:])
    await target._settle()
    assert store.published == [first, second]
    assert store.events == ["read RN5001", "read RN5002", "stored RN5001", "stored RN5002"]  # read once each
    assert producer.most_open == 1  # one transaction at a time


async def test_nothing_is_read_while_a_decision_builds_its_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch is decoded and judged while a decision is stored and sent, never beside the
    decision's own verdicts and messages: memory stays what it was with the decision in the loop."""
    building, release, finish = threading.Event(), threading.Event(), validation.decider.finish_and_write

    def finish_once_released(*args: Any) -> Any:
        building.set()
        release.wait(timeout=WAIT)
        return finish(*args)

    monkeypatch.setattr(validation.decider, "finish_and_write", finish_once_released)
    store, producer = Store(), Producer()
    store.storing.set()
    target = decider(store, producer)
    first, first_records = batch("RN5001", 0)
    second, second_records = batch("RN5002", 3)

    await offer(target, first_records)
    reading = asyncio.create_task(offer(target, second_records))
    await until(building.is_set, "the first decision being built")
    for _ in range(20):
        await asyncio.sleep(0)
    assert (reading.done(), target._judging, store.events) == (False, {}, ["read RN5001"])

    release.set()
    await asyncio.wait_for(reading, timeout=WAIT)
    await target._settle()
    assert store.published == [first, second]


async def test_an_aos_next_batch_is_judged_once_its_previous_decision_is_stored_and_not_again() -> None:
    store, producer = Store(), Producer()
    target = decider(store, producer)
    first, first_records = batch("RN5001", 0)
    second, second_records = batch("RN5001", 3)

    await offer(target, first_records)
    await offer(target, second_records[:2])
    await until(store.record_started.is_set, "the first decision being stored")
    for _ in range(20):
        await asyncio.sleep(0)
    assert store.events == ["read RN5001"]  # the second's chunk waits for the states the first leaves

    store.storing.set()
    await until(lambda: len(store.events) == 3, "the second's chunk judged")
    assert store.events == ["read RN5001", "stored RN5001", "read RN5001"]
    await offer(target, second_records[2:])
    await target._settle()
    assert store.published == [first, second]
    assert store.events == ["read RN5001", "stored RN5001", "read RN5001", "stored RN5001"]  # not judged whole


async def test_each_decision_commits_the_offsets_committable_when_its_marker_was_read() -> None:
    """A batch begun before another's marker and ended while that decision is stored (and retried):
    the decision must not commit past the batch's start."""
    store, producer = Store(outages=1), Producer()
    target = decider(store, producer)
    interleaved_id, interleaved = batch("RN5002", 0)  # offsets 0-2: its start and chunk come first
    first, first_records = batch("RN5001", 2)  # offsets 2-4
    records = [interleaved[0], interleaved[1], *first_records]
    marker = replace(interleaved[2], offset=5)

    await offer(target, records)
    await until(store.record_started.is_set, "the first decision being stored")
    ending = asyncio.create_task(offer(target, [marker]))  # read, then waits for the decision before it
    await until(lambda: not target._assembler.assembling(PARTITION.partition), "the interleaved batch's end read")
    store.storing.set()
    await asyncio.wait_for(ending, timeout=WAIT)
    await target._settle()

    assert store.published == [first, interleaved_id]
    announced, decided = producer.transactions[:2], [t for t in producer.transactions[2:] if t[-1][0] == "offsets"]
    assert announced == [[(BATCH_OUTCOMES.name, "lrs.batch.validation.started.v1")]] * 2
    assert [transaction[-1] for transaction in decided] == [("offsets", 0), ("offsets", 6)]
    assert [{key for _, key in transaction[:-1]} for transaction in decided] == [
        {str(first).encode()},
        {str(interleaved_id).encode()},
    ]


async def test_a_kafka_error_behind_the_loop_stops_it() -> None:
    store, producer = Store(), Producer(fail_commit=True)
    store.storing.set()
    target = decider(store, producer)
    _, records = batch("RN5001", 0)

    with pytest.raises(KafkaError):
        await asyncio.wait_for(offer(target, [*records, *batch("RN5002", 3)[1]]), timeout=WAIT)
    assert store.published == []


@dataclass
class Gate:
    """A maintenance gate an operator closes; notes what was published when a start began to wait."""

    store: Store
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    published_at_hold: list[list[uuid.UUID]] = field(default_factory=list)

    def closure(self) -> object | None:
        return None if self.opened.is_set() else "a window"

    async def hold(self, consumer: object) -> None:
        if not self.opened.is_set():
            self.published_at_hold.append(list(self.store.published))
        await self.opened.wait()


@dataclass
class Assigned:
    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}


async def test_a_window_that_opens_while_a_decision_is_stored_holds_the_next_batch_once_it_is_published() -> None:
    store, producer = Store(), Producer()
    gate = Gate(store)
    gate.caught_up.set()
    gate.opened.set()
    target = decider(store, producer, consumer=Assigned(), maintenance=gate)
    first, first_records = batch("RN5001", 0)
    _, second_records = batch("RN5002", 3)

    await offer(target, first_records)
    await until(store.record_started.is_set, "the first decision being stored")
    gate.opened.clear()  # a window opens
    starting = asyncio.create_task(offer(target, second_records))
    for _ in range(20):
        await asyncio.sleep(0)
    assert gate.published_at_hold == [] and not starting.done()  # the decision in hand first

    store.storing.set()
    await until(lambda: gate.published_at_hold != [], "the next batch held")
    assert gate.published_at_hold == [[first]] and target._judging == {}
    gate.opened.set()
    await asyncio.wait_for(starting, timeout=WAIT)
    await target._settle()
    assert len(store.published) == 2


async def test_a_decision_behind_a_cancelled_loop_is_cancelled_with_it() -> None:
    store, producer = Store(), Producer()

    @dataclass
    class Consumer:
        queue: list[Record]

        def assignment(self) -> set[TopicPartition]:
            return {PARTITION}

        async def getmany(self, *partitions: TopicPartition, timeout_ms: int, max_records: int) -> Any:
            if self.queue:
                taken, self.queue[:] = list(self.queue), []
                return {PARTITION: taken}
            await asyncio.sleep(timeout_ms / 1000)
            return {}

    _, records = batch("RN5001", 0)
    target = decider(store, producer, consumer=Consumer(records))
    running = asyncio.create_task(target.run())
    await until(store.record_started.is_set, "the decision being stored")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert target._effects is not None and target._effects.done() and store.published == []


async def test_a_partition_revoked_while_a_decision_is_stored_loses_its_batches_in_part_and_the_decision_goes_out() -> (
    None
):
    """As when the decision was awaited in the loop: the decision of a marker read goes out with the
    offsets committable then; the batches read in part are forgotten, to be read again from their start."""
    store, producer = Store(), Producer()
    target = decider(store, producer)
    first, first_records = batch("RN5001", 0)
    second, second_records = batch("RN5002", 3)

    await offer(target, first_records)
    await offer(target, second_records[:2])
    await until(store.record_started.is_set, "the first decision being stored")
    [judging] = target._judging.values()
    await validation.decider._ForgetRevoked(target._assembler, target._judging).on_partitions_revoked({PARTITION})
    assert target._judging == {} and not target._assembler.assembling(PARTITION.partition)

    store.storing.set()
    await target._settle()
    assert store.published == [first] and all(task.done() for task in judging.tasks())
    assert [t[-1] for t in producer.transactions if t[-1][0] == "offsets"] == [("offsets", 3)]

    await offer(target, second_records)  # read again from its start, once the partition is back
    await target._settle()
    assert store.published == [first, second]
