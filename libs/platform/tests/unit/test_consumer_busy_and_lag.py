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
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError
from prometheus_client import REGISTRY

from lrs_platform import consumer as consumer_module
from lrs_platform.consumer import (
    Attempts,
    ConsumerLoop,
    LagCount,
    Message,
    Poisoned,
    PoisonGuard,
    RetryPolicy,
    Transient,
)
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


@dataclass
class Monotonic:
    """`time.monotonic()` as the consumer module reads it (when the broker was last asked the ends), moved by the
    test."""

    now: float = 5_000.0


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(consumer_module, "time", SimpleNamespace(time=time.time, monotonic=lambda: clock.now))
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


class Ticks:
    """The lag counter's wait between counts, ended when the test says: `counted()` returns once the counter has
    counted (at its start, then once a tick), with no time waited for."""

    def __init__(self) -> None:
        self._arrived: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self._waiting: asyncio.Future[None] | None = None

    async def wait(self, seconds: float) -> None:
        waiting = asyncio.get_running_loop().create_future()
        self._arrived.put_nowait(waiting)
        await waiting

    async def counted(self) -> None:
        """Ends the wait the counter is in (if any) and returns once it has counted again and waits."""
        if self._waiting is not None:
            self._waiting.set_result(None)
        self._waiting = await asyncio.wait_for(self._arrived.get(), timeout=5)


@dataclass
class FakeConsumer:
    """Two partitions of `TOPIC`: each poll hands out the next of `polls` (a poll of nothing once they are all
    handed out, or, with `then_wait`, a poll that never returns), moving partition 0's position past what it gives;
    `ends` are the last stable offsets the client knows, `broker_ends` what the broker answers when asked."""

    polls: list[list[Message]]
    ends: dict[int, int]
    positions: dict[int, int]
    broker_ends: dict[int, int] | None = None
    then_wait: bool = False
    arrivals: asyncio.Event | None = None  # set: the messages of the polls after an empty one have arrived
    committed: list[dict[TopicPartition, int]] = field(default_factory=list)
    commit_seen: asyncio.Event = field(default_factory=asyncio.Event)
    _subscription: SubscriptionState | None = None  # aiokafka's: what the group last said, if anything

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, partition) for partition in self.ends}

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return self.ends[tp.partition]

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.broker_ends is None:
            raise KafkaConnectionError("the broker is away")
        return {tp: self.broker_ends[tp.partition] for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp.partition]

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Message]]:
        if not self.polls:
            if self.then_wait:
                await asyncio.Event().wait()
            raise AllPolled
        records = self.polls.pop(0)
        if not records:
            return {}
        if self.arrivals is not None:
            await self.arrivals.wait()
        self.positions[0] = records[-1].offset + 1
        return {TopicPartition(TOPIC, 0): records}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(offsets)
        self.commit_seen.set()


def in_hand(*offsets: int) -> list[Message]:
    return [Message(TOPIC, 0, offset, None, b"{}") for offset in offsets]


