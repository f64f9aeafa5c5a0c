"""scripts/dev/kafka_drill.py, the drill tool of docs/operations.md ("Dead letters", Drill; runbook walk, finding 7):
a test message put on a topic, and a `<topic>.dlq` copy read back with its headers. On a topic of this test's own."""

from __future__ import annotations

import dataclasses

import pytest
from aiokafka import AIOKafkaProducer
from scripts.dev import kafka_drill
from tests.support.projector import new_prefix

from lrs_contracts import topics as contract_topics
from lrs_platform.kafka import ensure_topics, topic_partitions


async def test_a_message_is_produced_and_read_back_with_its_headers(
    kafka_bootstrap: str,
) -> None:
    topic = new_prefix() + "lrs.batch.outcomes.v1.dlq"
    drill = dataclasses.replace(contract_topics.BATCH_OUTCOMES, name=topic, compacted=False, partitions=1)
    await ensure_topics(kafka_bootstrap, [drill], partitions=1)

    where = await kafka_drill.produce(kafka_bootstrap, topic, "drill-key", bytes.fromhex("fffe") + b"not json")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b'{"a": 1}', key=b"drill-key", headers=[("lrs-original-offset", b"4711"), ("lrs-attempts", b"3")]
        )
    finally:
        await producer.stop()
    records = await kafka_drill.read(kafka_bootstrap, topic, last=10, key="drill-key")

    assert where == f"{topic} 0:0"
    assert [(record["offset"], record["key"]) for record in records] == [(0, "drill-key"), (1, "drill-key")]
    assert records[0]["value_hex"] == "fffe6e6f74206a736f6e" and "value" not in records[0]
    assert records[1]["value"] == '{"a": 1}'
    assert records[1]["headers"] == {"lrs-original-offset": "4711", "lrs-attempts": "3"}
    assert await kafka_drill.read(kafka_bootstrap, topic, last=1, key=None) == [records[1]]
    assert await kafka_drill.read(kafka_bootstrap, topic, last=10, key="another") == []


async def test_a_message_for_a_topic_that_does_not_exist_is_refused_in_one_line(kafka_bootstrap: str) -> None:
    topic = new_prefix() + "no.such.topic"

    with pytest.raises(SystemExit) as refused:
        await kafka_drill.produce(kafka_bootstrap, topic, "drill-key", b"v")

    assert str(refused.value) == f"kafka_drill.py: no topic {topic!r} on {kafka_bootstrap}"
    assert await topic_partitions(kafka_bootstrap, topic) == []


async def test_the_last_messages_are_found_behind_commit_markers_and_other_keys(kafka_bootstrap: str) -> None:
    """Each transaction's commit marker takes an offset but is no message (literal walk, finding 4): `--last 2`
    of a transactional topic printed one message or none, and `--key` looked only in the last N offsets."""
    topic = new_prefix() + "lrs.batch.outcomes.v1"
    drill = dataclasses.replace(contract_topics.BATCH_OUTCOMES, name=topic, compacted=False, partitions=1)
    await ensure_topics(kafka_bootstrap, [drill], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=topic)
    await producer.start()
    try:
        for key, value in [(b"sought", b"1"), (b"other", b"2"), (b"other", b"3"), (b"other", b"4")]:
            async with producer.transaction():
                await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    newest = await kafka_drill.read(kafka_bootstrap, topic, last=2, key=None)
    sought = await kafka_drill.read(kafka_bootstrap, topic, last=1, key="sought")

    assert [record["value"] for record in newest] == ["3", "4"]
    assert [(record["offset"], record["value"]) for record in sought] == [(0, "1")]
