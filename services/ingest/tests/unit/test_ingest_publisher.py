"""The transactional publisher with a fake producer: whole transactions, one at a time, rebuilt after failure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from ingest.publisher import PublishUnavailable, TransactionalPublisher


@dataclass
class FakeTransaction:
    producer: FakeProducer

    async def __aenter__(self) -> FakeTransaction:
        assert not self.producer.in_transaction, "transactions overlap"
        self.producer.in_transaction = True
        self.producer.log.append("begin")
        return self

    async def __aexit__(self, exc_type: Any, *_: Any) -> None:
        self.producer.in_transaction = False
        self.producer.log.append("abort" if exc_type else "commit")


@dataclass
class FakeProducer:
    transactional_id: str
    fail_start: bool = False
    fail_send_at: int | None = None
    log: list[str] = field(default_factory=list)
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    in_transaction: bool = False
    stopped: bool = False

    async def start(self) -> None:
        if self.fail_start:
            raise ConnectionError("no broker")

    async def stop(self) -> None:
        self.stopped = True

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self)

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any = None) -> asyncio.Future[None]:
        if self.fail_send_at is not None and len(self.sent) == self.fail_send_at:
            raise ConnectionError("broker went away")
        self.sent.append((topic, key, value))
        await asyncio.sleep(0)  # let a competing publish try to interleave
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


@dataclass
class Factory:
    plan: list[dict[str, Any]] = field(default_factory=list)
    built: list[FakeProducer] = field(default_factory=list)

    def __call__(self, bootstrap: str, *, transactional_id: str) -> FakeProducer:
        producer = FakeProducer(transactional_id, **(self.plan.pop(0) if self.plan else {}))
        self.built.append(producer)
        return producer


async def no_topics(_: str) -> None:
    return None


def publisher(factory: Factory) -> TransactionalPublisher:
    return TransactionalPublisher(
        "kafka:9092",
        "ingest-test",
        start_timeout=1,
        transaction_timeout=1,
        producer_factory=factory,
        prepare_topics=no_topics,
    )  # type: ignore[arg-type]


async def test_values_go_out_in_order_in_one_committed_transaction() -> None:
    factory = Factory()
    await publisher(factory).publish("topic", b"RN5133", [b"a", b"b", b"c"])
    (producer,) = factory.built
    assert producer.log == ["begin", "commit"]
    assert producer.sent == [("topic", b"RN5133", b"a"), ("topic", b"RN5133", b"b"), ("topic", b"RN5133", b"c")]
    assert producer.transactional_id == "ingest-test"


async def test_concurrent_publishes_never_share_a_transaction() -> None:
    factory = Factory()
    shared = publisher(factory)
    await asyncio.gather(*(shared.publish("topic", b"k", [bytes([n]) * 3, bytes([n])]) for n in range(5)))
    (producer,) = factory.built
    assert producer.log == ["begin", "commit"] * 5


async def test_a_failed_transaction_aborts_and_the_next_publish_uses_a_new_producer() -> None:
    factory = Factory(plan=[{"fail_send_at": 1}])
    shared = publisher(factory)
    with pytest.raises(PublishUnavailable):
        await shared.publish("topic", b"k", [b"a", b"b"])
    broken = factory.built[0]
    assert broken.log == ["begin", "abort"] and broken.stopped
    await shared.publish("topic", b"k", [b"a", b"b"])
    assert factory.built[1].log == ["begin", "commit"]


async def test_kafka_unreachable_at_start_is_publish_unavailable() -> None:
    factory = Factory(plan=[{"fail_start": True}, {"fail_start": True}])
    shared = publisher(factory)
    await shared.warm_up()  # logs, never raises
    with pytest.raises(PublishUnavailable):
        await shared.publish("topic", b"k", [b"a"])
    assert [producer.stopped for producer in factory.built] == [True, True]
    await shared.publish("topic", b"k", [b"a"])  # Kafka is back
    assert factory.built[-1].log == ["begin", "commit"]
