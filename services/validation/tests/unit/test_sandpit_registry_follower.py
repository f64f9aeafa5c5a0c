"""The Sandpit's copy of the live registry takes what it can: a learner event it cannot store or read is parked
(decision 0030: a row an operator retries or skips, a dead letter on the Sandpit's own DLQ), the offsets past it
are stored, and the rest is copied; once it was logged and passed, visible nowhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition

from lrs_contracts.dead_letters import Headers
from lrs_contracts.environments import LIVE_TOPICS, Environment, TopicNames
from lrs_contracts.learner import LearnerRegisteredV1
from lrs_contracts.registry import encode, wrap
from lrs_platform.consumer import Message, RetryPolicy
from lrs_platform.parking import Parking, Stream
from validation.sandpit import REGISTRY_FOLLOWER, PassedStoredWithTheCopy, RegistryFollower, own_dead_letter_topics

NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0)
TOPIC = "lrs.learner.events.v1"


class Registry:
    """The copy's tables as PostgreSQL keeps them: a gender beyond a smallint is refused, the transaction
    with it; the stored offsets only ever go forward."""

    def __init__(self) -> None:
        self.learners: dict[str, int] = {}
        self.offsets: dict[int, int] = {}
        self._writes: list[tuple[str, Any]] | None = None

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Registry]:
        yield self

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._writes = []
        try:
            yield
            for table, row in self._writes:  # committed only when nothing failed
                self._write(table, row)
        finally:
            self._writes = None

    async def execute(self, query: str, *args: Any) -> str:
        if "INSERT INTO validation.learners" in query:
            uln, gender = args[0], args[4]
            if not -32768 <= gender <= 32767:
                raise asyncpg.DataError(f"invalid input for query argument $5: {gender} (value out of int16 range)")
            self._written("learners", (uln, gender))
        elif "sandpit_registry_offsets" in query:
            self._written("offsets", dict(zip(args[0], args[1], strict=True)))
        return "OK"

    def _written(self, table: str, row: Any) -> None:
        if self._writes is None:
            self._write(table, row)
        else:
            self._writes.append((table, row))

    def _write(self, table: str, row: Any) -> None:
        if table == "learners":
            self.learners[row[0]] = row[1]
        else:
            for partition, offset in row.items():
                self.offsets[partition] = max(self.offsets.get(partition, 0), offset)


class Office:
    """What the guard asks of a dead-letter office, in memory."""

    def __init__(self) -> None:
        self.parked: list[Parking] = []
        self.store = self

    def register(self, consumer: str, replayer: object = None) -> None:
        pass

    async def held_streams(self, consumer: str, among: Iterable[Stream]) -> dict[Stream, tuple[int, int]]:
        held = {(parking.topic, parking.key): (parking.partition, parking.offset) for parking in self.parked}
        return {stream: held[stream] for stream in among if stream in held}

    async def park(self, parkings: Sequence[Parking], *, publish: bool = True, publish_now: bool = True) -> None:
        self.parked.extend(parkings)

    async def publish_pending(self, consumer: str) -> int:
        return 0

    async def park_behind_held(
        self, consumer: str, waiting: Sequence[Parking], behind: Callable[[Parking, Mapping[Stream, Any]], bool]
    ) -> dict[Stream, tuple[int, int]]:
        held = await self.held_streams(consumer, [(parking.topic, parking.key) for parking in waiting if parking.key])
        self.parked.extend(parking for parking in waiting if behind(parking, held))
        return held


def _registration(offset: int, uln: str, gender: int) -> Message:
    event = LearnerRegisteredV1(uln=uln, given_name="Ada", family_name="Lovelace", gender=gender)
    return Message(TOPIC, 0, offset, uln.encode(), encode(wrap(event, source="validation", correlation_id=uln)))


async def _followed(registry: Registry, office: Office, messages: Sequence[Message]) -> None:
    """One poll through the loop's guard, then its progress, as `ConsumerLoop` does."""
    follower = RegistryFollower(registry, "kafka:9092", LIVE_TOPICS, None, None, NO_WAIT)  # type: ignore[arg-type]
    loop = follower.consumer_loop(office)  # type: ignore[arg-type]
    await loop.guard.apply(messages)
    ends = {TopicPartition(TOPIC, 0): messages[-1].offset + 1}
    await PassedStoredWithTheCopy(registry).passed(None, ends)


async def test_an_event_the_copy_cannot_store_is_parked_and_the_rest_is_copied() -> None:
    registry, office = Registry(), Office()

    await _followed(
        registry,
        office,
        [
            _registration(10, "1000000043", 1),
            _registration(11, "1000000051", 40_000),
            _registration(12, "1000000068", 2),
        ],
    )

    assert registry.learners == {"1000000043": 1, "1000000068": 2}
    assert registry.offsets == {0: 13}
    [parked] = office.parked
    assert (parked.consumer, parked.offset, parked.key, parked.reason) == (
        REGISTRY_FOLLOWER,
        11,
        b"1000000051",
        "error",
    )
    assert parked.dead_letter is not None
    assert (parked.dead_letter.error.split(":")[0], parked.dead_letter.attempts) == ("DataError", 3)


async def test_an_event_the_copy_cannot_read_is_parked_not_passed_over() -> None:
    registry, office = Registry(), Office()
    unreadable = Message(TOPIC, 0, 11, b"1000000051", b'{"event_type":"lrs.learner.registered.v1","data":{}}')

    await _followed(registry, office, [_registration(10, "1000000043", 1), unreadable])

    assert registry.learners == {"1000000043": 1}
    assert registry.offsets == {0: 12}
    [parked] = office.parked
    assert parked.offset == 11 and parked.dead_letter is not None
    assert parked.dead_letter.error.startswith("invalid: ")


async def test_a_learners_later_events_wait_behind_their_parked_one() -> None:
    registry, office = Registry(), Office()
    await _followed(registry, office, [_registration(11, "1000000051", 40_000)])

    await _followed(registry, office, [_registration(12, "1000000051", 2), _registration(13, "1000000068", 2)])

    assert registry.learners == {"1000000068": 2}
    assert [(parking.offset, parking.reason) for parking in office.parked] == [(11, "error"), (12, "blocked")]
    assert registry.offsets == {0: 14}


@pytest.mark.parametrize(
    ("topics", "original", "dead_letters"),
    [
        (TopicNames(Environment.SANDPIT), TOPIC, f"sandpit.{TOPIC}.dlq"),  # shared: the Sandpit's own, not live's
        (TopicNames(Environment.SANDPIT), "sandpit.lrs.batch.submitted.v1", "sandpit.lrs.batch.submitted.v1.dlq"),
        (TopicNames(Environment.SANDPIT, "t1."), f"t1.{TOPIC}", f"sandpit.t1.{TOPIC}.dlq"),
        (LIVE_TOPICS, TOPIC, f"{TOPIC}.dlq"),
        (LIVE_TOPICS, "lrs.batch.submitted.v1", "lrs.batch.submitted.v1.dlq"),
    ],
)
async def test_a_dead_letter_goes_to_its_environments_own_dlq(
    topics: TopicNames, original: str, dead_letters: str
) -> None:
    sent: list[str] = []

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append(topic)

    await own_dead_letter_topics(publish, topics)(f"{original}.dlq", b"k", b"v", [])

    assert sent == [dead_letters]
