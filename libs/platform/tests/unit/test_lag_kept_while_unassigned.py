"""`lrs_consumer_lag_messages` while a consumer's client has no partitions, and how often the broker is asked the ends
(review1, findings 1 and 6).

A client rebuilt after an error has no partitions until it joins its group, and never joins while Kafka refuses the
group: the lag read 0 then, for as long as that lasted, with the messages still waiting and nothing applied, so the
"consumer stuck" alert could not fire. And while the same messages stayed in hand (a decider holding a batch for a
48-hour maintenance window) the broker was asked the ends every second."""

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
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from lrs_platform import consumer as consumer_module
from lrs_platform.consumer import ConsumerLoop, LagCount, Message, PoisonGuard, RetryPolicy
from lrs_platform.parking import DeadLetterOffice

TOPIC = "lrs.batch.outcomes.v1"
OTHER = "lrs.learner.events.v1"
NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0, poison_attempts=2)


def lag(name: str, topic: str = TOPIC) -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_lag_messages", {"consumer": name, "topic": topic})


class Ticks:
    """The lag counter's wait between counts, ended when the test says; a wait whose counter was cancelled with its
    client is passed over."""

    def __init__(self) -> None:
        self._arrived: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self._waiting: asyncio.Future[None] | None = None

    async def wait(self, seconds: float) -> None:
        waiting = asyncio.get_running_loop().create_future()
        self._arrived.put_nowait(waiting)
        await waiting

    async def counted(self) -> None:
        """Ends the wait the counter is in and returns once a counter (this client's or the next's) has counted."""
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(None)
        while True:
            self._waiting = await asyncio.wait_for(self._arrived.get(), timeout=5)
            if not self._waiting.done():
                return


@dataclass
class Client:
    """A Kafka client: `partitions` assigned (none: not in its group yet), each at offset `at` with its last stable
    offset `end` (`broker_end` as the broker says it); its poll hangs until `dropped` is set, then its connection
    drops."""

    partitions: set[TopicPartition]
    end: int = 16
    at: int = 10
    broker_end: int = 16
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    asked: int = 0
    _subscription: SubscriptionState | None = None  # aiokafka's: what the group last said, if anything

    def subscribe(self, topics: Sequence[str]) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return self.end

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked += 1
        return dict.fromkeys(partitions, self.broker_end)

    async def getmany(self, **_: object) -> dict[TopicPartition, list[object]]:
        await self.dropped.wait()
        raise KafkaConnectionError("the broker went away")


def joined_with_nothing() -> SubscriptionState:
    """aiokafka's state of a client its group answered at the last rebalance: no partition for it."""
    state = SubscriptionState()
    state.subscribe({TOPIC, OTHER})
    state.assign_from_subscribed(set())
    return state


async def test_the_lag_counted_stays_while_a_rebuilt_client_is_not_in_its_group() -> None:
    """The reviewer's case: 6 messages wait; the connection drops; the rebuilt client is not (yet) in its group."""

    async def handler(messages: Sequence[Message]) -> None:
        return None

    name = "lag.rebuilt"
    guard = PoisonGuard(name, handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    guard.start = lambda: asyncio.sleep(0)  # type: ignore[method-assign]
    first = Client({TopicPartition(TOPIC, 0)})
    rebuilt: list[Client] = []

    def next_client() -> Client:
        if not rebuilt and not first.dropped.is_set():
            return first
        rebuilt.append(Client(set()))  # its poll hangs: the coordinator is away
        return rebuilt[-1]

    loop = ConsumerLoop(guard, [TOPIC], next_client)
    ticks = Ticks()
    loop.lag = LagCount(name, wait=ticks.wait)
    task = asyncio.create_task(loop.run())
    try:
        await ticks.counted()
        assert lag(name) == 16 - 10
        first.dropped.set()
        await ticks.counted()  # the rebuilt client's counter, at its start
        assert rebuilt
        assert lag(name) == 6, "the 6 waiting messages must not read 0 while the rebuilt client is not assigned"
        await ticks.counted()
        assert lag(name) == 6
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_client_the_group_gave_no_partition_at_its_rebalance_reads_zero() -> None:
    """Its partitions went to another replica, which counts them now (both replicas would say them otherwise)."""
    counter = LagCount("lag.gone")
    assigned = Client({TopicPartition(TOPIC, 0)})
    await counter.count(assigned, {})
    assert lag("lag.gone") == 6
    rebuilt = Client(set())
    rebuilt._subscription = SubscriptionState()
    rebuilt._subscription.subscribe({TOPIC})  # subscribed, not yet answered by its group
    await counter.count(rebuilt, {})
    assert lag("lag.gone") == 6
    rebuilt._subscription = joined_with_nothing()
    await counter.count(rebuilt, {})
    assert lag("lag.gone") == 0


async def test_a_topic_gone_to_another_replica_reads_zero_while_the_client_keeps_another() -> None:
    counter = LagCount("lag.moved")
    client = Client({TopicPartition(TOPIC, 0), TopicPartition(OTHER, 0)})
    await counter.count(client, {})
    assert lag("lag.moved") == lag("lag.moved", OTHER) == 6
    client.partitions = {TopicPartition(OTHER, 0)}
    await counter.count(client, {})
    assert lag("lag.moved") == 0
    assert lag("lag.moved", OTHER) == 6


@dataclass
class Monotonic:
    now: float = 5_000.0


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(consumer_module, "time", SimpleNamespace(time=time.time, monotonic=lambda: clock.now))
    return clock


async def test_the_broker_is_asked_at_most_every_15_seconds_while_the_same_messages_stay_in_hand(
    monotonic: Monotonic,
) -> None:
    """A minute of counts a second with the same batch in hand (held for maintenance): 4 requests, not 60, and the
    counts in between from the last answer."""
    counter = LagCount("lag.held")
    client = Client({TopicPartition(TOPIC, 0)}, end=12, broker_end=20)
    held = {TopicPartition(TOPIC, 0): 10}
    seen: list[float | None] = []
    for _ in range(61):
        await counter.count(client, held)
        seen.append(lag("lag.held"))
        monotonic.now += 1.0
        if monotonic.now == 5_030.0:
            client.broker_end = 25  # written meanwhile: seen at the next request
    assert client.asked == 4  # at 1 s (the first retried count), 16 s, 31 s and 46 s
    assert seen[0] == 12 - 10  # the messages just taken: the client's end
    assert seen[1:31] == [20 - 10] * 30
    assert seen[31] == 25 - 10  # asked again at 31 s
    assert seen[-1] == 25 - 10

    # other messages in hand, then held in turn: the broker is asked at once
    held = {TopicPartition(TOPIC, 0): 11}
    await counter.count(client, held)
    client.broker_end = 30
    await counter.count(client, held)
    assert client.asked == 5
    assert lag("lag.held") == 30 - 11
