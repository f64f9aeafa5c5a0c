"""The decider on the shared retry: a batch that cannot be decided is parked, an outage is waited out."""

from __future__ import annotations

import asyncio
import gc
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import murmur2
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from prometheus_client import REGISTRY

import validation.decider
from lrs_contracts.batch import BatchRecordsSubmitted, BatchSubmissionCompleted, SubmittedRecord
from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import AbilityToShare, LearnerSharingChanged
from lrs_contracts.outcomes import BatchAbandoned, BatchValidationStarted
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import BatchDecision
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner
from lrs_platform.kafka import MAX_MESSAGE_BYTES
from lrs_platform.keyring import (
    ERASED,
    Erased,
    KeyLookup,
    LearnerKey,
    Purpose,
    batch_key_name,
    sealed_personal,
)
from lrs_platform.parking import Parking
from validation.decider import ABANDONED_REASON, POLL_MESSAGES, Decider, finish_and_write
from validation.decision_store import OutgoingMessage, StoredDecision

from .decider_fakes import AO, PARTITION, FakeBatch, Record, batch_records, decider, offer_all


@dataclass
class FakeProducer:
    transactions: list[list[tuple[str, Any]]] = field(default_factory=list)
    aborted: list[int] = field(default_factory=list)  # indexes into `transactions`
    batch_capacity: int = 1_000
    sent_batches: list[tuple[str, int, list[bytes]]] = field(default_factory=list)  # topic, partition, keys

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(6))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> None:
        self.sent_batches.append((topic, partition, [key for key, _ in batch.messages]))
        self.transactions[-1].extend((topic, (key, value, None)) for key, value in batch.messages)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.transactions.append([])
        try:
            yield
        except BaseException:
            self.aborted.append(len(self.transactions) - 1)
            raise

    async def send(self, topic: str, key: bytes | None = None, value: bytes | None = None, headers: Any = None) -> None:
        self.transactions[-1].append((topic, (key, value, headers)))

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        self.transactions[-1].append(("offsets", offsets))


@dataclass
class FakeDecisions:
    """`stored` fails with each error in turn, then finds the batch decided and not yet published."""

    failures: list[Exception]
    published: list[uuid.UUID] = field(default_factory=list)
    decided: set[uuid.UUID] = field(default_factory=set)  # what `is_decided` finds
    lookup_failures: list[Exception] = field(default_factory=list)  # what `is_decided` raises first, in turn

    async def is_decided(self, batch_id: uuid.UUID) -> bool:
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        return batch_id in self.decided

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        if self.failures:
            raise self.failures.pop(0)
        return StoredDecision(batch_id, False, (OutgoingMessage("lrs.batch.outcomes.v1", str(batch_id), b"{}"),), False)

    async def mark_published(self, batch_id: uuid.UUID) -> None:
        self.published.append(batch_id)


@dataclass
class FakeParked:
    parked: list[Parking] = field(default_factory=list)

    async def park(self, parkings: Sequence[Parking], *, dlq_pending: bool) -> None:
        assert not dlq_pending  # the decider sends its dead letters in its own transaction
        self.parked.extend(parkings)

    async def counts(self, consumer: str) -> dict[str, int]:
        reasons = [parking.reason for parking in self.parked if parking.consumer == consumer]
        return {"error": reasons.count("error"), "blocked": reasons.count("blocked")}


async def test_a_batch_that_cannot_be_decided_is_parked_and_its_offsets_move_past_it() -> None:
    batch_id = uuid.uuid4()
    refused = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")
    producer, parked = FakeProducer(), FakeParked()
    decisions = FakeDecisions([refused] * 5)
    await offer_all(decider(decisions, producer, parked), batch_records(batch_id, first_offset=40))

    [parking] = parked.parked
    assert (parking.consumer, parking.offset, parking.reason) == ("validation.decider", 42, "error")
    # the gauge says so at once, not at the next readiness probe
    gauge = {"consumer": "validation.decider", "reason": "error"}
    assert REGISTRY.get_sample_value("lrs_consumer_parked_messages", gauge) == 1
    dead_letter, abandonment, offsets = producer.transactions[-1]
    topic, (key, _, headers) = dead_letter
    assert (topic, key) == (BATCH_SUBMITTED.dead_letters, AO.encode())
    letter = DeadLetter.from_headers(headers)
    assert (letter.original_offset, letter.attempts, letter.consumer) == (42, 3, "validation.decider")
    assert letter.error.startswith(f"batch {batch_id} could not be decided: CharacterNotInRepertoireError")
    assert offsets == ("offsets", {PARTITION: 43})
    assert decisions.published == [] and len(decisions.failures) == 2  # three attempts, then given up

    # the AO is told, in the same transaction, with a reason that quotes nothing of the error
    topic, (key, value, _) = abandonment
    _, abandoned = decode(value)
    assert (topic, key) == (BATCH_OUTCOMES.name, str(batch_id).encode())
    assert isinstance(abandoned, BatchAbandoned)
    assert (abandoned.batch_id, abandoned.ao_id, abandoned.notification_email) == (batch_id, AO, "r@example.org")
    assert abandoned.reason == ABANDONED_REASON and "0x00" not in abandoned.reason


