"""A consumer given `deliver_messages` reads the same messages as aiokafka's records turned into `Message`s."""

from __future__ import annotations

import hashlib
import inspect
import struct
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.consumer.fetcher import READ_COMMITTED
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c_py

from lrs_platform.consumer import Message, deliver_messages, messages_of

PARTITION = TopicPartition("lrs.plr.events.v1", 4)
ZSTD = DefaultRecordBatch.CODEC_ZSTD
ABORTING_PRODUCER = 9
CONTROL_BATCH = 0x20  # the control bit of a record batch's attributes


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


def _marker(base_offset: int, producer_id: int, *, commit: bool) -> bytes:
    """A transaction's control batch (its commit or abort marker), as the broker writes it."""
    key = struct.pack(">hh", 0, 1 if commit else 0)
    batch = bytearray(_batch(base_offset, producer_id, 0, [(key, struct.pack(">hi", 0, 0))]))
    attributes = struct.unpack_from(">h", batch, 21)[0] | CONTROL_BATCH
    struct.pack_into(">h", batch, 21, attributes)
    struct.pack_into(">I", batch, 17, calc_crc32c_py(batch[21:]))
    return bytes(batch)


# offsets 0-1 committed, 2 their commit marker, 3-4 aborted, 5 their abort marker, 6-8 committed (zstd)
WITH_MARKERS = (
    _batch(0, 7, 0, [(b"uln-1", b'{"n":0}'), (b"uln-2", b'{"n":1}')])
    + _marker(2, 7, commit=True)
    + _batch(3, ABORTING_PRODUCER, ZSTD, [(b"uln-1", b'{"aborted":3}'), (b"uln-3", b'{"aborted":4}')])
    + _marker(5, ABORTING_PRODUCER, commit=False)
    + _batch(6, 7, ZSTD, [(b"uln-2", b'{"n":6}'), (b"uln-4", None), (None, b'{"n":8}')])
)


def _read(
    consumer: AIOKafkaConsumer,
    fetched: bytes = FETCHED,
    aborted: list[tuple[int, int]] | None = None,
    fetch_offset: int = 0,
    *,
    one_by_one: bool = False,
) -> tuple[list[Any], int]:
    """The partition's records as aiokafka's fetcher builds them for `consumer` (what it hands the fetcher at
    start), and the position after them; read whole (as a fetch result reads them) or one `next` at a time."""
    records = fetcher.PartitionRecords(
        PARTITION,
        MemoryRecords(fetched),
        [(ABORTING_PRODUCER, 3)] if aborted is None else aborted,
        fetch_offset,
        consumer._key_deserializer,
        consumer._value_deserializer,
        True,
        READ_COMMITTED,
    )
    read = [*iter(lambda: next(records, None), None)] if one_by_one else list(records)
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


async def test_messages_skip_control_batches_aborted_transactions_and_offsets_before_the_fetch_as_aiokafka_does() -> (
    None
):
    plain = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")
    delivering = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")
    deliver_messages(delivering)

    for fetch_offset in (0, 1, 4, 7):
        records, position = _read(plain, WITH_MARKERS, [(ABORTING_PRODUCER, 3)], fetch_offset)
        for one_by_one in (False, True):
            messages, delivered_position = _read(
                delivering, WITH_MARKERS, [(ABORTING_PRODUCER, 3)], fetch_offset, one_by_one=one_by_one
            )
            assert messages == [Message.of(record) for record in records]
            assert delivered_position == position == 9
    assert [message.offset for message in _read(delivering, WITH_MARKERS, [(ABORTING_PRODUCER, 3)])[0]] == [
        0,
        1,
        6,
        7,
        8,
    ]
    await plain.stop()
    await delivering.stop()


def test_the_aiokafka_code_that_messages_are_read_as_is_the_code_they_follow() -> None:
    """`lrs_platform.consumer._PartitionRecords._messages` is aiokafka 0.14's `_unpack_records` with the record
    built in its loop: an aiokafka whose reading of a fetched partition changed fails here, to be followed."""
    source = inspect.getsource(fetcher.PartitionRecords._unpack_records)
    assert hashlib.sha256(source.encode()).hexdigest() == UNPACK_RECORDS_SHA256


UNPACK_RECORDS_SHA256 = "b803e6d46480732c7a7faa8e784b338bcdd4e707ea67fba96c013654b04b8a08"
