"""Kafka set-up that tests share."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.codec import gzip_decode, lz4_decode, snappy_decode, zstd_decode
from tests.support.waiting import eventually

from lrs_contracts.topics import Topic
from lrs_platform.consumer import ConsumerLoop


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


async def broker_log_dirs(bootstrap: str) -> list[Path]:
    """Where the broker keeps its segment files (its `log.dirs`), as it says itself; it must run on this machine."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [broker] = (await admin.describe_cluster())["brokers"]
        [described] = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker["node_id"]))])
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in described.resources[0][4]}
    directories = [Path(path) for path in (configs.get("log.dirs") or configs["log.dir"]).split(",")]
    missing = [path for path in directories if not path.is_dir()]
    if missing:
        raise AssertionError(f"the broker's log directories {missing} are not on this machine")
    return directories


_DECOMPRESS: dict[int, Callable[[bytes], bytes]] = {
    0: lambda data: data,
    1: gzip_decode,
    2: snappy_decode,
    3: lz4_decode,
    4: zstd_decode,
}
_BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")  # Kafka's record batch, magic 2: 61 bytes before the records


def segment_contents(path: Path) -> bytes:
    """A segment file's bytes as the disk holds them, each record batch's records inflated when the producer
    compressed them (the services' producers use zstd: the names a raw grep looks for would be hidden)."""
    data = path.read_bytes()
    contents = bytearray()
    position = 0
    while position + _BATCH_HEADER.size <= len(data):
        header = _BATCH_HEADER.unpack_from(data, position)
        length, magic, attributes = header[1], header[3], header[5]
        end = position + 12 + length
        if length <= 0 or end > len(data):
            break  # the unused tail of a preallocated segment
        if magic != 2:
            raise AssertionError(f"{path}: a record batch of magic {magic} at byte {position}")
        records = data[position + _BATCH_HEADER.size : end]
        contents += data[position : position + _BATCH_HEADER.size] + _DECOMPRESS[attributes & 0x07](records)
        position = end
    return bytes(contents + data[position:])


def private_copy(topic: Topic, label: str) -> Topic:
    """`topic`'s shape under a name of the test's own, not compacted: a poison left on it would otherwise be read by
    every later test whose consumer starts from the topic's beginning (reporting with an empty store, say)."""
    return dataclasses.replace(topic, name=f"test.{label}.{uuid.uuid4().hex[:8]}", compacted=False)


@contextlib.asynccontextmanager
async def running(loop: ConsumerLoop) -> AsyncIterator[ConsumerLoop]:
    """`loop` running in a task, given once it holds its partitions; cancelled when the block ends."""
    task = asyncio.create_task(loop.run())

    async def assigned() -> bool | None:
        return loop.assigned or None

    try:
        await eventually(assigned, within=60, what="the consumer assigned its partitions")
        yield loop
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
