"""The Sandpit's followers park what they cannot apply, as every consumer does (decision 0030): ingest's follower of
applied resets once logged a reset it could not complete and left it `pending` for ever, and dropped one it could
not read; validation's copy of the live learner log logged an event its columns refused and passed it. Now each is
parked (a row an operator retries or skips, a dead letter on the Sandpit's own `.dlq`), what is behind it goes on,
and a corrected copy retried completes the parked reset."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from prometheus_client import REGISTRY
from tests.integration.test_consumer_poison import bearer, issue, metric
from tests.support.databases import create_key_store, prepare_validation_database, throwaway_database
from tests.support.kafka import send
from tests.support.serving import served
from tests.support.waiting import eventually

from ingest.bootstrap import create_app as create_ingest
from ingest.config import IngestSettings
from ingest.sandpit import SandpitResetStore
from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.learner import LearnerRegisteredV1
from lrs_contracts.registry import encode, wrap
from lrs_contracts.sandpit import SandpitReset, SandpitResetApplied
from lrs_contracts.topics import BATCH_OUTCOMES, LEARNER_EVENTS
from lrs_platform.database import create_pool
from lrs_platform.kafka import ensure_topics, make_producer
from lrs_platform.keyring import Keyring, KeyringKey
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, producer_publisher
from validation.sandpit import REGISTRY_FOLLOWER, RegistryFollower, own_dead_letter_topics

pytestmark = pytest.mark.integration

SANDPIT = TopicNames(Environment.SANDPIT)
OUTCOMES = SANDPIT.of(BATCH_OUTCOMES)
PARTITION = 0  # the poison and the resets after it share a partition: the follower must pass it
RESET_FOLLOWER = "ingest.sandpit-resets"  # the consumer's name on its parked messages, dead letters and metrics
BEYOND_INTEGER = 2**31  # more learners than ingest's `sandpit_resets.learners` column holds: PostgreSQL refuses it


@asynccontextmanager
async def sandpit_ingest(
    kafka_bootstrap: str, database_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    async with throwaway_database(database_url, "followers_sandpit") as sandpit_database:
        await create_key_store(sandpit_database)
        settings = IngestSettings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            DATABASE_URL=sandpit_database,
            LRS_ENVIRONMENT=Environment.SANDPIT.value,
            outcomes_group_id=f"followers-{uuid.uuid4().hex[:8]}",
            log_json=True,
        )
        app = create_ingest(settings)
        async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield app, client, sandpit_database


async def pending_reset(store: SandpitResetStore) -> SandpitReset:
    reset = SandpitReset(
        reset_id=uuid.uuid4(),
        ao_id=f"RN{uuid.uuid4().int % 10**6}",
        requested_by="operator:tests",
        requested_at=utc_now(),
    )
    await store.add(reset)
    await store.mark_queued(reset.reset_id)  # Kafka took it: not sent again meanwhile
    return reset


def applied_message(reset: SandpitReset, learners: int = 1) -> tuple[bytes, bytes]:
    applied = SandpitResetApplied(reset_id=reset.reset_id, ao_id=reset.ao_id, learners=learners, forgotten_batches=())
    envelope = wrap(applied, source="validation", correlation_id=str(reset.reset_id))
    return str(reset.reset_id).encode(), encode(envelope)


@asynccontextmanager
async def dead_letters_from_now(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(f"{OUTCOMES}.dlq", p) for p in range(BATCH_OUTCOMES.partitions)]
        consumer.assign(partitions)
        for partition, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(partition, offset)
        yield consumer
    finally:
        await consumer.stop()


async def follower_letters(reader: AIOKafkaConsumer, count: int) -> list[tuple[bytes | None, DeadLetter]]:
    """The follower's dead letters (the batch view sends its own of a message it cannot read either)."""
    found: list[tuple[bytes | None, DeadLetter]] = []

    async def arrived() -> list[tuple[bytes | None, DeadLetter]] | None:
        for records in (await reader.getmany(timeout_ms=200)).values():
            for record in records:
                letter = DeadLetter.from_headers(record.headers)
                if letter.consumer == RESET_FOLLOWER:
                    found.append((record.key, letter))
        return found if len(found) >= count else None

    return await eventually(arrived, within=60, what="the follower's dead letters")


