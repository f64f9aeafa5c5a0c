"""Live validation's first start loads the shipped reference files and publishes them onto the compacted
`lrs.reference.qualifications.v1` (`validation.bootstrap`): it keeps the keys it published
(`validation.published_catalogue_keys`), so the operator's first reload that leaves a qualification out sends its
tombstone (review of 5c21ed24, finding 2: the keys a load tombstones are those published before it, not the store's).

Real PostgreSQL, and a broker of the test's own (`private_kafka`): validation runs whole, in this process, and its
decider and first-start publishing would otherwise work on the shared broker's live topics."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest
from aiokafka import TopicPartition
from asgi_lifespan import LifespanManager
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka

from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_platform.database import create_pool
from lrs_platform.kafka import ensure_topics, make_consumer, make_producer
from validation.bootstrap import create_app
from validation.catalogue_publisher import keys_of, load_and_publish
from validation.config import ValidationSettings
from validation.reference_store import ReferenceFiles, ReferenceStore

pytestmark = pytest.mark.integration

REMOVED = "100/5002/4"  # AQA GCSE in English Language (A* to G), in the shipped extra qualifications


@pytest.fixture
def kafka() -> Iterator[str]:
    with private_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture
async def validation_database(database_url: str) -> str:
    return await create_database(database_url, unique_name("first_start"))


def _without_removed() -> ReferenceFiles:
    """The shipped files with one qualification left out, as an operator edits them for a register refresh."""
    shipped = ReferenceFiles.read()
    lines = shipped.extra_qualifications.splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"{REMOVED},")]
    assert len(kept) == len(lines) - 1
    return ReferenceFiles(shipped.awarding_organisations, shipped.ofqual_catalogue, "".join(kept))


async def _last_messages(bootstrap: str, topic: str) -> dict[bytes, bytes | None]:
    """What compaction keeps of the one-partition topic: each key's last message."""
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        last: dict[bytes, bytes | None] = {}
        while await consumer.position(partition) < end:
            for records in (await consumer.getmany(partition, timeout_ms=500, max_records=10_000)).values():
                last.update((record.key, record.value) for record in records)
        return last
    finally:
        await consumer.stop()


async def test_the_first_starts_keys_are_kept_and_the_first_reload_tombstones_what_it_left_out(
    kafka: str, validation_database: str
) -> None:
    name = validation_database.rsplit("/", 1)[1]
    settings = ValidationSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        DATABASE_URL=validation_database,
        consumer_group=f"validation-{name}",
        instance_id=name,
    )
    await ensure_topics(kafka)
    async with LifespanManager(create_app(settings), startup_timeout=120, shutdown_timeout=60):
        pass  # the first start: the shipped files loaded, and published

    topic = REFERENCE_QUALIFICATIONS.name  # live's own, on this test's own broker
    pool: asyncpg.Pool = await create_pool(validation_database, max_size=4)
    producer = make_producer(kafka)
    await producer.start()
    try:
        store = ReferenceStore(pool)
        published = await store.published_keys()
        assert published == keys_of((await store.current())[0])  # what the first start published, kept
        assert published == {key.decode() for key in await _last_messages(kafka, topic)}

        await load_and_publish(store, producer, _without_removed(), topic)  # the operator's first reload
        removed = published - keys_of((await store.current())[0])
        assert len(removed) == 1  # REMOVED's key
        assert await store.published_keys() == published - removed
    finally:
        await producer.stop()
        await pool.close()

    last = await _last_messages(kafka, topic)
    assert {key.decode() for key, value in last.items() if value is None} == removed