async def test_a_message_that_names_no_batch_is_parked_and_no_batch_is_abandoned() -> None:
    producer, parked = FakeProducer(), FakeParked()
    unreadable = Record(PARTITION.topic, PARTITION.partition, 7, AO.encode(), b'{"event_type": "lrs.nothing"}')
    poison = {"consumer": "validation.decider", "kind": "poison"}
    failed_before = REGISTRY.get_sample_value("lrs_consumer_failures_total", poison) or 0.0
    await offer_all(decider(FakeDecisions([]), producer, parked), [unreadable])

    [parking] = parked.parked
    assert parking.offset == 7
    # one failed attempt, counted as every other consumer counts a message refused at first sight
    assert REGISTRY.get_sample_value("lrs_consumer_failures_total", poison) == failed_before + 1
    [(dead_letter_topic, _), offsets] = producer.transactions[-1]
    assert dead_letter_topic == BATCH_SUBMITTED.dead_letters
    assert offsets == ("offsets", {PARTITION: 8})


@pytest.mark.parametrize(
    "payload",
    [
        LearnerSharingChanged(uln="1000000043", ability_to_share=AbilityToShare.SHARES),  # names no batch
        BatchValidationStarted(batch_id=uuid.uuid4(), ao_id=AO, record_count=1),  # names one: an outcome
    ],
)
async def test_an_event_of_another_kind_on_the_submitted_topic_is_parked_and_the_queue_goes_on(
    payload: Contract,
) -> None:
    """It crashed the decider (no `batch_id`), again at each restart, or pinned the partition's offset."""
    producer, parked = FakeProducer(), FakeParked()
    value = encode(wrap(payload, source="tests", correlation_id="tests"))
    stray = Record(PARTITION.topic, PARTITION.partition, 7, AO.encode(), value)
    target = decider(FakeDecisions([]), producer, parked)
    await offer_all(target, [stray])

    [parking] = parked.parked
    assert parking.offset == 7
    [(dead_letter_topic, (_, _, headers)), offsets] = producer.transactions[-1]
    assert dead_letter_topic == BATCH_SUBMITTED.dead_letters
    assert "is not a batch's event" in DeadLetter.from_headers(headers).error
    assert offsets == ("offsets", {PARTITION: 8})
    assert not target._assembler.assembling(PARTITION.partition)


async def test_a_batch_whose_chunk_never_came_is_abandoned_naming_its_header_so_the_ao_is_told() -> None:
    batch_id = uuid.uuid4()
    producer, parked = FakeProducer(), FakeParked()
    submitted, _, marker = batch_records(batch_id, first_offset=10)
    await offer_all(decider(FakeDecisions([]), producer, parked), [submitted, marker])

    [parking] = parked.parked
    assert parking.offset == 12
    _, (topic, (_, value, _)), _ = producer.transactions[-1]
    _, abandoned = decode(value)
    assert topic == BATCH_OUTCOMES.name
    assert isinstance(abandoned, BatchAbandoned)
    assert (abandoned.batch_id, abandoned.notification_email) == (batch_id, "r@example.org")
    assert abandoned.submitted_at is not None and abandoned.job_type is not None


async def test_an_end_marker_without_its_header_is_parked_and_abandons_nothing() -> None:
    """Its start expired (or was sought past): a copy sent again may follow and is decided (test_batch_start_expired)."""
    batch_id = uuid.uuid4()
    producer, parked = FakeProducer(), FakeParked()
    _, _, marker = batch_records(batch_id, first_offset=10)
    await offer_all(decider(FakeDecisions([]), producer, parked), [marker])

    [parking] = parked.parked
    assert parking.offset == 12
    [(dead_letter_topic, _), offsets] = producer.transactions[-1]
    assert dead_letter_topic == BATCH_SUBMITTED.dead_letters
    assert offsets == ("offsets", {PARTITION: 13})


async def test_an_end_marker_of_a_batch_decided_before_is_read_again_as_nothing() -> None:
    """Sent again, or read again after a seek: not parked as a batch missing its header, nothing abandoned."""
    batch_id = uuid.uuid4()
    producer, parked = FakeProducer(), FakeParked()
    _, _, marker = batch_records(batch_id, first_offset=10)
    await offer_all(decider(FakeDecisions([], decided={batch_id}), producer, parked), [marker])

    assert parked.parked == [] and producer.transactions == []


async def test_a_database_outage_while_asking_whether_a_batch_was_decided_is_waited_out() -> None:
    """The question an end marker read without its header asks: a blip there neither stops the process nor parks."""
    batch_id = uuid.uuid4()
    gone = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    producer, parked = FakeProducer(), FakeParked()
    _, _, marker = batch_records(batch_id, first_offset=10)
    decisions = FakeDecisions([], decided={batch_id}, lookup_failures=[gone] * 3)

    await offer_all(decider(decisions, producer, parked), [marker])

    assert decisions.lookup_failures == [] and parked.parked == [] and producer.transactions == []


async def test_a_database_outage_is_waited_out_and_nothing_is_parked() -> None:
    batch_id = uuid.uuid4()
    gone = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    producer, parked = FakeProducer(), FakeParked()
    decisions = FakeDecisions([gone] * 7)
    await offer_all(decider(decisions, producer, parked), batch_records(batch_id, first_offset=0))
    assert parked.parked == [] and decisions.published == [batch_id]
    assert producer.transactions[-1][-1] == ("offsets", {PARTITION: 3})