async def running(loop: ConsumerLoop, consumer: FakeConsumer) -> asyncio.Task[None]:
    return asyncio.create_task(loop._consume(consumer))


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_consumer_loop_counts_its_lag_over_its_partitions_the_messages_in_hand_included() -> None:
    """Partition 0: offsets 10-12 in hand, 15 its end (5 waiting, those in hand included); partition 1: 2 waiting."""
    release = asyncio.Event()
    handed: list[int] = []

    async def handler(messages: Sequence[Message]) -> None:
        handed.extend(message.offset for message in messages)
        await release.wait()

    guard = PoisonGuard("lag.loop", handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    consumer = FakeConsumer([in_hand(10, 11, 12)], ends={0: 15, 1: 9}, positions={0: 10, 1: 7}, then_wait=True)
    loop = ConsumerLoop(guard, [TOPIC], lambda: consumer)
    ticks = Ticks()
    loop.lag = LagCount("lag.loop", wait=ticks.wait)
    task = await running(loop, consumer)
    try:
        await ticks.counted()
        assert handed == [10, 11, 12]
        assert lag("lag.loop") == 15 - 10 + 9 - 7
        release.set()
        await asyncio.wait_for(consumer.commit_seen.wait(), timeout=5)
        await ticks.counted()
        assert lag("lag.loop") == 15 - 13 + 9 - 7
    finally:
        await stopped(task)
    assert consumer.committed == [{TopicPartition(TOPIC, 0): 13}]


async def test_the_lag_stays_true_while_a_consumer_retries_what_it_polled(monotonic: Monotonic) -> None:
    """The SRE's relay outage: the notifier counted its idle 0 at a poll of nothing, the next poll brought messages
    within the second and was not counted, and the gauge read 0 for the whole outage (it retried, and did not poll)
    while the broker said the group was 6 behind."""
    failing = asyncio.Event()

    async def relay_away(messages: Sequence[Message]) -> None:
        failing.set()
        raise Transient("the mail relay: SMTPConnectError", delay=3600)  # waits in its back-off

    guard = PoisonGuard("lag.retrying", relay_away, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    arrivals = asyncio.Event()
    consumer = FakeConsumer(
        [[], in_hand(10, 11, 12)], ends={0: 10, 1: 7}, positions={0: 10, 1: 7}, then_wait=True, arrivals=arrivals
    )
    ticks = Ticks()
    loop = ConsumerLoop(guard, [TOPIC], lambda: consumer)
    loop.lag = LagCount("lag.retrying", wait=ticks.wait)
    task = await running(loop, consumer)
    try:
        await ticks.counted()
        assert lag("lag.retrying") == 0  # idle, polling
        consumer.ends[0] = 13  # three messages come, as the client fetched them
        arrivals.set()
        await asyncio.wait_for(failing.wait(), timeout=5)
        await ticks.counted()
        assert REGISTRY.get_sample_value("lrs_consumer_retrying", {"consumer": "lag.retrying"}) == 1
        assert lag("lag.retrying") == 3

        # written while it retries: the client fetched it, or, when it holds fetched messages already, the broker says
        consumer.ends[0] = 15
        await ticks.counted()
        assert lag("lag.retrying") == 5
        consumer.broker_ends = {0: 19, 1: 8}
        monotonic.now += consumer_module.LAG_ASK_EVERY_SECONDS  # asked in vain (away) a count ago: not again before
        await ticks.counted()
        assert lag("lag.retrying") == 19 - 10 + 8 - 7
    finally:
        await stopped(task)


async def test_the_ends_are_asked_of_the_broker_only_while_the_same_messages_stay_in_hand(
    monotonic: Monotonic,
) -> None:
    consumer = FakeConsumer([], ends={0: 15, 1: 9}, positions={0: 13, 1: 7}, broker_ends={0: 30, 1: 20})
    counter = LagCount("lag.asked")
    await counter.count(consumer, {TopicPartition(TOPIC, 0): 10})
    assert lag("lag.asked") == 15 - 10 + 9 - 7  # the client's ends: the messages were just taken
    await counter.count(consumer, {TopicPartition(TOPIC, 0): 13})
    assert lag("lag.asked") == 15 - 13 + 9 - 7
    await counter.count(consumer, {TopicPartition(TOPIC, 0): 13})
    assert lag("lag.asked") == 30 - 13 + 20 - 7  # the same in hand again: retried, the broker asked
    consumer.broker_ends = None
    monotonic.now += consumer_module.LAG_ASK_EVERY_SECONDS
    await counter.count(consumer, {TopicPartition(TOPIC, 0): 13})
    assert lag("lag.asked") == 15 - 13 + 9 - 7  # the broker away: the client's
    await counter.count(consumer, {})
    assert lag("lag.asked") == 15 - 13 + 9 - 7  # nothing in hand: the positions


async def test_a_topic_whose_partitions_went_to_another_replica_reads_zero() -> None:
    consumer = FakeConsumer([], ends={0: 15, 1: 9}, positions={0: 13, 1: 7})
    counter = LagCount("lag.revoked")
    await counter.count(consumer, {})
    assert lag("lag.revoked") == 4
    consumer.ends = {}  # a rebalance gave both partitions to another replica, which counts them now
    consumer._subscription = SubscriptionState()  # as aiokafka keeps what the group said: no partition for this one
    consumer._subscription.subscribe({TOPIC})
    consumer._subscription.assign_from_subscribed(set())
    await counter.count(consumer, {})
    assert lag("lag.revoked") == 0


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
