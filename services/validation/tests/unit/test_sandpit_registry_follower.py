"""The Sandpit's copy of the live registry takes what it can: a learner event its columns refuse is passed
(logged, its offset stored), not a crash of the Sandpit's validation at every start (its decider with it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord

from lrs_contracts.environments import LIVE_TOPICS
from lrs_contracts.learner import LearnerRegisteredV1
from lrs_contracts.registry import encode, wrap
from lrs_platform.consumer import RetryPolicy
from validation.sandpit import RegistryFollower

NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0)


class Registry:
    """The copy's tables as PostgreSQL keeps them: a gender beyond a smallint is refused, the transaction
    with it."""

    def __init__(self) -> None:
        self.learners: dict[str, int] = {}
        self.offsets: dict[int, int] = {}
        self._writes: list[tuple[str, Any]] = []

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Registry]:
        yield self

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._writes = []
        yield
        for table, row in self._writes:  # committed only when nothing failed
            if table == "learners":
                self.learners[row[0]] = row[1]
            else:
                self.offsets.update(row)

    async def execute(self, query: str, *args: Any) -> str:
        if "INSERT INTO validation.learners" in query:
            uln, gender = args[0], args[4]
            if not -32768 <= gender <= 32767:
                raise asyncpg.DataError(f"invalid input for query argument $5: {gender} (value out of int16 range)")
            self._writes.append(("learners", (uln, gender)))
        elif "sandpit_registry_offsets" in query and "unnest" in query:
            self._writes.append(("offsets", dict(zip(args[0], args[1], strict=True))))
        elif "sandpit_registry_offsets" in query:  # an event passed, outside any transaction
            self.offsets[args[0]] = max(self.offsets.get(args[0], 0), args[1])
        return "OK"


def _registration(offset: int, uln: str, gender: int) -> ConsumerRecord[bytes, bytes]:
    event = LearnerRegisteredV1(uln=uln, given_name="Ada", family_name="Lovelace", gender=gender)
    value = encode(wrap(event, source="validation", correlation_id=uln))
    return ConsumerRecord("lrs.learner.events.v1", 0, offset, 0, 0, uln.encode(), value, None, 0, len(value), [])


async def test_an_event_the_copy_cannot_store_is_passed_and_the_rest_is_copied() -> None:
    registry = Registry()
    follower = RegistryFollower(registry, "kafka:9092", LIVE_TOPICS, None, None, NO_WAIT)  # type: ignore[arg-type]

    await follower.apply_or_skip(
        [
            _registration(10, "1000000043", 1),
            _registration(11, "1000000051", 40_000),
            _registration(12, "1000000068", 2),
        ]
    )

    assert registry.learners == {"1000000043": 1, "1000000068": 2}
    assert registry.offsets == {0: 13}
