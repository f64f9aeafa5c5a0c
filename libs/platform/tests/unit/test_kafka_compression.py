"""Producers compress record batches with zstd at level 1 (decision 0104), and the batches read back whole."""

from __future__ import annotations

from aiokafka import codec
from aiokafka.record import _crecords, default_records
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from lrs_platform.kafka import ZSTD_LEVEL, make_producer

ZSTD = 4
VALUES = [
    f'{{"line": {line}, "grade": "Merit", "title": "GCSE in Mathematics {line % 7}"}}'.encode() for line in range(2_000)
]


async def test_a_producer_of_the_platform_has_its_record_batches_compressed_at_level_one() -> None:
    payload = b"".join(VALUES)
    assert codec.zstd_encode(payload, level=ZSTD_LEVEL) != codec.zstd_encode(payload), "levels 1 and 3 differ here"

    make_producer("127.0.0.1:9")

    for builders in (_crecords.default_records, default_records):
        assert builders.zstd_encode(payload) == codec.zstd_encode(payload, level=ZSTD_LEVEL)


async def test_a_batch_compressed_at_level_one_reads_back_as_it_was_written() -> None:
    make_producer("127.0.0.1:9")
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=ZSTD,
        is_transactional=1,
        producer_id=7,
        producer_epoch=0,
        base_sequence=0,
        batch_size=16 * 1_048_576,
    )
    for offset, value in enumerate(VALUES):
        builder.append(offset, timestamp=None, key=b"uln", value=value, headers=[])

    batch = DefaultRecordBatch(bytes(builder.build()))

    assert batch.compression_type == ZSTD
    assert [record.value for record in batch] == VALUES
