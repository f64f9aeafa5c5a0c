"""The Sandpit judges against live's catalogue (decision 0060): a live `lrs reference load` reaches the Sandpit's
validation, running, without a restart. It follows live's compacted `lrs.reference.qualifications.v1`
(`validation.sandpit_catalogue.CatalogueFollower`) and applies a load once it holds all its rows: a qualification
the load added is accepted, one it removed is rejected RV005, in the Sandpit as live.

Live's side is what live validation does (its first start, then `POST /v1/admin/reference/load`): the files
loaded into its store, then every row published. Real Kafka and PostgreSQL; the catalogue topic is a private copy
of this test's (`TopicNames.prefix`), so no other test's Sandpit reads these loads."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from tests.support.databases import create_database, prepare_validation_database, unique_name
from tests.support.waiting import eventually

from lrs_contracts.batch import BatchHeader, SubmittedRecord
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.outcomes import RecordOutcome, RecordStatus
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.decision import SubmittedBatch, decide_batch
from lrs_domain.reference import Learner, ReferenceSnapshot
from lrs_platform.database import create_pool
from lrs_platform.kafka import ensure_topics, make_producer
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, producer_publisher
from validation.catalogue_publisher import load_and_publish, publish_catalogue
from validation.reference_store import ReferenceFiles, ReferenceStore
from validation.sandpit import own_dead_letter_topics
from validation.sandpit_catalogue import CatalogueFollower

pytestmark = pytest.mark.integration

AO = "RN9008"  # AQA Education
KEPT = "100/5001/2"  # AQA GCSE in Mathematics (A* to G), in the shipped extra qualifications
REMOVED = "100/5002/4"  # AQA GCSE in English Language (A* to G): the new load leaves it out
ADDED = "100/9999/9"  # not in the shipped files: the new load adds it
LEARNER = Learner("1000000043", "Lily", "McCarthy", date(1999, 11, 27), 2, 1)
TODAY = date(2025, 3, 1)


def _new_files() -> ReferenceFiles:
    """The shipped files as an operator edits them for a register refresh: one qualification added, one gone."""
    shipped = ReferenceFiles.read()
    lines = shipped.extra_qualifications.splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"{REMOVED},")]
    assert len(kept) == len(lines) - 1
    [template] = [line for line in lines if line.startswith(f"{KEPT},")]
    added = template.replace(KEPT, ADDED, 1).replace("in Mathematics", "in Statistics", 1)
    ending = "" if kept[-1].endswith("\n") else "\n"
    return ReferenceFiles(
        shipped.awarding_organisations, shipped.ofqual_catalogue, "".join(kept) + ending + added.rstrip("\n") + "\n"
    )


async def _judged(store: ReferenceStore, qualification_number: str) -> RecordOutcome:
    """A Create naming the qualification, decided as the decider decides a batch: against `store.current()`."""
    catalogue, organisations = await store.current()
    record = SubmittedRecord(
        line=4,
        action="Create",
        mis_identifier="CAND-4",
        uln=LEARNER.uln,
        given_name=LEARNER.given_name,
        family_name=LEARNER.family_name,
        qualification_number=qualification_number,
        award_date="2024-08-22",
        grade="C",
        centre_ukprn="10001234",
        language_for_assessment="English",
    )
    batch = SubmittedBatch(
        batch_id=uuid.uuid4(),
        ao_id=AO,
        header=BatchHeader(awarding_organisation=AO, notification_email="results@example.org"),
        records=[record],
        submitted_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    )
    decision = decide_batch(batch, ReferenceSnapshot(catalogue, organisations, {LEARNER.uln: LEARNER}), {}, TODAY)
    [outcome] = decision.outcomes
    return outcome


def _verdict(outcome: RecordOutcome) -> tuple[RecordStatus, list[str]]:
    return outcome.status, [finding.code for finding in outcome.errors]


ACCEPTED: tuple[RecordStatus, list[str]] = (RecordStatus.ACCEPTED, [])
UNKNOWN: tuple[RecordStatus, list[str]] = (RecordStatus.REJECTED, ["RV005"])


@pytest.fixture
async def pools(database_url: str, fresh_database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Live's validation database and the Sandpit's, each with validation's schema."""
    sandpit_url = await create_database(database_url, unique_name("sandpit"))
    live = await create_pool(fresh_database_url, max_size=4)
    sandpit = await create_pool(sandpit_url, max_size=4)
    try:
        for pool in (live, sandpit):
            await prepare_validation_database(pool)
        yield live, sandpit
    finally:
        await live.close()
        await sandpit.close()


