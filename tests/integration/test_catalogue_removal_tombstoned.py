"""A qualification a live reference load removed leaves the compacted `lrs.reference.qualifications.v1` (consumer
walk, finding 3): after the load's rows, a tombstone (its key, a null value) for each key of the previous load the
new load lacks. Read from the beginning, as a downstream mirror reads it, the last message of the removed key is
null and comes after every row of the new load; the kept keys' last messages are the new load's rows. Real Kafka; a
private copy of the topic (`TopicNames.prefix`), so no other test's reader sees these loads.

The keys published are kept in validation's database (`validation.published_catalogue_keys`) and replaced only once
every row and tombstone is acknowledged (review of 5c21ed24, finding 2): an operator's load whose publishing failed
after the load was committed (Kafka away), retried, still tombstones the qualification it removed; so does the next
load, for a key whose row a load that failed half-way left on the log; and two replicas' loads at once take turns.
Real PostgreSQL for those, a database of each test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from services.validation.tests.unit.test_catalogue_tombstones import qualification
from tests.support.databases import prepare_validation_database

from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.reference import QualificationPublished
from lrs_contracts.registry import decode
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Catalogue
from lrs_platform.database import create_pool
from lrs_platform.kafka import ensure_topics, make_consumer, make_producer
from validation.catalogue_publisher import keys_of, load_and_publish, publish_catalogue, publish_newest_load
from validation.reference_store import ReferenceFiles, ReferenceStore

pytestmark = pytest.mark.integration


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
    first = Catalogue.of([qualification("61008187"), qualification("60000001"), qualification("60000003", "B")])
    second = Catalogue.of([qualification("60000001"), qualification("60000004")])
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        await publish_catalogue(producer, first, 1, topic)
        await publish_catalogue(producer, second, 2, topic, published=keys_of(first))
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


SHIPPED = ReferenceFiles.read()
OFQUAL = SHIPPED.ofqual_catalogue.splitlines()
# the first rows of the shipped Ofqual snapshot, by their keys on the topic
KEPT, DROPPED, REMOVED, ADDED = "61008187|", "61008199|", "50042932|", "5004767X|"
ROWS = {KEPT: OFQUAL[1], DROPPED: OFQUAL[2], REMOVED: OFQUAL[3], ADDED: OFQUAL[4]}


def _files(*keys: str) -> ReferenceFiles:
    """Reference files whose catalogue is the shipped snapshot's rows of `keys`, and no extra qualifications."""
    extra_header = SHIPPED.extra_qualifications.splitlines()[0]
    ofqual = "\n".join([OFQUAL[0], *(ROWS[key] for key in keys)]) + "\n"
    return ReferenceFiles(SHIPPED.awarding_organisations, ofqual, extra_header + "\n")


FIRST = _files(KEPT, DROPPED, REMOVED)
SECOND = _files(KEPT, DROPPED, ADDED)  # REMOVED gone, ADDED new
THIRD = _files(KEPT)  # DROPPED and ADDED gone


class _KafkaAway:
    """The outbox producer with the broker gone: every send fails (`rows_first`: once the load's rows are sent)."""

    def __init__(self, producer: AIOKafkaProducer, rows_first: bool = False) -> None:
        self.producer, self.rows_first = producer, rows_first

    async def send(self, topic: str, *, key: bytes, value: bytes | None) -> Any:
        if value is None or not self.rows_first:
            raise KafkaConnectionError("the broker is away")
        return await self.producer.send(topic, key=key, value=value)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Live validation's database, made as validation makes it at its start."""
    created = await create_pool(fresh_database_url, max_size=4)
    try:
        await prepare_validation_database(created)
        yield created
    finally:
        await created.close()


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    topics = TopicNames(Environment.LIVE, f"t{uuid.uuid4().hex[:8]}.")
    await ensure_topics(kafka_bootstrap, topics.declared([REFERENCE_QUALIFICATIONS]))
    return topics.of(REFERENCE_QUALIFICATIONS)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    started = make_producer(kafka_bootstrap)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def _first_start(store: ReferenceStore, producer: AIOKafkaProducer, topic: str) -> None:
    """Live validation's first start: the first files loaded, then published (`bootstrap`)."""
    assert await store.load_first(FIRST)
    await publish_newest_load(store, producer, topic)


def _said(read: list[tuple[int, bytes, bytes | None]]) -> list[tuple[str, str | None]]:
    """Each message of the topic, in order: its key, and the load its row is of (None for a tombstone)."""
    said: list[tuple[str, str | None]] = []
    for _, key, value in read:
        row = None if value is None else decode(value)[1]
        assert row is None or isinstance(row, QualificationPublished)
        said.append((key.decode(), None if row is None else row.source))
    return said


async def test_a_retried_load_whose_publishing_failed_after_the_load_still_tombstones_what_it_removed(
    kafka_bootstrap: str, pool: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    store = ReferenceStore(pool)
    await _first_start(store, producer, topic)

    with pytest.raises(KafkaConnectionError):
        await load_and_publish(store, _KafkaAway(producer), SECOND, topic)
    assert keys_of((await store.current())[0]) == {KEPT, DROPPED, ADDED}  # the load is in, none of it sent
    retried = await load_and_publish(store, producer, SECOND, topic)  # the operator's retry

    said = _said(await _read_all(kafka_bootstrap, topic))
    load = f"reference load {retried.version}"
    assert said[:3] == [(key, "reference load 1") for key, _ in said[:3]]  # the first start's load
    assert sorted(said[3:6]) == sorted([(KEPT, load), (DROPPED, load), (ADDED, load)])
    assert said[6:] == [(REMOVED, None)]  # after every row of the retried load
    assert await store.published_keys() == {KEPT, DROPPED, ADDED}


async def test_a_key_whose_row_a_failed_publishing_left_on_the_log_is_tombstoned_by_the_next_load(
    kafka_bootstrap: str, pool: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    store = ReferenceStore(pool)
    await _first_start(store, producer, topic)

    # the second load's rows, ADDED's among them, on the log; the broker gone before its tombstone
    with pytest.raises(KafkaConnectionError):
        await load_and_publish(store, _KafkaAway(producer, rows_first=True), SECOND, topic)
    third = await load_and_publish(store, producer, THIRD, topic)  # the operator's next load

    last = dict(_said(await _read_all(kafka_bootstrap, topic)))  # what compaction keeps: each key's last message
    assert last == {KEPT: f"reference load {third.version}", DROPPED: None, REMOVED: None, ADDED: None}
    assert await store.published_keys() == {KEPT}


async def test_two_replicas_loading_at_once_take_turns_and_tombstone_every_key_the_last_load_lacks(
    kafka_bootstrap: str, pool: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    store = ReferenceStore(pool)
    await _first_start(store, producer, topic)

    await asyncio.gather(
        load_and_publish(store, producer, SECOND, topic), load_and_publish(ReferenceStore(pool), producer, THIRD, topic)
    )

    said = _said(await _read_all(kafka_bootstrap, topic))
    newest = keys_of((await store.current())[0])
    version = await store.version()
    last = dict(said)
    assert {key for key, source in last.items() if source is not None} == newest
    assert all(last[key] == f"reference load {version}" for key in newest)
    assert {key for key, source in last.items() if source is None} == {KEPT, DROPPED, REMOVED, ADDED} - newest
    assert await store.published_keys() == newest
    # one load's messages, then the other's: no row of the older load after the newer load's first
    loads = [source for _, source in said[3:] if source is not None]
    assert loads == sorted(loads)
