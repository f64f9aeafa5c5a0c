"""Validation places a decision's messages itself: on the partitions Kafka's default partitioner picks."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as kafka_murmur2

from validation.partitions import murmur2, partition_of


def test_murmur2_is_kafkas_for_keys_of_every_length_up_to_40_bytes() -> None:
    rng = random.Random(20240822)
    for length in range(41):
        for _ in range(200):
            key = rng.randbytes(length)
            assert murmur2(key) == kafka_murmur2(key), key


def test_a_uln_goes_to_the_partition_the_default_partitioner_picks() -> None:
    rng, partitions = random.Random(7), list(range(6))
    for _ in range(2_000):
        key = str(rng.randrange(10**9, 10**10)).encode()
        assert partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)