async def status(store: SandpitResetStore, reset: SandpitReset) -> str | None:
    view = await store.get(reset.reset_id)
    return view.status if view else None


async def test_the_reset_follower_parks_a_reset_it_cannot_read_or_complete_and_completes_the_rest(
    kafka_bootstrap: str, database_url: str
) -> None:
    async with sandpit_ingest(kafka_bootstrap, database_url) as (app, client, sandpit_database):
        operator = bearer(await issue(app, "operator:followers-tests"))
        store: SandpitResetStore = app.state.sandpit_resets.store
        unreadable, refused, following = [await pending_reset(store) for _ in range(3)]
        unreadable_key, good_copy = applied_message(unreadable)
        broken = good_copy.replace(b'"learners":1', b'"learners":"many"')
        assert broken != good_copy
        not_json = f"not json {uuid.uuid4()}".encode()
        sample = f'lrs_consumer_messages_total{{consumer="{RESET_FOLLOWER}",outcome="parked"}}'
        parked_before = await metric(client, sample)  # the metrics are the process's: other tests' count too

        async with dead_letters_from_now(kafka_bootstrap) as reader:
            offsets = await send(
                kafka_bootstrap,
                OUTCOMES,
                [
                    (unreadable_key, broken),
                    applied_message(refused, learners=BEYOND_INTEGER),
                    (b"garbage", not_json),
                    applied_message(following),
                ],
                partition=PARTITION,
            )

            async def completed() -> bool:
                return await status(store, following) == "completed"

            await eventually(completed, within=120, what="the reset behind the poison completed")
            letters = await follower_letters(reader, 3)

        assert await status(store, unreadable) == "pending"
        assert await status(store, refused) == "pending"
        by_offset = {letter.original_offset: (key, letter) for key, letter in letters}
        assert sorted(by_offset) == offsets[:3]
        key, letter = by_offset[offsets[0]]
        assert (key, letter.original_topic, letter.attempts) == (unreadable_key, OUTCOMES, 1)
        assert letter.error.startswith("invalid: "), letter
        _, letter = by_offset[offsets[1]]
        assert (letter.attempts, letter.error.split(":", 1)[0]) == (3, "DataError"), letter
        _, letter = by_offset[offsets[2]]
        assert letter.error.startswith("invalid: Invalid JSON"), letter

        listed = (await client.get(f"/v1/admin/dlq?consumer={RESET_FOLLOWER}", headers=operator)).json()
        assert sorted((row["offset"], row["reason"]) for row in listed["parked"]) == [
            (offset, "error") for offset in offsets[:3]
        ]
        assert await metric(client, sample) == parked_before + 3

        [parked] = [row for row in listed["parked"] if row["offset"] == offsets[0]]
        retried = await client.post(
            f"/v1/admin/dlq/{parked['id']}/retry", headers=operator, json={"replacement": json.loads(good_copy)}
        )
        assert retried.status_code == 200, retried.text
        assert retried.json()["results"][0]["applied"] == 1
        assert await status(store, unreadable) == "completed"

        connection = await asyncpg.connect(sandpit_database)
        try:
            still_parked = await connection.fetchval(
                "SELECT count(*) FROM ingest_parked.parked_messages WHERE consumer = $1", RESET_FOLLOWER
            )
        finally:
            await connection.close()
        assert still_parked == 2


def _registration(uln: str, gender: int) -> tuple[bytes, bytes]:
    event = LearnerRegisteredV1(uln=uln, given_name="Ada", family_name="Lovelace", gender=gender)
    return uln.encode(), encode(wrap(event, source="validation", correlation_id=uln))


