"""A row of live's catalogue the Sandpit could not read, once an operator has dealt with it, stays dealt with
(decision 0060, `validation.sandpit_catalogue`). The Sandpit's catalogue follower has no consumer group and reads
live's compacted topic again from its beginning at each start: a row skipped (`lrs --sandpit dlq skip`) was read
again, parked again, and its key's row of the next load held behind it, so no later load was ever whole until the
operator skipped it again, at every restart. Now a skipped row is passed over, and a row retried with a corrected copy
is read as that copy. What the follower keeps of a skip commits with it: a skip the office undid after the follower's
replay (its record failing, the request cancelled) keeps nothing, and a later retry of the row as it is retries it.

Real Kafka and PostgreSQL; the catalogue topic is a private copy of this test's (`TopicNames.prefix`), so the
unreadable rows published here reach no other test's follower."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from tests.support.databases import create_database, prepare_validation_database, unique_name
from tests.support.waiting import eventually

from lrs_contracts.envelope import deterministic_id
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.reference import Framework, QualificationKind, QualificationPublished
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Catalogue, Qualification
from lrs_platform.consumer import ConsumerLoop
from lrs_platform.database import create_pool
from lrs_platform.kafka import ensure_topics, make_producer
from lrs_platform.parking import DeadLetterAction, DeadLetterOffice, ParkedMessages, producer_publisher
from validation.catalogue_publisher import publish_catalogue
from validation.reference_store import ReferenceStore
from validation.sandpit import own_dead_letter_topics
from validation.sandpit_catalogue import CATALOGUE_FOLLOWER, CatalogueFollower

pytestmark = pytest.mark.integration

OPERATOR = "ops@example.org"
BROKEN = "61000002"  # the qualification whose row of a load cannot be read


def _qualification(number: str) -> Qualification:
    return Qualification(
        qualification_number=number,
        pathway=None,
        title=f"Qualification {number}",
        awarding_organisation_id="RN5133",
        awarding_organisation_name="Test Awarding Body",
        level="Level 2",
        qualification_type="GCSE (9 to 1)",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U"),
    )


def _catalogue(*numbers: str) -> Catalogue:
    return Catalogue.of(_qualification(number) for number in numbers)


def _row(number: str, version: int, rows_in_load: int, *, readable: bool) -> bytes:
    """A row of load `version` as live publishes it; not `readable`, neither its source nor its correlation id
    names a load: the Sandpit's follower cannot tell which load it belongs to, and parks it."""
    qualification = _qualification(number)
    event = QualificationPublished(
        qualification_number=qualification.qualification_number,
        pathway=None,
        title=qualification.title,
        awarding_organisation_id=qualification.awarding_organisation_id,
        awarding_organisation_name=qualification.awarding_organisation_name,
        level=qualification.level,
        qualification_type=qualification.qualification_type,
        framework=qualification.framework,
        kind=qualification.kind,
        grade_set=qualification.grade_set,
        source=f"reference load {version}" if readable else "hand edited",
        rows_in_load=rows_in_load,
    )
    envelope = wrap(
        event,
        source="validation",
        correlation_id=f"reference-load-{version}" if readable else "hand-edit",
        event_id=deterministic_id("reference", version, f"{number}|"),
        occurred_at=datetime(2026, 12, 1, version, tzinfo=UTC),  # a corrected copy keeps the row's time
    )
    return encode(envelope)


