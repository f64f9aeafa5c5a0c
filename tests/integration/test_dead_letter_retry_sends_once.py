"""A poison event is copied to its dead-letter topic once: a retry that fails again leaves it parked (first parked
time kept, last tried time set) without a second copy, which analysts and tools counting the topic took for another
poison. An event held behind it that fails on its own once the poison is skipped is a poison parked for the first
time, and is copied then, once."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from tests.support.projector import PLR, App, Events, Record, caught_up, ends_of, envelope_bytes, produce, uln_for
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter
from plr_projector.store import LIVE_SCHEMA

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"


def _malformed(valid: bytes) -> bytes:
    document = json.loads(valid)
    del document["data"]["data"]["grade"]  # an AchievementUpdated without its grade: parked at every try
    return json.dumps(document).encode()


async def _dead_lettered_offsets(kafka: str, prefix: str) -> list[int]:
    """The original offsets of every copy on the PLR dead-letter topic, read to its end as it is now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    offsets: list[int] = []
    try:
        topic = f"{prefix}{PLR}.dlq"
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, partition) for partition in sorted(cluster.partitions_for_topic(topic) or [])
        ]
        assert partitions, f"{topic} has no partitions"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)

        async def read_to_the_end() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                offsets.extend(DeadLetter.from_headers(record.headers).original_offset for record in records)
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        await eventually(read_to_the_end, within=20, what=f"{topic} read to its end")
    finally:
        await consumer.stop()
    return sorted(offsets)


async def _parked(app: App, uln: str) -> list[tuple[int, str]]:
    parked = (await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]
    return [(item["offset"], item["reason"]) for item in parked]


async def _copies_waiting(app: App, uln: str) -> int:
    connection = await asyncpg.connect(app.database_url)
    try:
        waiting: int = await connection.fetchval(
            f"SELECT count(*) FROM {LIVE_SCHEMA}.parked WHERE park_key = $1 AND dlq_pending", uln
        )
    finally:
        await connection.close()
    return waiting


async def test_a_failed_retry_sends_no_second_dead_letter_and_a_first_parking_sends_one(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    records = [
        Record(PLR, uln, _malformed(envelope_bytes(events.updated(uln, grade="8"), sequence=2)), 0),
        Record(PLR, uln, _malformed(envelope_bytes(events.updated(uln, grade="9"), sequence=3)), 0),
    ]
    positions = await produce(kafka_bootstrap, prefix, records)
    poison, held = (offset for _, offset in positions)
    ends = ends_of(positions)

    async def projected() -> bool:
        return await caught_up(app.database_url, ends)

    await eventually(projected, within=30, what="projection")
    assert await _parked(app, uln) == [(poison, "error"), (held, "blocked")]

    async def poison_copied() -> bool:
        return await _copies_waiting(app, uln) == 0 and await _dead_lettered_offsets(kafka_bootstrap, prefix) == [
            poison
        ]

    await eventually(poison_copied, within=20, what="the poison's one dead letter")

    for _ in range(2):
        retried = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/retry", {"reason": "still broken"})
        assert retried.status_code == 200, retried.text
        assert retried.json()["results"][0]["still_parked"] == 2
    assert await _parked(app, uln) == [(poison, "error"), (held, "blocked")]
    assert await _copies_waiting(app, uln) == 0
    assert await _dead_lettered_offsets(kafka_bootstrap, prefix) == [poison]

    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "garbage from a test producer"})
    assert skipped.status_code == 200, skipped.text
    assert await _parked(app, uln) == [(held, "error")]  # a poison of its own now: parked for the first time

    async def held_copied_once() -> bool:
        return await _copies_waiting(app, uln) == 0 and len(await _dead_lettered_offsets(kafka_bootstrap, prefix)) >= 2

    await eventually(held_copied_once, within=20, what="the held event's dead letter")
    assert await _dead_lettered_offsets(kafka_bootstrap, prefix) == [poison, held]
