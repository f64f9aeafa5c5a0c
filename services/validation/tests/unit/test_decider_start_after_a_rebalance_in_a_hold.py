"""A batch's start read before a maintenance hold, whose partition was taken from this decider and given back during
the hold, is not offered after it: the consumer reads the partition again from its committed offsets, and another
decider may have decided that batch meanwhile. Offered, the start waited for an end that never came again, and every
later commit of the partition stayed pinned at it (the second review of session 59)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from aiokafka import TopicPartition

import validation.decider
from lrs_contracts.topics import BATCH_SUBMITTED

from .decider_fakes import Record, batch_records, decider
from .test_consumer_decider import (
    AllPolled,
    EmptyReference,
    FakeParked,
    FakeProducer,
    FetchingConsumer,
    UndecidedBatches,
)

PARTITION = TopicPartition(BATCH_SUBMITTED.name, 1)


def _on_the_partition(records: list[Record]) -> list[Record]:
    return [replace(record, topic=PARTITION.topic, partition=PARTITION.partition) for record in records]


async def test_a_start_read_before_a_rebalance_during_the_hold_is_read_again_not_offered() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    first_records, second_records = (
        _on_the_partition(batch_records(first, 0)),
        _on_the_partition(batch_records(second, 3)),
    )
    consumer = FetchingConsumer({PARTITION: list(first_records)}, per_fetch=1_000)
    producer, decisions = FakeProducer(), UndecidedBatches()
    holds: list[int] = []

    class RebalancedDuringTheHold:
        holding = False

        async def hold(self, _: Any) -> None:
            if holds:
                return
            holds.append(1)
            # the partition taken away (another decider decides the first batch, committing 3), then given back
            await listener.on_partitions_revoked({PARTITION})
            consumer.queues[PARTITION] = list(second_records)

    target = decider(
        decisions,
        producer,
        FakeParked(),
        consumer=consumer,
        reference=EmptyReference(),
        maintenance=RebalancedDuringTheHold(),
    )
    listener = validation.decider._ForgetRevoked(target._assembler, target._judging, target._revocations)
    with pytest.raises(AllPolled):
        await target.run()

    committed = [
        offsets for transaction in producer.transactions for topic, offsets in transaction if topic == "offsets"
    ]
    assert committed[-1][PARTITION] == 6  # past the second batch, not pinned at the first one's start
    assert not target._assembler.assembling(PARTITION.partition)
