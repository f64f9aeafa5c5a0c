"""Messages a consumer had not read when the topic's retention deleted them are skipped loudly (the exhaust walk,
finding 1): the consumer goes on from the partition's new start as before, and says so, as the error
`messages_expired_unread` and in `lrs_consumer_expired_messages_total`. Retention is played by DeleteRecords, which
moves a partition's log start as retention's deletion of a segment does; each test has a topic and group of its own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.admin.records_to_delete import RecordsToDelete

from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard
from lrs_platform.kafka import EXPIRED_MESSAGES, make_admin, make_consumer, make_producer

pytestmark = pytest.mark.integration


async def _topic_of_ten(bootstrap: str) -> TopicPartition:
    """A topic of its own with offsets 0-9 on its one partition."""
    topic = f"lrs.test.expiry.{uuid.uuid4().hex[:12]}"
    admin = make_admin(bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for number in range(10):
            await producer.send_and_wait(topic, f"message {number}".encode(), key=b"k")
    finally:
        await producer.stop()
    return TopicPartition(topic, 0)


async def _delete_before(bootstrap: str, tp: TopicPartition, offset: int) -> None:
    admin = make_admin(bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(offset)}, timeout_ms=15_000)
    finally:
        await admin.close()


async def _first_offsets(consumer: AIOKafkaConsumer) -> list[int]:
    async with asyncio.timeout(30):
        while True:
            polled = await consumer.getmany(timeout_ms=500)
            if polled:
                return [record.offset for records in polled.values() for record in records]


def _expired(consumer: str, topic: str) -> float:
    return EXPIRED_MESSAGES.labels(consumer, topic)._value.get()  # type: ignore[no-any-return]


async def test_a_group_whose_committed_offset_retention_deleted_says_so_and_goes_on_from_the_start(
    kafka_bootstrap: str,
) -> None:
    tp = await _topic_of_ten(kafka_bootstrap)
    group = f"lrs-test-expiry-{uuid.uuid4().hex[:12]}"
    reader = make_consumer(kafka_bootstrap, tp.topic, group_id=group)
    await reader.start()
    try:
        await _first_offsets(reader)
        await reader.commit({tp: 3})  # read up to offset 3 when it stopped
    finally:
        await reader.stop()
    await _delete_before(kafka_bootstrap, tp, 7)  # retention took 0-6: 3, 4, 5 and 6 were never read

    again = make_consumer(kafka_bootstrap, tp.topic, group_id=group, name="expiry-probe")
    with structlog.testing.capture_logs() as logged:
        await again.start()
        try:
            offsets = await _first_offsets(again)
        finally:
            await again.stop()

    assert offsets[0] == 7  # on from the new start, as before
    assert _expired("expiry-probe", tp.topic) == 4
    said = [entry for entry in logged if entry["event"] == "messages_expired_unread"]
    assert said == [
        {
            "event": "messages_expired_unread",
            "log_level": "error",
            "consumer": "expiry-probe",
            "topic": tp.topic,
            "partition": 0,
            "position": 3,
            "log_start": 7,
            "offsets_skipped": 4,
        }
    ]


async def test_a_consumer_that_read_everything_before_the_deletion_says_nothing(kafka_bootstrap: str) -> None:
    tp = await _topic_of_ten(kafka_bootstrap)
    group = f"lrs-test-expiry-{uuid.uuid4().hex[:12]}"
    reader = make_consumer(kafka_bootstrap, tp.topic, group_id=group)
    await reader.start()
    try:
        while (await reader.position(tp) if reader.assignment() else 0) < 10:
            await _first_offsets(reader)
        await reader.commit({tp: 10})
    finally:
        await reader.stop()
    await _delete_before(kafka_bootstrap, tp, 10)

    again = make_consumer(kafka_bootstrap, tp.topic, group_id=group)
    with structlog.testing.capture_logs() as logged:
        await again.start()
        try:
            async with asyncio.timeout(30):
                while not again.assignment() or await again.position(tp) != 10:
                    await again.getmany(timeout_ms=200)
        finally:
            await again.stop()

    assert _expired(group, tp.topic) == 0
    assert not [entry for entry in logged if entry["event"] == "messages_expired_unread"]


async def test_a_loop_of_no_group_placed_at_a_deleted_position_says_so_under_its_own_name(
    kafka_bootstrap: str,
) -> None:
    """As the consumers that keep their positions themselves are placed (challenges', validation's Sandpit copy)."""
    tp = await _topic_of_ten(kafka_bootstrap)
    await _delete_before(kafka_bootstrap, tp, 5)
    name = f"expiry-loop-{uuid.uuid4().hex[:8]}"
    applied: list[Message] = []
    done = asyncio.Event()

    async def handle(messages: object) -> None:
        applied.extend(messages)  # type: ignore[arg-type]
        if applied and applied[-1].offset == 9:
            done.set()

    async def place(consumer: AIOKafkaConsumer) -> None:
        consumer.assign([tp])
        consumer.seek(tp, 2)  # the position it stored

    class _Store:
        async def held_streams(self, name: str, streams: object) -> dict[object, object]:
            return {}

    class _Office:  # nothing is parked: every message applies
        store = _Store()

        def register(self, name: str, guard: object) -> None: ...

        async def publish_pending(self, name: str) -> None: ...

        async def counts(self, name: str) -> dict[str, int]:
            return {"error": 0, "blocked": 0}

    guard = PoisonGuard(name, handle, _Office())  # type: ignore[arg-type]
    loop = ConsumerLoop(
        guard, [tp.topic], lambda: make_consumer(kafka_bootstrap, group_id=None), place=place, progress=_NoProgress()
    )
    with structlog.testing.capture_logs() as logged:
        task = asyncio.create_task(loop.run())
        try:
            async with asyncio.timeout(30):
                await done.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert applied[0].offset == 5
    assert _expired(name, tp.topic) == 3
    assert [
        (entry["consumer"], entry["position"], entry["log_start"])
        for entry in logged
        if entry["event"] == "messages_expired_unread"
    ] == [(name, 2, 5)]


class _NoProgress:
    async def passed(self, consumer: AIOKafkaConsumer, offsets: object) -> None: ...
