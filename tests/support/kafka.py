"""Kafka set-up that tests share."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from lrs_contracts.topics import Topic


async def pin_group_at_end(bootstrap: str, group: str, topics: tuple[Topic, ...]) -> None:
    """Starts a new consumer group at the topics' ends, so it ignores what other tests produced before."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for topic in topics for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def send(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]], *, partition: int | None = None
) -> list[int]:
    """(key, value) messages in order, each acknowledged by every in-sync replica: their offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        return [
            (await producer.send_and_wait(topic, value, key=key, partition=partition)).offset for key, value in messages
        ]
    finally:
        await producer.stop()