@dataclass
class ForgottenMeanwhile(FakeDecisions):
    """As FakeDecisions; the first look-up also makes the decider forget the partition's batches read in
    part, as a rebalance while the attempt waits does."""

    target: Decider | None = None

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        if self.target is not None:
            self.target._assembler.forget({PARTITION.partition})
            self.target = None
        return await super().stored(batch_id)


def interleaved_then_whole(batch_id: uuid.UUID) -> list[Record]:
    """A batch begun at offset 0 (its start and chunk, its end not yet), then `batch_id` whole at 2-4."""
    submitted, chunk, _ = batch_records(uuid.uuid4(), first_offset=0)
    return [submitted, chunk, *batch_records(batch_id, first_offset=2)]


async def test_a_decision_retried_after_a_rebalance_commits_the_offsets_committable_when_its_marker_was_read() -> None:
    batch_id = uuid.uuid4()
    gone = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    producer, parked = FakeProducer(), FakeParked()
    decisions = ForgottenMeanwhile([gone])
    decisions.target = target = decider(decisions, producer, parked)
    await offer_all(target, interleaved_then_whole(batch_id))
    assert decisions.published == [batch_id]
    assert producer.transactions[-1][-1] == ("offsets", {PARTITION: 0})  # not past the batch begun at 0


async def test_a_decision_given_up_after_a_rebalance_parks_its_marker_with_the_offsets_of_when_it_was_read() -> None:
    refused = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")
    producer, parked = FakeProducer(), FakeParked()
    decisions = ForgottenMeanwhile([refused] * 5)
    decisions.target = target = decider(decisions, producer, parked)
    await offer_all(target, interleaved_then_whole(uuid.uuid4()))
    [parking] = parked.parked
    assert parking.offset == 4
    assert producer.transactions[-1][-1] == ("offsets", {PARTITION: 0})


@dataclass
class UndecidedBatches:
    """No batch decided yet, no stored states; keeps what the decider records."""

    recorded: list[Sequence[OutgoingMessage]] = field(default_factory=list)
    published: list[uuid.UUID] = field(default_factory=list)
    published_elsewhere: bool = False  # the decision `record` finds was published by the decider that stored it

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        return None

    async def existing_states(self, ao_id: str, needed: object) -> dict[tuple[str, str], list[AchievementState]]:
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
        self.recorded.append(messages)
        stored = self.stored_messages(messages)
        return StoredDecision(
            batch_id, failed, stored, self.published_elsewhere, ours=self.ours_stored(stored, messages)
        )

    def ours_stored(self, stored: tuple[OutgoingMessage, ...], ours: Sequence[OutgoingMessage]) -> bool:
        return stored == tuple(ours)

    def stored_messages(self, ours: Sequence[OutgoingMessage]) -> tuple[OutgoingMessage, ...]:
        """What the store holds once ours were offered: ours, unless another decider's came first."""
        return tuple(ours)

    async def mark_published(self, batch_id: uuid.UUID) -> None:
        self.published.append(batch_id)


@dataclass
class EmptyReference:
    """No catalogue, no learners; a registry that changes only when told to."""

    catalogue: Catalogue = field(default_factory=Catalogue)
    looked_up: list[set[str]] = field(default_factory=list)
    registry_changes: int = 0

    async def current(self) -> tuple[Catalogue, dict[str, AwardingOrganisation]]:
        return self.catalogue, {}

    async def learners_for(self, ulns: Iterable[str]) -> dict[str, Learner]:
        self.looked_up.append(set(ulns))
        return {}

    async def registry_snapshot(self) -> str:
        return str(self.registry_changes)

    async def registry_changed_since(self, snapshot: str) -> bool:
        return snapshot != str(self.registry_changes)


async def test_the_event_loop_runs_while_a_batch_is_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large batch is seconds of CPU: on the loop it would starve the consumer group's heartbeat."""
    loop, loop_ran, loop_ran_while_deciding = asyncio.get_running_loop(), threading.Event(), []

    def decide_once_the_loop_has_run(*args: Any, **kwargs: Any) -> tuple[BatchDecision, list[OutgoingMessage]]:
        loop.call_soon_threadsafe(loop_ran.set)
        loop_ran_while_deciding.append(loop_ran.wait(timeout=20))
        return finish_and_write(*args, **kwargs)

    monkeypatch.setattr(validation.decider, "finish_and_write", decide_once_the_loop_has_run)
    batch_id, producer, decisions = uuid.uuid4(), FakeProducer(), UndecidedBatches()
    target = decider(decisions, producer, FakeParked(), reference=EmptyReference())
    await offer_all(target, batch_records(batch_id, first_offset=0))

    assert loop_ran_while_deciding == [True] and decisions.published == [batch_id]
    [messages] = decisions.recorded
    assert [topic for topic, _ in producer.transactions[-1][:-1]] == [message.topic for message in messages]


@dataclass
class DecidedElsewhere(UndecidedBatches):
    """Another decider stores its decision of the batch while ours is being sent."""

    theirs: tuple[OutgoingMessage, ...] = (OutgoingMessage(BATCH_OUTCOMES.name, "theirs", b"{}"),)

    def stored_messages(self, ours: Sequence[OutgoingMessage]) -> tuple[OutgoingMessage, ...]:
        return self.theirs


