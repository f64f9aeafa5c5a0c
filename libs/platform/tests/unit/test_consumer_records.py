"""A consumer given `deliver_messages` reads the same messages as aiokafka's records turned into `Message`s."""

from __future__ import annotations

import struct
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.consumer.fetcher import READ_COMMITTED
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from lrs_platform.consumer import Message, deliver_messages, messages_of

PARTITION = TopicPartition("lrs.plr.events.v1", 4)
ZSTD = DefaultRecordBatch.CODEC_ZSTD
ABORTING_PRODUCER = 9


def _batch(base_offset: int, producer_id: int, codec: int, records: list[tuple[bytes | None, bytes | None]]) -> bytes:
    builder = DefaultRecordBatchBuilder(
        2, codec, is_transactional=1, producer_id=producer_id, producer_epoch=0, base_sequence=0, batch_size=1 << 20
    )
    for delta, (key, value) in enumerate(records):
        builder.append(delta, timestamp=1_700_000_000_000 + delta, key=key, value=value, headers=[])
    built = bytes(builder.build())
    return struct.pack(">q", base_offset) + built[8:]


# offsets 0-2 committed (zstd), 3-4 from a transaction aborted later, 5-6 committed (uncompressed, a tombstone)
FETCHED = (
    _batch(0, 7, ZSTD, [(b"uln-1", b'{"n":0}'), (b"uln-2", b'{"n":1}'), (None, b'{"n":2}')])
    + _batch(3, ABORTING_PRODUCER, ZSTD, [(b"uln-1", b'{"aborted":3}'), (b"uln-3", b'{"aborted":4}')])
    + _batch(5, 7, 0, [(b"uln-2", b'{"n":5}'), (b"uln-4", None)])
)


def _read(consumer: AIOKafkaConsumer) -> tuple[list[Any], int]:
    """The partition's records as aiokafka's fetcher builds them for `consumer` (what it hands the fetcher at
    start), and the position after them."""
    records = fetcher.PartitionRecords(
        PARTITION,
        MemoryRecords(FETCHED),
        [(ABORTING_PRODUCER, 3)],
        0,
        consumer._key_deserializer,
        consumer._value_deserializer,
        True,
        READ_COMMITTED,
    )
    read = list(records)
    return read, records.next_fetch_offset


async def test_a_consumer_given_deliver_messages_reads_the_messages_aiokafkas_records_make() -> None:
    plain = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")
    delivering = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")
    deliver_messages(delivering)

    records, position = _read(plain)
    messages, delivered_position = _read(delivering)

    assert all(type(message) is Message for message in messages)
    assert messages == [Message.of(record) for record in records]
    assert [message.offset for message in messages] == [0, 1, 2, 5, 6]
    assert delivered_position == position == 7
    assert messages_of({PARTITION: messages}) == messages_of({PARTITION: records}) == messages
    await plain.stop()
    await delivering.stop()


async def test_a_consumer_with_a_value_deserializer_of_its_own_keeps_aiokafkas_records() -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers="127.0.0.1:9", value_deserializer=lambda value: value and value.upper()
    )
    deliver_messages(consumer)

    records, _ = _read(consumer)

    await consumer.stop()
    assert not any(isinstance(record, Message) for record in records)
    assert [record.value for record in records] == [b'{"N":0}', b'{"N":1}', b'{"N":2}', b'{"N":5}', None]
