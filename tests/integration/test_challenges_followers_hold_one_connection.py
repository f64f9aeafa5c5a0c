"""The challenges service's two followers hold one connection of its pool at a time, against real PostgreSQL.

- The follower of the PLR and learner logs forgets a poll's erased learners (their challenges' texts) on the poll's
  own connection, in its transaction, with its `log_positions` rows locked: it asked for a second connection of the
  pool, and the redaction committed on its own, before the poll and apart from it.
- The follower of its own events (`challenges.recovery`) reads the learner's key before the unit of work that holds
  a connection and the challenge's row locked: read in it, on a second connection of the pool, it waited for ever
  once the AO's acknowledgements of that challenge had the rest.

Each pool here has one connection, so a follower that asks for a second waits for ever: each wait has a deadline.
Nothing goes to Kafka: the polls are built here, as the consumer loop hands them over."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, date, datetime

import asyncpg
import pytest
from tests.support.databases import throwaway_database
from tests.support.learners import random_uln

from challenges.domain import Challenge, ChallengeState
from challenges.log_follower import record_applier
from challenges.record_store import PlrRecord
from challenges.recovery import OwnEvents
from challenges.service import ChallengeService
from challenges.store import ChallengeStore
from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import CHALLENGE_EVENTS, LEARNER_EVENTS, PLR_EVENTS
from lrs_platform import keyring
from lrs_platform.consumer import Message
from lrs_platform.database import apply_migrations

pytestmark = pytest.mark.integration

AO = "RN5133"
REASON, NOTE = "Not my grade, I am Ada Lovelace", "Checked with Ada: the grade is as awarded."
# Long enough for a poll on a shared machine, far shorter than for ever.
DEADLINE_SECONDS = 20


async def _pool(url: str, max_size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size)
    async with pool.acquire() as connection:
        await apply_migrations(connection, "challenges", "challenges.migrations")
    await keyring.migrate(pool)
    return pool


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with throwaway_database(os.environ["DATABASE_URL"], "challenges_one_connection") as url:
        yield url


class _CachedKeys:
    """What `ChallengeService.forget_learners` asks of its keyring: the cached keys dropped."""

    def __init__(self) -> None:
        self.forgotten: set[str] = set()

    def forget(self, uln: str) -> None:
        self.forgotten.add(uln)


async def _caught_up() -> bool:
    return True


async def _nothing_held(ulns: Collection[str]) -> bool:
    return False


def _service(pool: asyncpg.Pool, keys: _CachedKeys) -> ChallengeService:
    return ChallengeService(ChallengeStore(pool), PlrRecord(pool), keys, _caught_up, held=_nothing_held)  # type: ignore[arg-type]


def _on(topic: str, uln: str, *events: Contract, first: int = 0) -> list[Message]:
    return [
        Message(topic, 0, offset, uln.encode(), encode(wrap(event, source="tests", correlation_id="tests")))
        for offset, event in enumerate(events, start=first)
    ]


def _recorded(uln: str) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=uuid.uuid4(),
        key=AchievementKey(ao_id=AO, uln=uln, qualification_number="6001166X", award_date=date(2024, 5, 20)),
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        qualification=QualificationSummary(
            title="GCSE Mathematics",
            qualification_type="GCSE (9 to 1)",
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="AQA",
        ),
        provenance=Provenance(batch_id=uuid.uuid4(), line=1),
    )


def _erased(uln: str) -> LearnerErased:
    return LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=datetime.now(UTC))


async def _raised(pool: asyncpg.Pool, uln: str) -> Challenge:
    challenge = Challenge(uuid.uuid4(), uuid.uuid4(), AO, uln, REASON, ChallengeState.RAISED, datetime.now(UTC))
    async with ChallengeStore(pool).unit_of_work() as work:
        await work.insert(challenge)
    return challenge


async def _positions(pool: asyncpg.Pool) -> dict[tuple[str, int], int]:
    rows = await pool.fetch("SELECT topic, partition, next_offset FROM challenges.log_positions")
    return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def test_a_poll_with_an_erasure_is_applied_on_a_pool_of_one_connection_its_redaction_with_it(
    database: str,
) -> None:
    pool = await _pool(database, max_size=1)
    try:
        uln, keys = random_uln(), _CachedKeys()
        challenge = await _raised(pool, uln)
        poll = _on(PLR_EVENTS.name, uln, _recorded(uln)) + _on(LEARNER_EVENTS.name, uln, _erased(uln), first=3)

        await asyncio.wait_for(
            record_applier(PlrRecord(pool), _service(pool, keys).forget_learners)(poll), DEADLINE_SECONDS
        )

        after = await ChallengeStore(pool).get(challenge.challenge_id)
        assert after is not None and (after.reason, after.personal_data_erased) == (None, True)
        assert await pool.fetchval("SELECT count(*) FROM challenges.erased_learners WHERE uln = $1", uln) == 1
        assert await _positions(pool) == {(PLR_EVENTS.name, 0): 1, (LEARNER_EVENTS.name, 0): 4}
        assert keys.forgotten == {uln}
    finally:
        await pool.close()


async def test_a_poll_that_fails_after_forgetting_its_erased_learners_takes_their_redaction_back_with_it(
    database: str,
) -> None:
    """A crash between the redaction and the poll's commit: neither stays, and both come again with the poll. The
    pool has connections to spare, so a redaction on a second one would commit on its own."""
    pool = await _pool(database, max_size=4)
    try:
        uln, keys = random_uln(), _CachedKeys()
        challenge = await _raised(pool, uln)
        service = _service(pool, keys)
        poll = _on(PLR_EVENTS.name, uln, _recorded(uln)) + _on(LEARNER_EVENTS.name, uln, _erased(uln), first=3)

        async def forget_then_crash(connection: asyncpg.Connection, ulns: Collection[str]) -> None:
            await service.forget_learners(connection, ulns)
            raise ConnectionResetError("the process died before the poll committed")

        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(record_applier(PlrRecord(pool), forget_then_crash)(poll), DEADLINE_SECONDS)

        before = await ChallengeStore(pool).get(challenge.challenge_id)
        assert before is not None and (before.reason, before.personal_data_erased) == (REASON, False)
        assert await pool.fetchval("SELECT count(*) FROM challenges.erased_learners") == 0
        assert await _positions(pool) == {}

        await asyncio.wait_for(record_applier(PlrRecord(pool), service.forget_learners)(poll), DEADLINE_SECONDS)

        after = await ChallengeStore(pool).get(challenge.challenge_id)
        assert after is not None and (after.reason, after.personal_data_erased) == (None, True)
        assert await _positions(pool) == {(PLR_EVENTS.name, 0): 1, (LEARNER_EVENTS.name, 0): 4}
    finally:
        await pool.close()


async def test_a_resolution_with_a_note_the_database_lost_comes_back_on_a_pool_of_one_connection(
    database: str,
) -> None:
    """The learner's key is in the key store, not in the keyring's cache (a restarted service)."""
    pool = await _pool(database, max_size=1)
    try:
        uln, ring_key = random_uln(), keyring.KeyringKey(secrets.token_bytes(32))
        key = (await keyring.Keyring(pool, ring_key).issue([uln]))[uln]
        assert isinstance(key, keyring.LearnerKey)
        challenge = await _raised(
            pool, uln
        )  # as the restored database holds it: raised, neither acknowledged nor resolved
        events = _on(
            CHALLENGE_EVENTS.name,
            uln,
            ChallengeAcknowledged(
                challenge_id=challenge.challenge_id, achievement_id=challenge.achievement_id, ao_id=AO
            ),
            ChallengeResolved(
                challenge_id=challenge.challenge_id,
                achievement_id=challenge.achievement_id,
                ao_id=AO,
                uln=uln,
                resolution=ChallengeResolution.REJECTED,
                note_sealed=key.seal_text(keyring.Purpose.CHALLENGE_NOTE, NOTE),
            ),
        )
        follower = OwnEvents(ChallengeStore(pool), keyring.Keyring(pool, ring_key))

        await asyncio.wait_for(follower.apply(events), DEADLINE_SECONDS)

        restored = await ChallengeStore(pool).get(challenge.challenge_id)
        assert restored is not None
        assert (restored.state, restored.resolution, restored.note) == (
            ChallengeState.RESOLVED,
            ChallengeResolution.REJECTED,
            NOTE,
        )
    finally:
        await pool.close()