async def test_a_decision_stored_first_by_another_decider_is_published_instead_of_ours() -> None:
    batch_id, producer, decisions = uuid.uuid4(), FakeProducer(), DecidedElsewhere()
    target = decider(decisions, producer, FakeParked(), reference=EmptyReference())
    await offer_all(target, batch_records(batch_id, first_offset=0))

    ours, theirs = producer.transactions[-2:]
    assert producer.aborted == [len(producer.transactions) - 2] and ("offsets", {PARTITION: 3}) not in ours
    assert theirs == [(BATCH_OUTCOMES.name, (b"theirs", b"{}", None)), ("offsets", {PARTITION: 3})]
    assert decisions.published == [batch_id]


@dataclass
class DecidedAndPublishedByAZombiesSuccessor(UndecidedBatches):
    """The decider that took the partition over while ours was frozen stored the same decision (byte for byte:
    its ids are derived from the batch) and published it."""

    published_elsewhere: bool = True

    def ours_stored(self, stored: tuple[OutgoingMessage, ...], ours: Sequence[OutgoingMessage]) -> bool:
        return False


async def test_a_decision_another_decider_stored_and_published_is_not_sent_again_even_when_identical() -> None:
    batch_id, producer, decisions = uuid.uuid4(), FakeProducer(), DecidedAndPublishedByAZombiesSuccessor()
    target = decider(decisions, producer, FakeParked(), reference=EmptyReference())
    await offer_all(target, batch_records(batch_id, first_offset=0))

    assert producer.aborted == [len(producer.transactions) - 1]  # ours, the last transaction begun
    assert decisions.published == []


async def test_a_decision_goes_out_in_record_batches_each_on_the_partition_of_its_messages_keys() -> None:
    """As `producer.send` would place them (murmur2 of the key, as Java clients): per partition in
    their order, a full batch sent before the next is started."""
    producer = FakeProducer(batch_capacity=2)
    producer.transactions.append([])
    ulns = [f"10000000{n:02d}" for n in range(40)]
    messages = [OutgoingMessage("lrs.plr.events.v1", uln, f"event of {uln}".encode()) for uln in ulns]
    messages.append(OutgoingMessage(BATCH_OUTCOMES.name, "batch", b"outcomes"))
    target = decider(FakeDecisions([]), producer, FakeParked())

    await target._send(messages)

    def partition_of(key: str) -> int:
        return int(murmur2(key.encode()) & 0x7FFFFFFF) % 6

    for _topic, partition, keys in producer.sent_batches:
        assert 1 <= len(keys) <= 2 and {partition_of(key.decode()) for key in keys} == {partition}
    for partition in range(6):
        sent = [key.decode() for topic, at, keys in producer.sent_batches if at == partition for key in keys]
        assert sent == [message.key for message in messages if partition_of(message.key) == partition]
    assert sorted(value for _, (_, value, _) in producer.transactions[-1]) == sorted(m.value for m in messages)


class AllPolled(Exception):
    """The fake consumer has nothing left to give."""


@dataclass
class FetchingConsumer:
    """Hands out each partition's messages `per_fetch` at a time, as a fetch that stops at its size
    limit brings a large batch's chunks a few at a time."""

    queues: dict[TopicPartition, list[Record]]
    per_fetch: int

    def assignment(self) -> set[TopicPartition]:
        return set(self.queues)

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        polled: dict[TopicPartition, list[Record]] = {}
        for partition in partitions or tuple(self.queues):
            taken = min(self.per_fetch, max_records - sum(map(len, polled.values())))
            if self.queues[partition] and taken:
                polled[partition] = self.queues[partition][:taken]
                del self.queues[partition][:taken]
        if not polled and not partitions:
            raise AllPolled
        return polled


def chunked_batch_records(partition: TopicPartition, chunks: int) -> list[Record]:
    """A batch of `chunks` one-record chunks, alone on `partition`."""
    batch_id = uuid.uuid4()
    submitted, _, _ = batch_records(batch_id, first_offset=0)
    record = SubmittedRecord(line=1, action="Create", uln="3000000002", qualification_number="60303049", grade="5")
    payloads: list[Contract] = [
        BatchRecordsSubmitted(batch_id=batch_id, ao_id=AO, chunk_index=index, records=(record,))
        for index in range(chunks)
    ]
    payloads.append(BatchSubmissionCompleted(batch_id=batch_id, ao_id=AO, record_count=chunks, chunk_count=chunks))
    values = [submitted.value, *(encode(wrap(p, source="ingest", correlation_id="c")) for p in payloads)]
    return [
        Record(partition.topic, partition.partition, offset, AO.encode(), value) for offset, value in enumerate(values)
    ]


@dataclass
class BatchesInAssembly(UndecidedBatches):
    """Notes, as each decision is stored, which partitions have a batch arrived in part."""

    decider: Decider | None = None
    assembling_at_each_decision: list[list[int]] = field(default_factory=list)

    def stored_messages(self, ours: Sequence[OutgoingMessage]) -> tuple[OutgoingMessage, ...]:
        assert self.decider is not None
        assembling = [partition for partition in range(6) if self.decider._assembler.assembling(partition)]
        self.assembling_at_each_decision.append(assembling)
        return super().stored_messages(ours)


