"""A poison too large to copy to its DLQ stops nothing (DESIGN §5, decision 0030): a foreign producer's gzip batch
fits the topic compressed, but its value, sent again with the dead-letter headers, fits no producer. Its copy went
out for ever under the consumer's lock: the next message was never applied, and an operator's skip never answered."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tests.integration.test_consumer_poison import dead_letters_from_now
from tests.integration.test_notifier import batch_completed, envelope
from tests.support.kafka import pin_group_at_end, private_copy, running
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.registry import decode, encode
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy
from lrs_platform.kafka import MAX_MESSAGE_BYTES, ensure_topics, make_consumer, make_producer
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, producer_publisher

pytestmark = pytest.mark.integration

PARTITION = 1
CONSUMER = "oversized.outcomes"
OUTCOMES = private_copy(BATCH_OUTCOMES, "oversized")
QUICK = RetryPolicy(base_seconds=0.05, max_seconds=0.5)


@contextlib.asynccontextmanager
async def consuming(
    kafka_bootstrap: str, pool: asyncpg.Pool, applied: list[bytes]
) -> AsyncIterator[tuple[DeadLetterOffice, ConsumerLoop]]:
    """A group-commit consumer of the outcomes topic from its end, parking what it cannot decode."""
    await ensure_topics(kafka_bootstrap, [OUTCOMES])
    group = f"oversized-{uuid.uuid4().hex[:8]}"
    await pin_group_at_end(kafka_bootstrap, group, (OUTCOMES,))
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    store = ParkedMessages(pool, "oversized_parked")
    await store.migrate()
    office = DeadLetterOffice(store, producer_publisher(producer))

    async def handle(messages: Sequence[Message]) -> None:
        for message in messages:
            decode(message.value or b"")
            applied.append(message.key or b"")

    loop = ConsumerLoop(
        PoisonGuard(CONSUMER, handle, office, QUICK),
        [OUTCOMES.name],
        lambda: make_consumer(kafka_bootstrap, group_id=group),
    )
    try:
        async with running(loop):
            yield office, loop
    finally:
        await producer.stop()


async def _true(value: bool) -> bool:
    return value


async def _held_behind_one(office: DeadLetterOffice) -> bool:
    return await office.counts(CONSUMER) == {"error": 1, "blocked": 1}


async def test_a_poison_too_large_to_copy_is_parked_its_letter_sent_without_it_and_the_consumer_goes_on(
    kafka_bootstrap: str, pool: asyncpg.Pool
) -> None:
    poisoned_batch, next_batch = uuid.uuid4(), uuid.uuid4()
    oversized = b"x" * (MAX_MESSAGE_BYTES - 160)  # no JSON; gzip makes it a few kilobytes on the broker
    applied: list[bytes] = []
    async with (
        consuming(kafka_bootstrap, pool, applied) as (office, _),
        dead_letters_from_now(kafka_bootstrap, OUTCOMES) as dlq,
    ):
        foreign = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, compression_type="gzip", max_request_size=MAX_MESSAGE_BYTES, acks="all"
        )
        await foreign.start()
        try:
            poison_key = str(poisoned_batch).encode()
            await foreign.send_and_wait(OUTCOMES.name, oversized, key=poison_key, partition=PARTITION)
            for batch_id in (next_batch, poisoned_batch):  # another batch's, then one held behind the poison
                completed = encode(envelope(batch_completed(batch_id, "results@example.org")))
                await foreign.send_and_wait(OUTCOMES.name, completed, key=str(batch_id).encode(), partition=PARTITION)
        finally:
            await foreign.stop()

        next_key = str(next_batch).encode()
        await eventually(lambda: _true(next_key in applied), within=30, what="the next batch's message applied")
        await eventually(lambda: _held_behind_one(office), within=30, what="the poison's batch held behind it")
        key, value, letter = await _first_dead_letter(dlq)
        assert (key, value, letter.value_omitted_bytes) == (poison_key, b"", len(oversized))
        [poison] = [row for row in (await office.listing(CONSUMER))[0] if row.reason == "error"]
        assert (poison.value, poison.key) == (oversized, poison_key)

        result = await asyncio.wait_for(office.skip(poison.id, "operator:ops", "too large"), timeout=20)
        assert (result.skipped, result.applied, result.still_parked) == (1, 1, 0)
        assert applied == [next_key, poison_key]


async def _first_dead_letter(reader: AIOKafkaConsumer) -> tuple[bytes | None, bytes | None, DeadLetter]:
    async def arrived() -> tuple[bytes | None, bytes | None, DeadLetter] | None:
        for records in (await reader.getmany(timeout_ms=200)).values():
            for record in records:
                return record.key, record.value, DeadLetter.from_headers(record.headers)
        return None

    return await eventually(arrived, within=30, what="the dead letter")
