"""What a consumer says while an apply hangs (`lrs_consumer_busy_since_seconds`) and how far behind it is
(`lrs_consumer_lag_messages`): a lock held on a consumer's table stalled it for minutes with every other
metric and `/readyz` saying all was well."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError
from prometheus_client import REGISTRY

from lrs_platform import consumer as consumer_module
from lrs_platform.consumer import Attempts, ConsumerLoop, LagCount, Message, Poisoned, PoisonGuard, RetryPolicy
from lrs_platform.parking import DeadLetterOffice

NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0, poison_attempts=2)
TOPIC = "lrs.batch.outcomes.v1"


def busy_since(name: str) -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_busy_since_seconds", {"consumer": name})


@dataclass
class WallClock:
    """`time.time()` as the consumer module reads it, moved by the test instead of waited for."""

    now: float = 1_000.0


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    clock = WallClock()
    monkeypatch.setattr(consumer_module, "time", SimpleNamespace(time=lambda: clock.now, monotonic=time.monotonic))
    return clock


def lag(name: str, topic: str = TOPIC) -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_lag_messages", {"consumer": name, "topic": topic})


async def test_the_gauge_holds_when_a_hanging_effect_began_and_is_cleared_once_it_returns(
    wall_clock: WallClock,
) -> None:
    attempts = Attempts("busy.hanging", NO_WAIT)
    assert busy_since("busy.hanging") == 0.0  # exported from the start, for an alert to find
    began, release = asyncio.Event(), asyncio.Event()

    async def waits_on_a_lock() -> str:
        began.set()
        await release.wait()
        return "applied"

    applying = asyncio.create_task(attempts.run(waits_on_a_lock))
    try:
        await asyncio.wait_for(began.wait(), timeout=5)
        assert busy_since("busy.hanging") == 1_000.0
        wall_clock.now += 120
        assert busy_since("busy.hanging") == 1_000.0  # the start stands however long it hangs
    finally:
        release.set()  # a failed check leaves no attempt behind, the collector paused
    assert await asyncio.wait_for(applying, timeout=5) == "applied"
    assert busy_since("busy.hanging") == 0.0


@dataclass
class NotingEffect:
    """Notes the gauge at each attempt, failing with each error in turn."""

    consumer: str
    errors: list[Exception]
    seen: list[float | None] = field(default_factory=list)

    async def __call__(self) -> str:
        self.seen.append(busy_since(self.consumer))
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_the_gauge_is_set_at_each_attempt_and_cleared_after_failures_poison_and_fatal_errors() -> None:
    attempts = Attempts("busy.failing", NO_WAIT, fatal=(LookupError,))

    retried = NotingEffect("busy.failing", [OSError("database away")])
    assert await attempts.until_done(retried) == "done"
    poisoned = NotingEffect("busy.failing", [ValueError("bad")] * 2)
    assert await attempts.run(poisoned) == Poisoned("ValueError: bad", 2)
    fatal = NotingEffect("busy.failing", [LookupError("fenced")])
    with pytest.raises(LookupError):
        await attempts.run(fatal)

    for seen in (retried.seen, poisoned.seen, fatal.seen):
        assert seen and all(since is not None and since > 0 for since in seen)
    assert busy_since("busy.failing") == 0.0


async def test_the_gauge_is_cleared_when_the_attempt_is_cancelled() -> None:
    attempts = Attempts("busy.cancelled", NO_WAIT)
    began = asyncio.Event()

    async def hangs() -> None:
        began.set()
        await asyncio.Event().wait()

    applying = asyncio.create_task(attempts.run(hangs))
    await asyncio.wait_for(began.wait(), timeout=5)
    applying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await applying
    assert busy_since("busy.cancelled") == 0.0


async def test_an_attempt_inside_another_leaves_the_outer_start_standing(wall_clock: WallClock) -> None:
    """The projector's step is one attempt, and applies a poison's neighbours one by one in attempts of their own."""
    attempts = Attempts("busy.nested", NO_WAIT)
    seen: list[float | None] = []

    async def inner() -> None:
        seen.append(busy_since("busy.nested"))

    async def outer() -> None:
        seen.append(busy_since("busy.nested"))
        wall_clock.now += 1  # the inner attempt starts later
        await attempts.run(inner)
        seen.append(busy_since("busy.nested"))

    await attempts.until_done(outer)
    assert seen[0] is not None and seen[0] > 0 and seen == [seen[0]] * 3
    assert busy_since("busy.nested") == 0.0


async def test_a_retired_consumer_takes_its_gauge_with_it() -> None:
    Attempts("busy.retired", NO_WAIT).retire()
    assert busy_since("busy.retired") is None


async def test_a_guard_applying_a_poll_says_since_when() -> None:
    seen: list[float | None] = []

    async def handler(messages: Sequence[Message]) -> None:
        seen.append(busy_since("busy.guarded"))

    guard = PoisonGuard("busy.guarded", handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    await guard.apply([Message(TOPIC, 0, 7, None, b"{}")])  # no key: the parked table is not asked
    assert len(seen) == 1 and seen[0] is not None and seen[0] > 0
    assert busy_since("busy.guarded") == 0.0


class AllPolled(Exception):
    """The fake consumer has nothing left to give."""


@dataclass
class FakeConsumer:
    """Two partitions of `TOPIC`: 0 hands out `records` at the first poll, 1 has nothing new for this consumer."""

    records: list[Message]
    ends: dict[int, int]
    positions: dict[int, int]
    polls: int = 0
    committed: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, partition) for partition in self.ends}

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return self.ends[tp.partition]

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp.partition]

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Message]]:
        self.polls += 1
        if self.polls > 1:
            raise AllPolled
        return {TopicPartition(TOPIC, 0): self.records}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(offsets)


def waiting_on_two_partitions() -> FakeConsumer:
    """Partition 0: offsets 10-12 in hand, 15 its end (5 waiting, those in hand included); partition 1: 2 waiting."""
    records = [Message(TOPIC, 0, offset, None, b"{}") for offset in (10, 11, 12)]
    return FakeConsumer(records, ends={0: 15, 1: 9}, positions={0: 13, 1: 7})


async def test_a_consumer_loop_counts_its_lag_over_its_partitions_the_messages_in_hand_included() -> None:
    async def handler(messages: Sequence[Message]) -> None:
        return None

    guard = PoisonGuard("lag.loop", handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    consumer = waiting_on_two_partitions()
    loop = ConsumerLoop(guard, [TOPIC], lambda: consumer)
    with pytest.raises(AllPolled):
        await loop._consume(consumer)

    assert lag("lag.loop") == 7
    assert consumer.committed == [{TopicPartition(TOPIC, 0): 13}]


async def test_the_lag_is_counted_at_most_every_interval() -> None:
    now = [100.0]
    counter = LagCount("lag.interval", every_s=1.0, clock=lambda: now[0])
    consumer = waiting_on_two_partitions()
    await counter.after_poll(consumer, {})
    assert lag("lag.interval") == 15 - 13 + 9 - 7

    consumer.ends[0] = 20
    now[0] += 0.5
    await counter.after_poll(consumer, {})
    assert lag("lag.interval") == 4
    now[0] += 0.5
    await counter.after_poll(consumer, {})
    assert lag("lag.interval") == 20 - 13 + 9 - 7


class RefusedClient:
    """A Kafka client the broker refuses at its first poll (its group not granted: GroupAuthorizationFailedError)."""

    def __init__(self) -> None:
        self.stopped = False

    def subscribe(self, topics: Sequence[str]) -> None:
        return None

    async def start(self) -> None:
        return None

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[object]]:
        raise GroupAuthorizationFailedError("sandpit.ingest-sandpit-resets")

    async def stop(self) -> None:
        self.stopped = True


class GrantedClient(RefusedClient):
    """The same client once its group is granted: it joins, is assigned a partition and polls nothing new."""

    def __init__(self, polled: asyncio.Event) -> None:
        super().__init__()
        self.polled = polled

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[object]]:
        self.polled.set()
        await asyncio.sleep(0)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0)}


async def test_a_client_kafka_keeps_refusing_is_said_on_readyz_until_it_polls_again() -> None:
    """A consumer whose group Kafka does not grant restarted its client every few seconds, applying nothing, while
    `/readyz` said "ok" and `lrs_consumer_retrying` 0: nothing would have alerted."""

    async def handler(messages: Sequence[Message]) -> None:
        return None

    guard = PoisonGuard("client.refused", handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    guard.start = lambda: asyncio.sleep(0)  # type: ignore[method-assign]
    refusals, polled = 3, asyncio.Event()
    said: list[str] = []

    def next_client() -> RefusedClient:
        nonlocal refusals
        said.append(consumer_module.readiness_words({"error": 0, "blocked": 0}, guard.attempts))
        if refusals:
            refusals -= 1
            return RefusedClient()
        return GrantedClient(polled)

    loop = ConsumerLoop(guard, [TOPIC], next_client)
    running = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(polled.wait(), timeout=5)
        await asyncio.sleep(0)
        after = consumer_module.readiness_words({"error": 0, "blocked": 0}, guard.attempts)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    assert said[0] == "ok"
    assert all(words.startswith("ok: retrying for") and "GroupAuthorizationFailedError" in words for words in said[1:])
    assert REGISTRY.get_sample_value("lrs_consumer_retrying", {"consumer": "client.refused"}) == 0
    assert after == "ok"