async def test_a_batch_arriving_in_parts_is_read_whole_before_other_partitions_batches_are_decoded() -> None:
    """Decoded chunks are ~4 times their size: a part batch of every other partition would be held
    while one is decided."""
    partitions = [TopicPartition(BATCH_SUBMITTED.name, n) for n in range(3)]
    consumer = FetchingConsumer({p: chunked_batch_records(p, chunks=5) for p in partitions}, per_fetch=2)
    producer, decisions = FakeProducer(), BatchesInAssembly()
    target = decider(decisions, producer, FakeParked(), consumer=consumer, reference=EmptyReference())
    decisions.decider = target

    with pytest.raises(AllPolled):
        await target.run()

    assert decisions.assembling_at_each_decision == [[], [], []]
    assert len(decisions.published) == 3


@dataclass
class CountingPolls(FetchingConsumer):
    """Notes how many messages each poll handed out."""

    handed_out: list[int] = field(default_factory=list)

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        polled = await super().getmany(*partitions, timeout_ms=timeout_ms, max_records=max_records)
        self.handed_out.append(sum(map(len, polled.values())))
        return polled


async def test_a_poll_hands_out_about_one_large_batch_and_longer_batches_are_still_read_whole() -> None:
    """What the consumer fetched beyond a poll stays compressed in its buffers: a poll that handed out
    every partition's fetched chunks held them all, decompressed, while one batch after another was
    decided (decision 0115)."""
    partitions = [TopicPartition(BATCH_SUBMITTED.name, n) for n in range(3)]
    longer = POLL_MESSAGES + 8
    consumer = CountingPolls({p: chunked_batch_records(p, chunks=longer) for p in partitions}, per_fetch=1_000)
    producer, decisions = FakeProducer(), BatchesInAssembly()
    target = decider(decisions, producer, FakeParked(), consumer=consumer, reference=EmptyReference())
    decisions.decider = target

    with pytest.raises(AllPolled):
        await target.run()

    assert len(decisions.published) == 3
    assert max(consumer.handed_out) == POLL_MESSAGES
    assert decisions.assembling_at_each_decision == [[], [], []]