class _Sandpit:
    """The Sandpit validation's catalogue follower, started and stopped as the service is."""

    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, bootstrap: str, topics: TopicNames) -> None:
        self.pool = pool
        self.store = ReferenceStore(pool)
        self._producer = producer
        self._bootstrap = bootstrap
        self._topics = topics
        self.office: DeadLetterOffice | None = None
        self.follower: CatalogueFollower | None = None
        self.loop: ConsumerLoop | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CatalogueFollower]:
        """A start of the Sandpit's validation: a new office and follower, reading the topic from its beginning."""
        self.office = DeadLetterOffice(
            ParkedMessages(self.pool, "validation_parked"),
            own_dead_letter_topics(producer_publisher(self._producer), self._topics),
        )
        await self.office.store.migrate()
        self.follower = CatalogueFollower(self.store, self._bootstrap, self._topics)
        self.loop = self.follower.consumer_loop(self.office)
        following = asyncio.create_task(self.loop.run())
        try:
            yield self.follower
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following

    async def live_version(self) -> int | None:
        newest = await self.store.newest_load()
        return newest.live_version if newest is not None else None

    async def parked(self) -> list[tuple[str, int]]:
        """The follower's parked messages: (reason, id), in log order."""
        rows = await self.pool.fetch(
            'SELECT reason, id FROM validation_parked.parked_messages WHERE consumer = $1 ORDER BY partition, "offset"',
            CATALOGUE_FOLLOWER,
        )
        return [(row["reason"], row["id"]) for row in rows]

    async def dealt_with(self) -> list[tuple[int, int]]:
        """The places the follower keeps as dealt with."""
        rows = await self.pool.fetch(
            'SELECT partition, "offset" FROM validation.sandpit_catalogue_dealt_with ORDER BY partition, "offset"'
        )
        return [(row["partition"], row["offset"]) for row in rows]

    async def read_to_the_end(self, settled: Callable[[], Awaitable[bool]], what: str) -> None:
        """Waits for `settled`, then for a poll that found nothing new (everything before it applied or parked)."""
        await eventually(settled, within=60, what=what)

        async def caught_up() -> bool:
            return self.loop is not None and self.loop.caught_up

        await eventually(caught_up, within=60, what="the follower to read to the end of the topic")


