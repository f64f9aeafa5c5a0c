"""What the same machine does without the service in the way, measured in the same run.

- Kafka: plain aiokafka (acks=all, linger 5 ms, 1 MB batches, no compression, no idempotence, no
  transactions) producing N records of the benchmark's mean record size to a fresh 6-partition
  topic, with a consumer in the same process reading them as they arrive (the round trip), then a
  second consumer reading them all again from the start (consume only).
- PostgreSQL: COPY (binary) of the very rows the projection wrote (achievements, their history and
  their batches' marks) into empty copies of those tables, indexes included, in one transaction.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

PARTITIONS = 6
PLR_TABLES = ("achievements", "achievement_history", "applied_lines")


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


async def _partitions_with_leaders(
    consumer: AIOKafkaConsumer, topic: str, within: float = 30.0
) -> list[TopicPartition]:
    """The topic's partitions once each has a leader (a topic just created may not have them yet)."""
    deadline = time.monotonic() + within
    while True:
        cluster = await consumer._client.fetch_all_metadata()
        found = sorted(cluster.partitions_for_topic(topic) or [])
        if found and all((cluster.leader_for_partition(TopicPartition(topic, p)) or -1) >= 0 for p in found):
            return [TopicPartition(topic, p) for p in found]
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} has no leader for every partition after {within}s")
        await asyncio.sleep(0.1)


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1_048_576,
        fetch_max_bytes=32 * 1_048_576,
    )


async def _consume(consumer: AIOKafkaConsumer, count: int, within: float) -> float:
    """Reads until `count` records arrived; returns the time.perf_counter() of the last one."""
    deadline = time.monotonic() + within
    received = 0
    while received < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumed {received} of {count} records in {within}s")
        batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
        received += sum(len(records) for records in batches.values())
    return time.perf_counter()


async def kafka_round_trip(bootstrap: str, count: int, record_bytes: int) -> dict[str, Any]:
    topic = f"bench-baseline-{uuid.uuid4().hex[:10]}"
    await _create_topic(bootstrap, topic)
    payloads = [os.urandom(record_bytes // 2).hex().encode() for _ in range(64)]
    keys = [str(1_000_000_000 + n * 7919 % 8_999_999_999).encode() for n in range(count)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1_048_576)
    follower = _consumer(bootstrap)
    try:
        await producer.start()
        await follower.start()
        partitions = await _partitions_with_leaders(follower, topic)
        follower.assign(partitions)
        for partition in partitions:  # the topic is new and empty: no need to ask for its offsets
            follower.seek(partition, 0)
        started = time.perf_counter()
        following = asyncio.create_task(_consume(follower, count, within=600))
        pending = []
        for n, key in enumerate(keys):
            pending.append(await producer.send(topic, payloads[n % len(payloads)], key=key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        produced = time.perf_counter()
        round_trip_end = await following
    finally:
        await producer.stop()
        await follower.stop()
    reader = _consumer(bootstrap)
    try:
        await reader.start()
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        consume_started = time.perf_counter()
        consumed = await _consume(reader, count, within=600)
    finally:
        await reader.stop()
    await delete_topics(bootstrap, [topic])
    produce_s = produced - started
    round_trip_s = round_trip_end - started
    consume_s = consumed - consume_started
    return {
        "records": count,
        "record_bytes": record_bytes,
        "produce_s": round(produce_s, 3),
        "produce_per_s": round(count / produce_s),
        "round_trip_s": round(round_trip_s, 3),
        "round_trip_per_s": round(count / round_trip_s),
        "consume_s": round(consume_s, 3),
        "consume_per_s": round(count / consume_s),
    }


async def kafka_consume(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    """Plain aiokafka reading `count` records of an existing topic from the start."""
    consumer = _consumer(bootstrap)
    try:
        await consumer.start()
        partitions = await _partitions_with_leaders(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        finished = await _consume(consumer, count, within=900)
    finally:
        await consumer.stop()
    seconds = finished - started
    return {"records": count, "consume_s": round(seconds, 3), "consume_per_s": round(count / seconds)}


async def postgres_copy(database_url: str, batch_ids: list[str], schema: str = "plr") -> dict[str, Any]:
    """COPY of the rows the projection wrote for `batch_ids` (achievements, their history, their
    batches' marks) into fresh copies of those tables, indexes included, in one transaction."""
    of_batches = f'FROM "{schema}".achievement_history WHERE batch_id = ANY($1::uuid[])'
    queries = {
        "achievements": f'SELECT * FROM "{schema}".achievements'
        f" WHERE achievement_id IN (SELECT achievement_id {of_batches})",
        "achievement_history": f"SELECT * {of_batches}",
        "applied_lines": f'SELECT * FROM "{schema}".applied_lines WHERE batch_id = ANY($1::uuid[])',
    }
    connection = await asyncpg.connect(database_url)
    target = f"bench_copy_{uuid.uuid4().hex[:8]}"
    try:
        buffers: dict[str, bytes] = {}
        rows: dict[str, int] = {}
        for table, query in queries.items():
            buffer = io.BytesIO()
            result = await connection.copy_from_query(query, batch_ids, output=buffer, format="binary")
            buffers[table] = buffer.getvalue()
            rows[table] = int(result.split()[-1])
        await connection.execute(f'CREATE SCHEMA "{target}"')
        for table in PLR_TABLES:
            await connection.execute(f'CREATE TABLE "{target}".{table} (LIKE "{schema}".{table} INCLUDING ALL)')
        started = time.perf_counter()
        async with connection.transaction():
            for table in PLR_TABLES:
                await connection.copy_to_table(
                    table, source=io.BytesIO(buffers[table]), schema_name=target, format="binary"
                )
        seconds = time.perf_counter() - started
        await connection.execute(f'DROP SCHEMA "{target}" CASCADE')
    finally:
        await connection.close()
    achievements = rows["achievements"]
    return {
        "rows": rows,
        "bytes": sum(len(data) for data in buffers.values()),
        "copy_s": round(seconds, 3),
        "records_per_s": round(achievements / seconds) if seconds > 0 else None,
    }