@dataclass
class CountedKeys:
    """A key store without keys that notes each look-up, and says when the first came."""

    found: list[set[str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        self.found.append(set(ulns))
        self.arrived.set()
        return {}

    async def destroy(self, name: str) -> bool:
        return False


@dataclass
class CountedStates(UndecidedBatches):
    read: list[set[tuple[str, str]]] = field(default_factory=list)

    async def existing_states(self, ao_id: str, needed: object) -> dict[tuple[str, str], list[AchievementState]]:
        assert isinstance(needed, frozenset)
        self.read.append(set(needed))
        return {}


async def judged_as_it_arrives(
    reference: EmptyReference, decisions: CountedStates, keys: CountedKeys
) -> tuple[Decider, list[Record]]:
    """A decider that has judged the first chunk of a batch, whose end marker has not come yet."""
    target = decider(decisions, FakeProducer(), FakeParked(), reference=reference, keys=keys)
    submitted, chunk, marker = batch_records(uuid.uuid4(), first_offset=0)
    await offer_all(target, [submitted, chunk])
    await asyncio.wait_for(keys.arrived.wait(), timeout=10)
    [judging] = target._judging.values()
    await asyncio.wait(judging.tasks())
    return target, [marker]


async def test_a_chunks_learners_states_and_keys_are_read_as_it_arrives_and_not_again_at_the_batch_end() -> None:
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target, marker = await judged_as_it_arrives(reference, decisions, keys)
    assert (reference.looked_up, keys.found, decisions.published) == ([{"3000000002"}], [{"3000000002"}], [])

    await offer_all(target, marker)

    assert (reference.looked_up, keys.found, len(decisions.published)) == ([{"3000000002"}], [{"3000000002"}], 1)


async def test_chunks_that_arrive_together_are_read_and_judged_together() -> None:
    """A batch is one Kafka transaction, so its chunks usually arrive at once: one read of their
    learners, states and keys, not one per chunk after the other."""
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target = decider(decisions, FakeProducer(), FakeParked(), reference=reference, keys=keys)

    await offer_all(target, chunked_batch_records(PARTITION, chunks=3))

    assert (len(reference.looked_up), len(keys.found), len(decisions.read)) == (1, 1, 1)
    assert len(decisions.published) == 1


async def test_every_batch_is_judged_and_finished_on_the_deciders_own_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread, not asyncio's pool: the buffers of the decisions come and go in one malloc arena."""
    threads: list[str] = []

    def noting_the_thread(work: Any) -> Any:
        def noted(*args: Any) -> Any:
            threads.append(threading.current_thread().name)
            return work(*args)

        return noted

    monkeypatch.setattr(validation.decider, "judge_part", noting_the_thread(validation.decider.judge_part))
    monkeypatch.setattr(validation.decider, "finish_and_write", noting_the_thread(finish_and_write))
    decisions = CountedStates()
    target = decider(decisions, FakeProducer(), FakeParked(), reference=EmptyReference(), keys=CountedKeys())

    await offer_all(target, chunked_batch_records(PARTITION, chunks=3))
    await offer_all(target, chunked_batch_records(PARTITION, chunks=2))

    assert len(decisions.published) == 2 and len(threads) >= 4
    assert len(set(threads)) == 1 and threads[0].startswith("validation-judge")


async def test_a_batch_with_a_chunk_that_came_twice_is_judged_again_whole() -> None:
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target = decider(decisions, FakeProducer(), FakeParked(), reference=reference, keys=keys)
    submitted, chunk, marker = chunked_batch_records(PARTITION, chunks=1)

    await offer_all(target, [submitted, chunk, replace(chunk, offset=2), replace(marker, offset=3)])

    assert len(reference.looked_up) == 2 and len(decisions.published) == 1


async def test_a_batch_whose_registry_changed_since_its_chunks_were_read_is_judged_again_whole() -> None:
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target, marker = await judged_as_it_arrives(reference, decisions, keys)
    reference.registry_changes += 1

    await offer_all(target, marker)

    assert (reference.looked_up, keys.found) == ([{"3000000002"}] * 2, [{"3000000002"}] * 2)
    assert len(decisions.published) == 1


async def test_a_batch_whose_catalogue_changed_since_its_chunks_were_read_is_judged_again_whole() -> None:
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target, marker = await judged_as_it_arrives(reference, decisions, keys)
    reference.catalogue = Catalogue()

    await offer_all(target, marker)

    assert reference.looked_up == [{"3000000002"}] * 2 and len(decisions.published) == 1


async def test_a_batch_whose_aos_states_were_read_before_the_aos_previous_batch_was_decided_reads_them_again() -> None:
    """Two batches of one AO sent at once: the later one's chunk came before the earlier one's end."""
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target, later_marker = await judged_as_it_arrives(reference, decisions, keys)
    await offer_all(target, batch_records(uuid.uuid4(), first_offset=10))  # decided while the later waits
    assert len(decisions.read) == 2

    await offer_all(target, later_marker)

    assert len(decisions.read) == 3 and len(decisions.published) == 2


async def test_a_revoked_partitions_batches_are_no_longer_judged() -> None:
    reference, decisions, keys = EmptyReference(), CountedStates(), CountedKeys()
    target, _ = await judged_as_it_arrives(reference, decisions, keys)
    [judging] = target._judging.values()

    listener = validation.decider._ForgetRevoked(target._assembler, target._judging, target._revocations)
    await listener.on_partitions_revoked({PARTITION})

    assert target._judging == {} and not target._assembler.assembling(PARTITION.partition)
    assert all(task.done() for task in judging.tasks())


@dataclass
class RebalancedAtTheFirstTransaction(FakeProducer):
    """As FakeProducer; its first transaction (a batch's `validating`) comes with a rebalance that revokes
    the partition, as a group session lost while Kafka was away does."""

    revoke: Callable[[], Awaitable[None]] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self.revoke is not None:
            revoke, self.revoke = self.revoke, None
            await revoke()
        async with super().transaction():
            yield


async def test_what_is_left_of_a_poll_is_not_offered_once_its_partition_was_revoked() -> None:
    """The batch's start was forgotten with the partition: its end, offered from the same poll, used to
    find no start and park the batch for good (the fault matrix's PostgreSQL row after a Kafka outage)."""
    batch_id = uuid.uuid4()
    producer, parked, decisions = RebalancedAtTheFirstTransaction(), FakeParked(), CountedStates()
    target = decider(decisions, producer, parked, reference=EmptyReference(), keys=CountedKeys())
    listener = validation.decider._ForgetRevoked(target._assembler, target._judging, target._revocations)
    producer.revoke = lambda: listener.on_partitions_revoked({PARTITION})
    target._consumer = FetchingConsumer({PARTITION: batch_records(batch_id, first_offset=0)}, per_fetch=10)

    with pytest.raises(AllPolled):
        await target.run()

    assert parked.parked == [] and decisions.published == []
    # read again from the committed offset by whoever has the partition now: decided once, whole
    consumer = FetchingConsumer({PARTITION: batch_records(batch_id, first_offset=0)}, per_fetch=10)
    now_theirs = decider(decisions, FakeProducer(), parked, consumer=consumer, reference=EmptyReference())
    with pytest.raises(AllPolled):
        await now_theirs.run()
    assert parked.parked == [] and decisions.published == [batch_id]


@dataclass
class RegistryAnsweringOnceKeysAreSought(EmptyReference):
    """A learner registry that answers only after the batch's keys were sought: a decider that looked
    the learners up before opening the records would wait for it in vain."""

    keys_sought: asyncio.Event = field(default_factory=asyncio.Event)

    async def learners_for(self, ulns: Iterable[str]) -> dict[str, Learner]:
        try:
            await asyncio.wait_for(self.keys_sought.wait(), timeout=5)
        except TimeoutError:  # an outage the decider would wait out for ever: a failure it gives up on
            raise AssertionError("the keys were not sought while the learners were looked up") from None
        return {}


@dataclass
class KeysSought:
    sought: asyncio.Event

    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        self.sought.set()
        return {}

    async def destroy(self, name: str) -> bool:
        return False


async def test_a_batchs_records_are_opened_while_its_learners_are_looked_up() -> None:
    batch_id, decisions, registry = uuid.uuid4(), UndecidedBatches(), RegistryAnsweringOnceKeysAreSought()
    keys = KeysSought(registry.keys_sought)
    target = decider(decisions, FakeProducer(), FakeParked(), reference=registry, keys=keys)
    await offer_all(target, batch_records(batch_id, first_offset=0))

    assert decisions.published == [batch_id]


async def test_the_garbage_collector_is_off_while_a_batch_is_decided_and_on_again_after_it_also_after_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collecting_while_deciding: list[bool] = []

    def decide_noting_the_collector(*args: Any, **kwargs: Any) -> tuple[BatchDecision, list[OutgoingMessage]]:
        collecting_while_deciding.append(gc.isenabled())
        if len(collecting_while_deciding) == 1:
            raise RuntimeError("the first attempt fails")
        return finish_and_write(*args, **kwargs)

    monkeypatch.setattr(validation.decider, "finish_and_write", decide_noting_the_collector)
    batch_id, decisions = uuid.uuid4(), UndecidedBatches()
    target = decider(decisions, FakeProducer(), FakeParked(), reference=EmptyReference())
    await offer_all(target, batch_records(batch_id, first_offset=0))

    assert collecting_while_deciding == [False, False] and decisions.published == [batch_id]
    assert gc.isenabled()


# --- a batch's own key (decision 0106) --------------------------------------------------------------


@dataclass
class BatchKeys:
    """A key store holding a batch's own key; notes each key destroyed, with the Kafka transaction open
    then (by index) and whether that transaction had its offsets yet."""

    producer: FakeProducer
    keys: dict[str, LearnerKey | Erased] = field(default_factory=dict)
    destroyed: list[tuple[str, int, bool]] = field(default_factory=list)

    def issue(self, batch_id: uuid.UUID) -> LearnerKey:
        key = LearnerKey(batch_key_name(batch_id), secrets.token_bytes(32))
        self.keys[key.uln] = key
        return key

    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        return {uln: self.keys[uln] for uln in ulns if uln in self.keys}

    async def destroy(self, name: str) -> bool:
        current = self.producer.transactions[-1] if self.producer.transactions else []
        self.destroyed.append((name, len(self.producer.transactions) - 1, any(k == "offsets" for k, _ in current)))
        erased = not isinstance(self.keys.get(name), Erased)
        self.keys[name] = ERASED
        return erased


def unkeyed_batch(batch_id: uuid.UUID, keys: BatchKeys, first_offset: int = 0) -> list[Record]:
    """A batch of one record whose ULN is badly formed, its details sealed under the batch's own key."""
    clear = SubmittedRecord(line=1, action="Create", uln="12345", given_name="Ada", family_name="Byron", grade="5")
    personal = sealed_personal(keys.issue(batch_id), Purpose.SUBMITTED_RECORD, clear.__dict__)
    sealed = clear.model_copy(update={"given_name": None, "family_name": None, "personal": personal})
    return batch_records(batch_id, first_offset, sealed)


async def test_a_batchs_own_key_is_destroyed_once_its_decision_is_stored_before_its_offsets_commit() -> None:
    batch_id, producer, decisions = uuid.uuid4(), FakeProducer(), UndecidedBatches()
    keys = BatchKeys(producer)
    target = decider(decisions, producer, FakeParked(), reference=EmptyReference(), keys=keys)
    await offer_all(target, unkeyed_batch(batch_id, keys))

    assert decisions.published == [batch_id] and len(decisions.recorded) == 1
    # in the decision's transaction, before its offsets: a decider killed after it commits leaves no key
    assert keys.destroyed == [(batch_key_name(batch_id), len(producer.transactions) - 1, False)]
    outcomes = b"".join(
        value for topic, (_, value, _) in producer.transactions[-1][:-1] if topic == BATCH_OUTCOMES.name
    )
    assert b"RV001" in outcomes and b"RV004" not in outcomes  # opened with the batch's key, judged as in clear

    learners_only = uuid.uuid4()
    await offer_all(target, batch_records(learners_only, first_offset=3))
    assert [name for name, _, _ in keys.destroyed] == [batch_key_name(batch_id)]  # no key, nothing destroyed


async def test_a_batch_decided_before_has_its_key_destroyed_before_its_stored_decision_goes_out() -> None:
    batch_id, producer = uuid.uuid4(), FakeProducer()
    keys = BatchKeys(producer)
    keys.issue(batch_id)
    await offer_all(decider(FakeDecisions([]), producer, FakeParked(), keys=keys), batch_records(batch_id, 0))

    # after the start's announcement, before the transaction that publishes the stored decision
    assert keys.destroyed == [(batch_key_name(batch_id), 0, False)]
    assert len(producer.transactions) == 2 and producer.transactions[-1][-1][0] == "offsets"


async def test_an_abandoned_batchs_key_is_destroyed_once_its_abandonment_is_committed() -> None:
    batch_id, producer = uuid.uuid4(), FakeProducer()
    keys = BatchKeys(producer)
    refused = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")
    target = decider(FakeDecisions([refused] * 5), producer, FakeParked(), reference=EmptyReference(), keys=keys)
    await offer_all(target, unkeyed_batch(batch_id, keys, first_offset=40))

    assert keys.destroyed == [(batch_key_name(batch_id), len(producer.transactions) - 1, True)]
    assert keys.keys[batch_key_name(batch_id)] is ERASED


@dataclass
class MaintenanceSchedule:
    """A maintenance gate whose window an operator opens and ends: `hold` waits while a window is open."""

    outside_windows: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set once a start waits for a window's end

    async def hold(self, consumer: object) -> None:
        if not self.outside_windows.is_set():
            self.holding.set()
        await self.outside_windows.wait()


@dataclass
class AssignedConsumer:
    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}


async def test_a_window_that_opens_mid_batch_lets_that_batch_finish_and_holds_the_next_at_its_start() -> None:
    schedule, decisions = MaintenanceSchedule(), UndecidedBatches()
    schedule.outside_windows.set()
    target = decider(
        decisions,
        FakeProducer(),
        FakeParked(),
        consumer=AssignedConsumer(),
        reference=EmptyReference(),
        maintenance=schedule,
    )
    first = chunked_batch_records(PARTITION, chunks=3)
    after_first = len(first)
    second = [replace(record, offset=after_first + record.offset) for record in chunked_batch_records(PARTITION, 1)]

    await offer_all(target, first[:2])  # its start and first chunk
    schedule.outside_windows.clear()  # a window opens
    await asyncio.wait_for(offer_all(target, first[2:]), timeout=10)

    assert len(decisions.published) == 1, "the batch begun before the window is decided whole"
    starting = asyncio.create_task(offer_all(target, second))
    await asyncio.wait_for(schedule.holding.wait(), timeout=10)
    assert (len(decisions.published), target._judging, starting.done()) == (1, {}, False)

    schedule.outside_windows.set()  # the window ends
    await asyncio.wait_for(starting, timeout=10)
    assert len(decisions.published) == 2


def _counted(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "lrs_consumer_messages_total", {"consumer": validation.decider.CONSUMER, "outcome": outcome}
        )
        or 0.0
    )


