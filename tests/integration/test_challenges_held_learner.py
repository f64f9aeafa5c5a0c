"""The portal review's finding 2, against real Kafka and PostgreSQL: a poison on the PLR log under a learner's ULN is
parked by the challenges service's follower, with the update after it held behind it. Until an operator skips it,
the service's copy of the record keeps the grade from before the update; a challenge raised then kept that grade as
"the grade when raised" while the learner's PLR (whose projector had its own copy skipped) said another. Now the
learner, and a learner with that ULN merged into theirs, is refused (`EventsHeld`, 409
`EVENTS_HELD_IN_DEAD_LETTERS`) until the skip; after it the challenge keeps the grade the update gave.

The messages go to a topic of the test's own, and the dead letters nowhere (the office's publisher drops them):
nothing is left on a shared topic."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
from collections.abc import AsyncIterator, Collection

import asyncpg
import pytest
from tests.support.databases import throwaway_database, unique_name
from tests.support.kafka import send
from tests.support.learners import random_uln
from tests.support.projector import Events, merged
from tests.support.waiting import eventually

from challenges.log_follower import (
    FOLLOWER,
    HeldLearners,
    ResumeFromStoredPositions,
    StoredPositions,
    record_guard,
)
from challenges.record_store import PlrRecord
from challenges.service import ChallengeService, EventsHeld
from challenges.store import ChallengeStore
from lrs_contracts.dead_letters import Headers
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.consumer import ConsumerLoop
from lrs_platform.database import apply_migrations
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics, make_consumer
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey
from lrs_platform.parking import DeadLetterOffice, ParkedMessages

pytestmark = pytest.mark.integration

AO = "RN9093"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with throwaway_database(os.environ["DATABASE_URL"], "challenges_held") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=6)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, "challenges", "challenges.migrations")
            yield pool
        finally:
            await pool.close()


class Keyring:
    """Every learner's key, made on demand (the key store is not what this test is about)."""

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        return {uln: LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES)) for uln in ulns}


async def _caught_up() -> bool:
    return True


async def _dropped(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    return None  # the dead letter's copy goes nowhere: `<own topic>.dlq` is no topic


def _keyed(uln: str, *events: Contract) -> list[tuple[bytes, bytes]]:
    return [(uln.encode(), encode(wrap(event, source="tests", correlation_id="tests"))) for event in events]


async def test_no_challenge_is_raised_on_a_grade_the_record_holds_back_until_an_operator_skips_the_poison(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    topic = dataclasses.replace(PLR_EVENTS, name=unique_name("challenges.held.plr"))
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    uln, master = random_uln(), random_uln()
    events = Events(ao_id=AO)
    achievement_id = events.achievement_id(uln)
    record = PlrRecord(pool)
    office = DeadLetterOffice(ParkedMessages(pool, "challenges_parked"), _dropped)
    await office.store.migrate()
    service = ChallengeService(
        ChallengeStore(pool),
        record,
        Keyring(),  # type: ignore[arg-type]
        _caught_up,
        held=HeldLearners(office.store),
    )
    follower = ConsumerLoop(
        record_guard(FOLLOWER, record, service.forget_learners, office),
        [topic.name],
        lambda: make_consumer(kafka_bootstrap, group_id=unique_name("challenges-held")),
        listener=lambda consumer: ResumeFromStoredPositions(consumer, record),
        progress=StoredPositions(record),
    )
    following = asyncio.create_task(follower.run())
    try:
        await send(kafka_bootstrap, topic.name, _keyed(uln, events.recorded(uln, grade="Distinction")))
        await send(kafka_bootstrap, topic.name, _keyed(master, merged(master, uln)))

        async def merged_and_recorded() -> bool:
            on_record = await record.achievement(achievement_id)
            return on_record is not None and await record.learner_ulns(master) == {master, uln}

        await eventually(merged_and_recorded, within=60, what="the achievement and the merge on the record")

        await send(kafka_bootstrap, topic.name, [(uln.encode(), b'{"broken": true}')])
        await send(kafka_bootstrap, topic.name, _keyed(uln, events.updated(uln, grade="Pass")))

        async def parked() -> list[str] | None:
            rows, _ = await office.listing(FOLLOWER, key=uln)
            return [row.reason for row in rows] if len(rows) == 2 else None

        assert await eventually(parked, within=60, what="the poison parked, the update held") == ["error", "blocked"]
        on_record = await record.achievement(achievement_id)
        assert on_record is not None and on_record.grade == "Distinction", "the record is short of the update"

        for learner in (uln, master):  # the merged ULN's events hold its master back too
            with pytest.raises(EventsHeld):
                await service.raise_(Principal.parse(f"learner:{learner}"), achievement_id, None, "it was a Pass")
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT count(*) FROM challenges.challenges") == 0
        assert not await HeldLearners(office.store)([random_uln()]), "no one else's events are held"

        [poison, _] = (await office.listing(FOLLOWER, key=uln))[0]
        skipped = await office.skip(poison.id, "operator:tests", "a test's poison")
        assert (skipped.skipped, skipped.applied, skipped.still_parked) == (1, 1, 0)

        raised = await service.raise_(Principal.parse(f"learner:{master}"), achievement_id, None, "it was a Pass")
        assert raised.achievement is not None
        assert (raised.achievement.grade, raised.achievement.uln) == ("Pass", uln), "the grade the PLR has now"
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
