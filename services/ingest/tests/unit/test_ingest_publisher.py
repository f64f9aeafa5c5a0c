"""The transactional publisher with a fake producer: whole transactions, one at a time, rebuilt after
failure, and always answered within the time limit, even by a broker that stopped answering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from ingest.publisher import PublishUnavailable, TransactionalPublisher

# Generous outer bounds: a publish that hangs fails the test here instead of at pytest's timeout.
SAFETY = 10.0


@dataclass
class FakeBatch:
    delivery: asyncio.Future[None]
    _drain_waiter: asyncio.Future[None]


@dataclass
class FakeAccumulator:
    """Like aiokafka's: holds the batches the broker has not acknowledged."""

    _batches: dict[str, list[FakeBatch]] = field(default_factory=dict)
    _pending_batches: set[Any] = field(default_factory=set)

    def add(self, topic: str, delivery: asyncio.Future[None]) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batches.setdefault(topic, []).append(FakeBatch(delivery, waiter))

    def fail_all(self, exception: Exception) -> None:
        for batch in (batch for batches in self._batches.values() for batch in batches):
            for future in (batch.delivery, batch._drain_waiter):
                if not future.done():
                    future.set_exception(exception)

    async def flushed(self) -> None:
        deliveries = [batch.delivery for batches in self._batches.values() for batch in batches]
        await asyncio.gather(*deliveries, return_exceptions=True)


@dataclass
class FakeProducer:
    """`silent`: the broker stopped answering; nothing is acknowledged, committed or aborted, and, like
    aiokafka's, stop() waits for the unacknowledged deliveries."""

    transactional_id: str
    options: dict[str, Any]
    fail_start: bool = False
    fail_send_at: int | None = None
    silent: bool = False
    log: list[str] = field(default_factory=list)
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    in_transaction: bool = False
    stopped: bool = False
    _message_accumulator: FakeAccumulator = field(default_factory=FakeAccumulator)

    async def start(self) -> None:
        if self.fail_start:
            raise ConnectionError("no broker")

    async def stop(self) -> None:
        await self._message_accumulator.flushed()
        self.stopped = True

    async def begin_transaction(self) -> None:
        assert not self.in_transaction, "transactions overlap"
        self.in_transaction = True
        self.log.append("begin")

    async def commit_transaction(self) -> None:
        await self._broker_answer()
        self.in_transaction = False
        self.log.append("commit")

    async def abort_transaction(self) -> None:
        await self._broker_answer()
        self.in_transaction = False
        self.log.append("abort")

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self)

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any = None) -> asyncio.Future[None]:
        if self.fail_send_at is not None and len(self.sent) == self.fail_send_at:
            raise ConnectionError("broker went away")
        self.sent.append((topic, key, value))
        await asyncio.sleep(0)  # let a competing publish try to interleave
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.silent:
            self._message_accumulator.add(topic, delivery)
        else:
            delivery.set_result(None)
        return delivery

    async def _broker_answer(self) -> None:
        if self.silent:
            await asyncio.Event().wait()


@dataclass
class FakeTransaction:
    """aiokafka's `producer.transaction()`: commits on success, aborts (and waits for it) on failure."""

    producer: FakeProducer

    async def __aenter__(self) -> FakeTransaction:
        await self.producer.begin_transaction()
        return self

    async def __aexit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            await self.producer.commit_transaction()
        else:
            await self.producer.abort_transaction()


@dataclass
class Factory:
    plan: list[dict[str, Any]] = field(default_factory=list)
    built: list[FakeProducer] = field(default_factory=list)

    def __call__(self, bootstrap: str, *, transactional_id: str, **options: Any) -> FakeProducer:
        producer = FakeProducer(transactional_id, options, **(self.plan.pop(0) if self.plan else {}))
        self.built.append(producer)
        return producer


async def no_topics(_: str) -> None:
    return None


def publisher(factory: Factory, publish_timeout: float = 1.0) -> TransactionalPublisher:
    return TransactionalPublisher(
        "kafka:9092",
        "ingest-test",
        start_timeout=1,
        publish_timeout=publish_timeout,
        producer_factory=factory,
        prepare_topics=no_topics,
    )


async def test_values_go_out_in_order_in_one_committed_transaction() -> None:
    factory = Factory()
    await publisher(factory).publish("topic", b"RN5133", [b"a", b"b", b"c"])
    (producer,) = factory.built
    assert producer.log == ["begin", "commit"]
    assert producer.sent == [("topic", b"RN5133", b"a"), ("topic", b"RN5133", b"b"), ("topic", b"RN5133", b"c")]
    assert producer.transactional_id == "ingest-test"


async def test_the_producer_gives_up_on_requests_and_transactions_within_the_limits() -> None:
    factory = Factory()
    await publisher(factory, publish_timeout=30).publish("topic", b"k", [b"a"])
    assert factory.built[0].options == {"request_timeout_ms": 1_000, "transaction_timeout_ms": 30_000}


async def test_concurrent_publishes_never_share_a_transaction() -> None:
    factory = Factory()
    shared = publisher(factory)
    await asyncio.gather(*(shared.publish("topic", b"k", [bytes([n]) * 3, bytes([n])]) for n in range(5)))
    (producer,) = factory.built
    assert producer.log == ["begin", "commit"] * 5


async def test_a_failed_transaction_throws_the_producer_away_and_the_next_publish_uses_a_new_one() -> None:
    factory = Factory(plan=[{"fail_send_at": 1}])
    shared = publisher(factory)
    with pytest.raises(PublishUnavailable):
        await shared.publish("topic", b"k", [b"a", b"b"])
    await shared.publish("topic", b"k", [b"a", b"b"])
    await shared.stop()
    broken, fresh = factory.built
    # never aborted: the next producer's fencing aborts the broker's side
    assert broken.log == ["begin"] and broken.stopped
    assert fresh.log == ["begin", "commit"] and fresh.stopped


async def test_a_broker_that_stops_answering_is_answered_within_the_limit() -> None:
    factory = Factory(plan=[{"silent": True}])
    shared = publisher(factory, publish_timeout=0.5)
    async with asyncio.timeout(SAFETY):
        with pytest.raises(PublishUnavailable, match=r"within 0\.5 s"):
            await shared.publish("topic", b"k", [b"a", b"b"])
    silent = factory.built[0]
    async with asyncio.timeout(SAFETY):
        await shared.publish("topic", b"k", [b"a"])  # the broker answers again
        await shared.stop()
    assert silent.stopped  # its undelivered messages were failed, so it could stop
    assert factory.built[1].log == ["begin", "commit"]


async def test_publishes_queued_behind_a_silent_broker_are_answered_within_their_own_limit() -> None:
    factory = Factory(plan=[{"silent": True}])
    shared = publisher(factory, publish_timeout=0.5)
    async with asyncio.timeout(SAFETY):
        outcomes = await asyncio.gather(
            *(shared.publish("topic", b"k", [bytes([n])]) for n in range(3)), return_exceptions=True
        )
    assert all(isinstance(outcome, PublishUnavailable) for outcome in outcomes)


async def test_kafka_unreachable_at_start_is_publish_unavailable() -> None:
    factory = Factory(plan=[{"fail_start": True}, {"fail_start": True}])
    shared = publisher(factory)
    await shared.warm_up()  # logs, never raises
    with pytest.raises(PublishUnavailable):
        await shared.publish("topic", b"k", [b"a"])
    await shared.publish("topic", b"k", [b"a"])  # Kafka is back
    await shared.stop()
    assert [producer.stopped for producer in factory.built] == [True, True, True]
    assert factory.built[-1].log == ["begin", "commit"]