def _applied_so_far() -> float:
    labels = {"consumer": REGISTRY_FOLLOWER, "outcome": "applied"}
    return REGISTRY.get_sample_value("lrs_consumer_messages_total", labels) or 0.0


async def test_the_registry_follower_parks_an_event_the_copy_refuses_and_goes_on_from_where_it_stored(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    topics = TopicNames(Environment.SANDPIT, prefix=f"t{uuid.uuid4().hex[:8]}.")
    learner_log = topics.of(LEARNER_EVENTS)  # live's log, which the Sandpit reads as it is
    await ensure_topics(kafka_bootstrap, topics.declared([LEARNER_EVENTS]))
    pool = await create_pool(fresh_database_url, max_size=4)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        await prepare_validation_database(pool)
        office = DeadLetterOffice(
            ParkedMessages(pool, "validation_parked"), own_dead_letter_topics(producer_publisher(producer), topics)
        )
        await office.store.migrate()
        keys = Keyring(pool, KeyringKey.generate())  # registrations in clear: no key is looked up
        follower = RegistryFollower(pool, kafka_bootstrap, topics, keys, keys)
        first, refused, second, later = (f"10000000{n:02d}" for n in (43, 51, 68, 76))
        refused_key, refused_value = _registration(refused, 40_000)
        offsets = await send(
            kafka_bootstrap,
            learner_log,
            [_registration(first, 1), (refused_key, refused_value), _registration(second, 2)],
            partition=PARTITION,
        )

        async def copied(ulns: set[str], next_offset: int) -> bool:
            learners = {row["uln"] for row in await pool.fetch("SELECT uln FROM validation.learners")}
            stored = await pool.fetchval(
                "SELECT next_offset FROM validation.sandpit_registry_offsets WHERE partition = $1", PARTITION
            )
            return learners == ulns and stored == next_offset

        following = asyncio.create_task(follower.consumer_loop(office).run())
        try:
            await eventually(lambda: copied({first, second}, offsets[-1] + 1), within=60, what="the rest copied")
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following

        [parked] = await pool.fetch("SELECT * FROM validation_parked.parked_messages")
        assert (parked["consumer"], parked["offset"], parked["reason"]) == (REGISTRY_FOLLOWER, offsets[1], "error")
        [(key, letter)] = await letters_on(kafka_bootstrap, topics.dead_letters(LEARNER_EVENTS.name))
        assert (key, letter.consumer, letter.original_topic) == (refused.encode(), REGISTRY_FOLLOWER, learner_log)
        assert (letter.attempts, letter.error.split(":", 1)[0]) == (3, "DataError"), letter

        # started again, it goes on from the offsets it stored: only the new registration is applied
        applied_before = _applied_so_far()
        [last] = await send(kafka_bootstrap, learner_log, [_registration(later, 9)], partition=PARTITION)
        following = asyncio.create_task(follower.consumer_loop(office).run())
        try:
            await eventually(lambda: copied({first, second, later}, last + 1), within=60, what="the new one copied")
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        assert _applied_so_far() == applied_before + 1

        # an operator's retry with a corrected copy copies the learner and leaves the copy's place where it was
        corrected = refused_value.replace(b'"gender":40000', b'"gender":2')
        assert corrected != refused_value
        retried = await office.retry(parked["id"], "operator:followers-tests", corrected)
        assert (retried.applied, retried.error) == (1, None)
        assert await copied({first, refused, second, later}, last + 1)
    finally:
        await producer.stop()
        await pool.close()


async def letters_on(bootstrap: str, topic: str) -> list[tuple[bytes | None, DeadLetter]]:
    """Every dead letter on `topic`, read from its start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(LEARNER_EVENTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[tuple[bytes | None, DeadLetter]] = []

        async def arrived() -> list[tuple[bytes | None, DeadLetter]]:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found.extend((record.key, DeadLetter.from_headers(record.headers)) for record in records)
            return found

        return await eventually(arrived, within=60, what=f"dead letters on {topic}")
    finally:
        await consumer.stop()
