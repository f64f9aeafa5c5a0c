"""The follower of the service's own events (`challenges.recovery`) restores a challenge, or its state, holding one
connection of the service's pool (its unit of work, the challenge's row locked) and asks for no second while it
does: the learner's key, which opens a raise's reason and a resolution's note, is read before. Read inside, on a
second connection of the same pool, it waited for ever once the AO's acknowledgements of that challenge (each
holding a connection, waiting for the row lock) had the rest, and every other user of the pool with it. Here the
pool has one connection: the follower is the only user, and the wait has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from services.challenges.tests.unit.bounded_pool import BoundedPool

from challenges.domain import Challenge, ChallengeState
from challenges.recovery import OwnEvents
from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.consumer import Message
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey, Purpose

LEARNER, AO = "1000000043", "RN5133"
POOL_SIZE = 1
KEY = LearnerKey(LEARNER, secrets.token_bytes(DATA_KEY_BYTES))


class _Keyring:
    """The learner key store, on the same pool (`Keyring(pool, ...)`), nothing cached."""

    def __init__(self, pool: BoundedPool) -> None:
        self._pool = pool

    async def find(self, ulns: Iterable[str]) -> dict[str, LearnerKey]:
        async with self._pool.acquire():
            return {uln: KEY for uln in ulns if uln == LEARNER}


class _UnitOfWork:
    def __init__(self, challenges: dict[uuid.UUID, Challenge]) -> None:
        self._challenges = challenges

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        await asyncio.sleep(0)
        return self._challenges.get(challenge_id)

    async def is_erased(self, uln: str) -> bool:
        await asyncio.sleep(0)
        return False

    async def restore(self, challenge: Challenge) -> bool:
        self._challenges[challenge.challenge_id] = challenge
        return True

    async def update(self, changed: Challenge) -> None:
        self._challenges[changed.challenge_id] = changed


class _Store:
    def __init__(self, pool: BoundedPool, challenges: dict[uuid.UUID, Challenge]) -> None:
        self._pool, self.challenges = pool, challenges

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        async with self._pool.acquire():
            return self.challenges.get(challenge_id)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_UnitOfWork]:
        async with self._pool.acquire():  # the unit of work's connection, held in its transaction
            yield _UnitOfWork(self.challenges)


def _own(*events: Contract) -> list[Message]:
    return [
        Message(
            CHALLENGE_EVENTS.name,
            0,
            offset,
            LEARNER.encode(),
            encode(wrap(event, source="challenges", correlation_id="tests")),
        )
        for offset, event in enumerate(events)
    ]


def _follower(*known: Challenge) -> tuple[OwnEvents, _Store]:
    pool = BoundedPool(POOL_SIZE)
    store = _Store(pool, {challenge.challenge_id: challenge for challenge in known})
    return OwnEvents(store, _Keyring(pool)), store  # type: ignore[arg-type]


async def test_a_raise_the_database_lost_comes_back_with_its_reason_on_a_pool_of_one_connection() -> None:
    follower, store = _follower()
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id=AO,
        uln=LEARNER,
        reason_sealed=KEY.seal_text(Purpose.CHALLENGE_REASON, "wrong grade"),
    )

    await asyncio.wait_for(follower.apply(_own(raised)), timeout=5)

    restored = store.challenges[raised.challenge_id]
    assert (restored.state, restored.reason) == (ChallengeState.RAISED, "wrong grade")


async def test_a_resolution_with_a_note_the_database_lost_comes_back_on_a_pool_of_one_connection() -> None:
    challenge = Challenge(
        uuid.uuid4(), uuid.uuid4(), AO, LEARNER, "wrong grade", ChallengeState.RAISED, datetime.now(UTC)
    )
    follower, store = _follower(challenge)
    acknowledged = ChallengeAcknowledged(
        challenge_id=challenge.challenge_id, achievement_id=challenge.achievement_id, ao_id=AO
    )
    resolved = ChallengeResolved(
        challenge_id=challenge.challenge_id,
        achievement_id=challenge.achievement_id,
        ao_id=AO,
        uln=LEARNER,
        resolution=ChallengeResolution.REJECTED,
        note_sealed=KEY.seal_text(Purpose.CHALLENGE_NOTE, "The grade is as awarded."),
    )

    await asyncio.wait_for(follower.apply(_own(acknowledged, resolved)), timeout=5)

    restored = store.challenges[challenge.challenge_id]
    assert (restored.state, restored.note) == (ChallengeState.RESOLVED, "The grade is as awarded.")
    assert restored.acknowledged_at is not None