async def test_the_decider_counts_its_messages_applied_and_parked_like_every_consumer() -> None:
    applied, parked_before = _counted("applied"), _counted("parked")
    producer, parked = FakeProducer(), FakeParked()
    unreadable = Record(PARTITION.topic, PARTITION.partition, 7, AO.encode(), b'{"event_type": "lrs.nothing"}')
    good = batch_records(uuid.uuid4(), first_offset=8)
    await offer_all(decider(FakeDecisions([]), producer, parked), [unreadable, *good])

    assert (_counted("applied") - applied, _counted("parked") - parked_before) == (len(good), 1)
    retrying = REGISTRY.get_sample_value("lrs_consumer_retrying", {"consumer": validation.decider.CONSUMER})
    assert retrying == 0.0  # there from the start, not only after a first failure


# --- what the decider says while it decides, and how far behind it is ------------------------------------


def _busy_since() -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_busy_since_seconds", {"consumer": validation.decider.CONSUMER})


@dataclass
class NotingBusy(FakeDecisions):
    """As FakeDecisions; notes `lrs_consumer_busy_since_seconds` as each attempt reads the stored decision."""

    seen: list[float | None] = field(default_factory=list)

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        self.seen.append(_busy_since())
        return await super().stored(batch_id)


async def test_the_decider_says_since_when_it_decides_a_batch_and_clears_it_after_also_after_a_failure() -> None:
    """A lock on one of its tables held a decision for minutes while `/readyz`, the retry gauge and the lag said
    nothing: the start of the decision now running is what an alert can see."""
    gone = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    refused = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00")
    decided_after_an_outage, given_up = NotingBusy([gone]), NotingBusy([refused] * 5)
    before = datetime.now(UTC).timestamp()

    await offer_all(decider(decided_after_an_outage, FakeProducer(), FakeParked()), batch_records(uuid.uuid4(), 0))
    assert _busy_since() == 0.0
    parked = FakeParked()
    await offer_all(decider(given_up, FakeProducer(), parked), batch_records(uuid.uuid4(), 3))
    assert _busy_since() == 0.0

    seen = decided_after_an_outage.seen + given_up.seen
    assert len(seen) == 5 and len(parked.parked) == 1  # two attempts, then three before the batch was given up
    assert all(since is not None and before <= since <= datetime.now(UTC).timestamp() for since in seen)


