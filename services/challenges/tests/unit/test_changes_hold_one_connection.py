"""An acknowledgement or resolution holds one connection of the service's pool (its unit of work) and asks for no
second while it does: what it reads besides the challenge (whether the achievement is withdrawn, the learner's key
that seals a note) it reads before. Read inside, as many changes at once as the pool has connections each waited for
a second, for ever, and every other user of the pool with them (an AO's script acknowledging a page of challenges)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from services.challenges.tests.unit.bounded_pool import BoundedPool

from challenges.domain import Challenge, ChallengeState
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengeResolution
from lrs_platform.identity import Principal

LEARNER, AO = "1000000043", "RN5133"
POOL_SIZE = 2


class _Record:
    def __init__(self, pool: BoundedPool) -> None:
        self._pool = pool

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        async with self._pool.acquire():
            return frozenset()


class _Keyring:
    """The learner key store, on the same pool (`Keyring(pool, ...)`)."""

    def __init__(self, pool: BoundedPool) -> None:
        self._pool = pool

    async def issue(self, ulns: Iterable[str]) -> dict[str, Any]:
        async with self._pool.acquire():
            return {uln: _Key() for uln in ulns}


class _Key:
    key_id = "k1"

    def seal(self, text: str, *_: Any, **__: Any) -> str:
        return f"sealed({len(text)})"


class _UnitOfWork:
    def __init__(self, challenges: dict[uuid.UUID, Challenge]) -> None:
        self._challenges = challenges

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge:
        await asyncio.sleep(0)
        return self._challenges[challenge_id]

    async def update(self, changed: Challenge) -> None:
        self._challenges[changed.challenge_id] = changed

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        await asyncio.sleep(0)


class _Store:
    def __init__(self, pool: BoundedPool, challenges: dict[uuid.UUID, Challenge]) -> None:
        self._pool, self._challenges = pool, challenges

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        async with self._pool.acquire():
            return self._challenges.get(challenge_id)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_UnitOfWork]:
        async with self._pool.acquire():  # the unit of work's connection, held in its transaction
            yield _UnitOfWork(self._challenges)


async def _unused(*_: Any) -> bool:
    raise AssertionError("not asked by an acknowledgement or resolution")


def _service(state: ChallengeState) -> tuple[ChallengeService, list[uuid.UUID]]:
    pool = BoundedPool(POOL_SIZE)
    challenges = [
        Challenge(uuid.uuid4(), uuid.uuid4(), AO, LEARNER, "wrong grade", state, datetime.now(UTC))
        for _ in range(POOL_SIZE * 2)
    ]
    store = _Store(pool, {challenge.challenge_id: challenge for challenge in challenges})
    service = ChallengeService(store, _Record(pool), _Keyring(pool), _unused, held=_unused)  # type: ignore[arg-type]
    return service, [challenge.challenge_id for challenge in challenges]


async def test_more_acknowledgements_at_once_than_the_pool_has_connections_all_finish() -> None:
    service, ids = _service(ChallengeState.RAISED)
    ao = Principal.parse(f"ao:{AO}")

    changed = await asyncio.wait_for(asyncio.gather(*(service.acknowledge(ao, each) for each in ids)), timeout=5)

    assert {each.challenge.state for each in changed} == {ChallengeState.ACKNOWLEDGED}


async def test_more_resolutions_with_notes_at_once_than_the_pool_has_connections_all_finish() -> None:
    service, ids = _service(ChallengeState.ACKNOWLEDGED)
    ao = Principal.parse(f"ao:{AO}")

    changed = await asyncio.wait_for(
        asyncio.gather(
            *(service.resolve(ao, each, ChallengeResolution.REJECTED, "The grade is as awarded.") for each in ids)
        ),
        timeout=5,
    )

    assert {each.challenge.state for each in changed} == {ChallengeState.RESOLVED}