@pytest.fixture
async def sandpit(database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[_Sandpit, AIOKafkaProducer, str]]:
    """The Sandpit's validation database, a producer standing for live's publisher, and live's (private) topic."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    live_topics, sandpit_topics = TopicNames(Environment.LIVE, prefix), TopicNames(Environment.SANDPIT, prefix)
    topic = live_topics.of(REFERENCE_QUALIFICATIONS)
    await ensure_topics(kafka_bootstrap, live_topics.declared([REFERENCE_QUALIFICATIONS]))
    await ensure_topics(kafka_bootstrap, sandpit_topics.declared([REFERENCE_QUALIFICATIONS]))
    pool = await create_pool(await create_database(database_url, unique_name("sandpit")), max_size=6)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        await prepare_validation_database(pool)
        yield _Sandpit(pool, producer, kafka_bootstrap, sandpit_topics), producer, topic
    finally:
        await producer.stop()
        await pool.close()


async def test_a_skipped_unreadable_row_stays_skipped_after_a_restart(
    sandpit: tuple[_Sandpit, AIOKafkaProducer, str],
) -> None:
    site, producer, topic = sandpit
    await publish_catalogue(producer, _catalogue("61000001", BROKEN, "61000003"), 1, topic)
    # a row of the key no load names (hand edited on the topic, a publisher's bug): parked, the loads go on
    await producer.send_and_wait(topic, key=f"{BROKEN}|".encode(), value=_row(BROKEN, 1, 3, readable=False))

    async with site.running():

        async def load_1_and_the_row_parked() -> bool:
            return await site.live_version() == 1 and len(await site.parked()) == 1

        await site.read_to_the_end(load_1_and_the_row_parked, "load 1 applied and the unreadable row parked")
        [(reason, parked_id)] = await site.parked()
        assert reason == "error"
        assert site.office is not None
        skipped = await site.office.skip(parked_id, OPERATOR, "a hand-edited row: load 2 republishes it")
        assert (skipped.skipped, skipped.still_parked) == (1, 0)
        assert await site.parked() == []

    # live's next load while the Sandpit is down, then the Sandpit starts again: the row skipped is passed over,
    # and load 2's row of its key is not held behind it
    await publish_catalogue(producer, _catalogue("61000001", BROKEN, "61000004"), 2, topic)
    async with site.running() as follower:

        async def load_2_or_parked() -> bool:
            return await site.live_version() == 2 or bool(await site.parked())

        await site.read_to_the_end(load_2_or_parked, "load 2 applied (or the skipped row parked again)")
        assert await site.parked() == []
        assert await site.live_version() == 2
        assert "catalogue of live reference load 2 (3 qualifications)" in await follower.readiness()
        numbers = await site.pool.fetch("SELECT qualification_number FROM validation.qualifications ORDER BY 1")
        assert [row["qualification_number"] for row in numbers] == ["61000001", BROKEN, "61000004"]


async def test_a_row_retried_with_a_corrected_copy_is_read_as_the_copy_after_a_restart(
    sandpit: tuple[_Sandpit, AIOKafkaProducer, str],
) -> None:
    site, producer, topic = sandpit
    await publish_catalogue(producer, _catalogue("61000001", BROKEN, "61000003"), 1, topic)
    # load 2's row of BROKEN cannot be read: load 2 is not whole until an operator mends it
    for number in ("61000001", BROKEN, "61000004"):
        row = _row(number, 2, 3, readable=number != BROKEN)
        await producer.send_and_wait(topic, key=f"{number}|".encode(), value=row)

    async with site.running():

        async def the_row_parked() -> bool:
            return len(await site.parked()) == 1

        await site.read_to_the_end(the_row_parked, "the unreadable row of load 2 parked")
        assert await site.live_version() != 2  # two rows of its three
        [(_, parked_id)] = await site.parked()
        assert site.office is not None
        retried = await site.office.retry(parked_id, OPERATOR, replacement=_row(BROKEN, 2, 3, readable=True))
        assert (retried.applied, retried.still_parked, retried.error) == (1, 0, None)
        assert await site.live_version() == 2

    # started again, the row is read as the operator's copy: load 2 is whole as the retry made it, nothing parked.
    # The Sandpit's record of its copies of live's loads is emptied first, so that load 2 is applied again only if
    # the follower holds it whole, the copy with it (a row passed over would leave it two rows of three).
    async with site.pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")  # as the table's owner (decision 0200)
        await connection.execute("DELETE FROM validation.reference_loads WHERE what LIKE 'live reference load %'")
    async with site.running():

        async def load_2_or_parked() -> bool:
            return await site.live_version() == 2 or bool(await site.parked())

        await site.read_to_the_end(load_2_or_parked, "load 2 applied again (or the row parked again)")
        assert await site.parked() == []
        assert await site.live_version() == 2
        numbers = await site.pool.fetch("SELECT qualification_number FROM validation.qualifications ORDER BY 1")
        assert [row["qualification_number"] for row in numbers] == ["61000001", BROKEN, "61000004"]


@pytest.mark.parametrize("undone_by", ["its record failing", "the request cancelled"])
async def test_a_skip_the_office_undid_keeps_nothing_and_a_later_retry_retries_the_row(
    sandpit: tuple[_Sandpit, AIOKafkaProducer, str], monkeypatch: pytest.MonkeyPatch, undone_by: str
) -> None:
    site, producer, topic = sandpit
    await publish_catalogue(producer, _catalogue("61000001", BROKEN, "61000003"), 1, topic)
    await producer.send_and_wait(topic, key=f"{BROKEN}|".encode(), value=_row(BROKEN, 1, 3, readable=False))

    async with site.running():

        async def load_1_and_the_row_parked() -> bool:
            return await site.live_version() == 1 and len(await site.parked()) == 1

        await site.read_to_the_end(load_1_and_the_row_parked, "load 1 applied and the unreadable row parked")
        [(_, parked_id)] = await site.parked()
        assert site.office is not None
        office = site.office
        # the skip's replay done, the office's transaction is undone after it: the action's record fails, or the
        # operator's request is cancelled there (a drain at shutdown)
        recording = asyncio.Event()

        async def record_action(action: DeadLetterAction) -> None:
            recording.set()
            if undone_by == "its record failing":
                raise ConnectionError("the database went away")
            await asyncio.Event().wait()  # until cancelled

        monkeypatch.setattr(office.store, "record_action", record_action)
        skipping = asyncio.create_task(office.skip(parked_id, OPERATOR, "a hand-edited row"))
        await recording.wait()
        if undone_by == "the request cancelled":
            skipping.cancel()
        with pytest.raises((ConnectionError, asyncio.CancelledError)):
            await skipping
        monkeypatch.undo()
        assert await site.parked() == [("error", parked_id)]
        assert await site.dealt_with() == []  # undone with the skip: the row went through its transaction

        # the operator retries the row as it is: it cannot be read, and stays parked (not passed over as a skip)
        retried = await office.retry(parked_id, OPERATOR)
        assert (retried.applied, retried.skipped, retried.still_parked) == (0, 0, 1)
        assert retried.error is not None and "names no reference load" in retried.error
        assert await site.parked() == [("error", parked_id)]
        assert await site.dealt_with() == []