@dataclass
class SizeCheckingProducer(FakeProducer):
    """Refuses a record as aiokafka's producer does: before it joins the transaction."""

    async def send(self, topic: str, key: bytes | None = None, value: bytes | None = None, headers: Any = None) -> None:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers or [])
        if size > MAX_MESSAGE_BYTES:
            raise MessageSizeTooLargeError(f"The message is {size} bytes when serialized")
        await super().send(topic, key, value, headers)


async def test_a_message_too_large_to_send_again_is_parked_whole_and_its_dead_letter_goes_without_its_value() -> None:
    """A foreign producer's gzip batch fits the topic compressed: its copy did not fit the producer, and the
    KafkaError stopped the decider, again at every start."""
    producer, parked = SizeCheckingProducer(), FakeParked()
    oversized = b"not json " * ((MAX_MESSAGE_BYTES - 160) // 9)
    record = Record(PARTITION.topic, PARTITION.partition, 7, AO.encode(), oversized)
    await offer_all(decider(FakeDecisions([]), producer, parked), [record])

    [parking] = parked.parked
    assert parking.value == oversized
    [(dead_letter_topic, (key, value, headers)), offsets] = producer.transactions[-1]
    assert (dead_letter_topic, key, value) == (BATCH_SUBMITTED.dead_letters, AO.encode(), b"")
    assert DeadLetter.from_headers(headers).value_omitted_bytes == len(oversized)
    assert offsets == ("offsets", {PARTITION: 8})