async def _live_reference_load(
    store: ReferenceStore, producer: AIOKafkaProducer, topic: str, files: ReferenceFiles
) -> int:
    """What `POST /v1/admin/reference/load` does on live: the files into the store, every row onto the topic, and a
    tombstone for each qualification the load removed."""
    return (await load_and_publish(store, producer, files, topic)).version


async def test_a_live_reference_load_reaches_the_running_sandpit(
    kafka_bootstrap: str, pools: tuple[asyncpg.Pool, asyncpg.Pool]
) -> None:
    live_pool, sandpit_pool = pools
    prefix = f"t{uuid.uuid4().hex[:8]}."
    live_topics, sandpit_topics = TopicNames(Environment.LIVE, prefix), TopicNames(Environment.SANDPIT, prefix)
    topic = live_topics.of(REFERENCE_QUALIFICATIONS)
    assert sandpit_topics.of(REFERENCE_QUALIFICATIONS) == topic  # shared: the Sandpit reads live's own
    await ensure_topics(kafka_bootstrap, live_topics.declared([REFERENCE_QUALIFICATIONS]))
    await ensure_topics(kafka_bootstrap, sandpit_topics.declared([REFERENCE_QUALIFICATIONS]))
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    live, sandpit = ReferenceStore(live_pool), ReferenceStore(sandpit_pool)
    try:
        # live's first start: the shipped files loaded and published; the Sandpit's: the shipped files loaded
        assert await live.load_first(ReferenceFiles.read())
        first = await live.version()
        await publish_catalogue(producer, (await live.current())[0], first, topic)
        assert await sandpit.load_first(ReferenceFiles.read())
        office = DeadLetterOffice(
            ParkedMessages(sandpit_pool, "validation_parked"),
            own_dead_letter_topics(producer_publisher(producer), sandpit_topics),
        )
        await office.store.migrate()
        follower = CatalogueFollower(sandpit, kafka_bootstrap, sandpit_topics)
        following = asyncio.create_task(follower.consumer_loop(office).run())
        try:

            async def following_live(version: int) -> bool:
                newest = await sandpit.newest_load()
                return newest is not None and newest.live_version == version

            await eventually(lambda: following_live(first), within=60, what="the Sandpit to copy live's first load")
            assert _verdict(await _judged(sandpit, ADDED)) == UNKNOWN
            assert _verdict(await _judged(sandpit, REMOVED)) == ACCEPTED
            assert "live reference load" in await follower.readiness()

            # the operator's `lrs reference load` on live, with a qualification added and one removed
            second = await _live_reference_load(live, producer, topic, _new_files())
            assert second > first
            assert _verdict(await _judged(live, ADDED)) == ACCEPTED
            assert _verdict(await _judged(live, REMOVED)) == UNKNOWN

            # the same Sandpit store, not restarted: its next batch is judged against live's new catalogue
            async def judged_as_live() -> bool:
                added, removed = await _judged(sandpit, ADDED), await _judged(sandpit, REMOVED)
                return _verdict(added) == ACCEPTED and _verdict(removed) == UNKNOWN

            await eventually(judged_as_live, within=60, what="the Sandpit to judge against live's new catalogue")
            assert _verdict(await _judged(sandpit, KEPT)) == ACCEPTED
            assert await sandpit_pool.fetchval("SELECT count(*) FROM validation.qualifications") == (
                await live_pool.fetchval("SELECT count(*) FROM validation.qualifications")
            )
            assert await following_live(second)
            assert not await sandpit_pool.fetchval("SELECT count(*) FROM validation_parked.parked_messages")
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following

        # started again (the Sandpit restarted): live's load, already applied, is not applied again
        loads = await sandpit_pool.fetchval("SELECT count(*) FROM validation.reference_loads")
        again = CatalogueFollower(ReferenceStore(sandpit_pool), kafka_bootstrap, sandpit_topics)
        loop = again.consumer_loop(office)
        following = asyncio.create_task(loop.run())
        try:
            await eventually(lambda: _true_if(loop.caught_up), within=60, what="the follower to read to the end")
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        assert await sandpit_pool.fetchval("SELECT count(*) FROM validation.reference_loads") == loads
    finally:
        await producer.stop()


async def _true_if(condition: bool) -> bool:
    return condition
