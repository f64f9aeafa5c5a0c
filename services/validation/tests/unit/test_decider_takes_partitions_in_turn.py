"""The decider serves its partitions in turn: one AO's flood of small batches on one partition held another
partition's batch for 27-98 s (the noisy-neighbour walk, finding 2). aiokafka hands out its buffered records from
the first partition that has any until that partition's fetch is used up, and a 1 MB fetch of small batches is
hundreds of them; the decider then decided every batch of each poll before looking at another partition."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import pytest
from aiokafka import TopicPartition

import validation.decider
from lrs_contracts.topics import BATCH_SUBMITTED
from validation.decider import POLL_MESSAGES

from .decider_fakes import Record, batch_records, decider
from .test_consumer_decider import (
    AllPolled,
    EmptyReference,
    FakeParked,
    FakeProducer,
    FetchingConsumer,
    UndecidedBatches,
)

FLOODED = TopicPartition(BATCH_SUBMITTED.name, 1)
OTHER = TopicPartition(BATCH_SUBMITTED.name, 5)
ALSO_FLOODED = TopicPartition(BATCH_SUBMITTED.name, 3)


def small_batches(partition: TopicPartition, count: int) -> tuple[list[uuid.UUID], list[Record]]:
    """`count` one-record batches one after another on `partition`, each its start, its chunk and its marker."""
    ids, records = [], []
    for index in range(count):
        batch_id = uuid.uuid4()
        ids.append(batch_id)
        records += [
            replace(record, topic=partition.topic, partition=partition.partition)
            for record in batch_records(batch_id, first_offset=3 * index)
        ]
    return ids, records


def the_offsets_committed(producer: FakeProducer) -> list[dict[TopicPartition, int]]:
    return [value for transaction in producer.transactions for topic, value in transaction if topic == "offsets"]


async def test_a_batch_on_another_partition_is_decided_after_at_most_one_of_a_flooded_partitions_batches() -> None:
    flooded, flooded_records = small_batches(FLOODED, 40)
    [other], other_records = small_batches(OTHER, 1)
    # one fetch of the flooded partition holds all its batches, as 1 MB of small batches does; as aiokafka, a poll of
    # every partition hands out the first partition's records up to the poll's limit before any other's
    consumer = FetchingConsumer({FLOODED: flooded_records, OTHER: other_records}, per_fetch=1_000)
    producer, decisions = FakeProducer(), UndecidedBatches()
    target = decider(decisions, producer, FakeParked(), consumer=consumer, reference=EmptyReference())

    with pytest.raises(AllPolled):
        await target.run()

    assert decisions.published.index(other) <= 1
    assert [batch_id for batch_id in decisions.published if batch_id != other] == flooded  # in the partition's order
    # each decision commits its own batch's offsets, never past a message left for the partition's next turn
    committed = [offsets[FLOODED] for offsets in the_offsets_committed(producer) if FLOODED in offsets]
    assert committed == [3 * (index + 1) for index in range(len(flooded))]
    assert target._held == {} and target._in_hand == {}


async def test_two_flooded_partitions_take_turns_with_a_third_and_none_waits_behind_the_other() -> None:
    flooded, flooded_records = small_batches(FLOODED, 20)
    also_flooded, also_flooded_records = small_batches(ALSO_FLOODED, 20)
    [other], other_records = small_batches(OTHER, 1)
    consumer = FetchingConsumer(
        {FLOODED: flooded_records, ALSO_FLOODED: also_flooded_records, OTHER: other_records}, per_fetch=1_000
    )
    decisions = UndecidedBatches()
    target = decider(decisions, FakeProducer(), FakeParked(), consumer=consumer, reference=EmptyReference())

    with pytest.raises(AllPolled):
        await target.run()

    assert decisions.published.index(other) <= 2
    partition_of = {**dict.fromkeys(flooded, FLOODED), **dict.fromkeys(also_flooded, ALSO_FLOODED), other: OTHER}
    order = [partition_of[batch_id] for batch_id in decisions.published]
    # after the third partition's one batch, the flooded two alternate, each in its own order
    assert order[3:] == [order[3], order[4]] * 19 and {order[3], order[4]} == {FLOODED, ALSO_FLOODED}
    assert [batch_id for batch_id in decisions.published if batch_id in flooded] == flooded
    assert [batch_id for batch_id in decisions.published if batch_id in also_flooded] == also_flooded


async def test_what_turns_leave_held_and_a_poll_hand_out_stays_about_one_polls_worth() -> None:
    """Decision 0115: the messages in hand, decompressed, are about one large batch's at most."""
    _, flooded_records = small_batches(FLOODED, 10)
    _, also_flooded_records = small_batches(ALSO_FLOODED, 10)
    _, other_records = small_batches(OTHER, 10)
    consumer = FetchingConsumer(
        {FLOODED: flooded_records, ALSO_FLOODED: also_flooded_records, OTHER: other_records}, per_fetch=1_000
    )
    decisions = UndecidedBatches()
    target = decider(decisions, FakeProducer(), FakeParked(), consumer=consumer, reference=EmptyReference())
    in_hand_after_each_poll: list[int] = []  # held by turns, and what the poll handed out
    poll = consumer.getmany

    async def noting(
        *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        held = sum(len(each.records) for each in target._held.values())
        polled = await poll(*partitions, timeout_ms=timeout_ms, max_records=max_records)
        in_hand_after_each_poll.append(held + sum(map(len, polled.values())))
        return polled

    consumer.getmany = noting  # type: ignore[method-assign]

    with pytest.raises(AllPolled):
        await target.run()

    assert len(decisions.published) == 30
    assert max(in_hand_after_each_poll) <= POLL_MESSAGES + 1


@dataclass
class RevokingAtATransaction(FakeProducer):
    """As FakeProducer; its transaction number `at` (from 0) comes with the revocation `revoke`."""

    at: int = 0
    revoke: Callable[[], Awaitable[None]] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if len(self.transactions) == self.at and self.revoke is not None:
            revoke, self.revoke = self.revoke, None
            await revoke()
        async with super().transaction():
            yield


async def test_a_partitions_messages_held_for_its_next_turn_are_not_offered_once_it_was_revoked() -> None:
    """Whoever has the partition now reads them again from its committed offset: offered here too, its batch
    would be decided twice, by two deciders."""
    [first, second], flooded_records = small_batches(FLOODED, 2)
    [other], other_records = small_batches(OTHER, 1)
    # the first batch's `validating` and decision, then the other partition's `validating`: the flooded partition
    # is revoked while its second batch waits, held, for its next turn
    producer, parked, decisions = RevokingAtATransaction(at=2), FakeParked(), UndecidedBatches()
    consumer = FetchingConsumer({FLOODED: flooded_records, OTHER: other_records}, per_fetch=1_000)
    target = decider(decisions, producer, parked, consumer=consumer, reference=EmptyReference())
    listener = validation.decider._ForgetRevoked(target._assembler, target._judging, target._revocations)
    revoked: list[TopicPartition] = []

    async def revoke_the_flooded_partition() -> None:
        revoked.append(FLOODED)
        await listener.on_partitions_revoked({FLOODED})

    producer.revoke = revoke_the_flooded_partition

    with pytest.raises(AllPolled):
        await target.run()

    assert revoked == [FLOODED]
    assert decisions.published == [first, other]
    assert parked.parked == [] and second not in decisions.published
    assert target._held == {} and target._in_hand == {}
