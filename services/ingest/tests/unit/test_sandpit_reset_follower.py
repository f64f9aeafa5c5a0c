"""One reset the follower cannot complete is left pending and logged: the AOs' resets behind it go on."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from ingest.sandpit import ResetFollower
from lrs_contracts.environments import LIVE_TOPICS
from lrs_contracts.sandpit import SandpitResetApplied


class Store:
    def __init__(self, refused: uuid.UUID) -> None:
        self.refused = refused
        self.completed: list[uuid.UUID] = []

    async def complete(self, applied: SandpitResetApplied) -> None:
        if applied.reset_id == self.refused:
            raise asyncpg.DataError("value out of int32 range")
        self.completed.append(applied.reset_id)


def _applied(ao_id: str) -> SandpitResetApplied:
    return SandpitResetApplied(reset_id=uuid.uuid4(), ao_id=ao_id, learners=1, forgotten_batches=())


async def test_a_reset_that_cannot_be_completed_does_not_hold_the_others() -> None:
    stuck, next_one = _applied("RN5133"), _applied("RN9999")
    store = Store(refused=stuck.reset_id)
    follower = ResetFollower(store, "kafka:9092", LIVE_TOPICS, decisions=None)  # type: ignore[arg-type]

    for applied in (stuck, next_one):
        await follower._complete(applied)

    assert store.completed == [next_one.reset_id]


async def test_kafka_or_postgresql_away_still_starts_the_follower_again() -> None:
    class Away(Store):
        async def complete(self, applied: SandpitResetApplied) -> None:
            raise ConnectionRefusedError

    follower = ResetFollower(Away(uuid.uuid4()), "kafka:9092", LIVE_TOPICS, decisions=None)  # type: ignore[arg-type]
    with pytest.raises(ConnectionRefusedError):
        await follower._complete(_applied("RN5133"))
