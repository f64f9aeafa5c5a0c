"""A qualification a live reference load removed leaves the compacted `lrs.reference.qualifications.v1` (consumer
walk, finding 3): after the load's rows, a tombstone (its key, a null value) for each key of the previous load the
new load lacks. Read from the beginning, as a downstream mirror reads it, the last message of the removed key is
null and comes after every row of the new load; the kept keys' last messages are the new load's rows. Real Kafka; a
private copy of the topic (`TopicNames.prefix`), so no other test's reader sees these loads."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import TopicPartition

from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.reference import Framework, QualificationKind, QualificationPublished
from lrs_contracts.registry import decode
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Catalogue, Qualification
from lrs_platform.kafka import ensure_topics, make_consumer, make_producer
from validation.catalogue_publisher import publish_catalogue

pytestmark = pytest.mark.integration


def _qualification(number: str, pathway: str | None = None) -> Qualification:
    return Qualification(
        qualification_number=number,
        pathway=pathway,
        title=f"Qualification {number}",
        awarding_organisation_id="RN5133",
        awarding_organisation_name="Test Awarding Body",
        level="Level 2",
        qualification_type="GCSE (9 to 1)",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=("9", "1", "U"),
    )


async def _read_all(bootstrap: str, topic: str) -> list[tuple[int, bytes, bytes | None]]:
    """(offset, key, value) of every message of the one-partition topic, from its beginning, read committed."""
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        read: list[tuple[int, bytes, bytes | None]] = []
        while await consumer.position(partition) < end:
            for records in (await consumer.getmany(partition, timeout_ms=500)).values():
                read.extend((record.offset, record.key, record.value) for record in records)
        return read
    finally:
        await consumer.stop()


async def test_a_qualification_the_new_load_removed_ends_on_a_tombstone_after_the_loads_rows(
    kafka_bootstrap: str,
) -> None:
    topics = TopicNames(Environment.LIVE, f"t{uuid.uuid4().hex[:8]}.")
    topic = topics.of(REFERENCE_QUALIFICATIONS)
    await ensure_topics(kafka_bootstrap, topics.declared([REFERENCE_QUALIFICATIONS]))
    first = Catalogue.of([_qualification("61008187"), _qualification("60000001"), _qualification("60000003", "B")])
    second = Catalogue.of([_qualification("60000001"), _qualification("60000004")])
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        await publish_catalogue(producer, first, 1, topic)
        await publish_catalogue(producer, second, 2, topic, previous=first)
    finally:
        await producer.stop()

    read = await _read_all(kafka_bootstrap, topic)
    last: dict[bytes, tuple[int, bytes | None]] = {key: (offset, value) for offset, key, value in read}
    assert {key for key, (_, value) in last.items() if value is None} == {b"61008187|", b"60000003|B"}
    current = {key: decode(value)[1] for key, (_, value) in last.items() if value is not None}
    assert sorted(current) == [b"60000001|", b"60000004|"]
    assert all(isinstance(row, QualificationPublished) and row.source == "reference load 2" for row in current.values())
    second_rows = [offset for offset, _, value in read if value is not None and b"reference load 2" in value]
    tombstones = [offset for offset, _, value in read if value is None]
    assert len(second_rows) == 2 and len(tombstones) == 2
    assert max(second_rows) < min(tombstones)  # the removals only once the whole new load is on the log
