"""An outbox relay while Kafka is away (report-e2e, finding 1): a pass waited, in its transaction, for as long as the
producer waited for the absent broker, and `lrs_outbox_pending_rows` (counted only between passes) read 0 and
`lrs_outbox_relay_failures_total` did not move for the whole outage. Now a pass's publish is bounded, and the rows
waiting are counted on a timer of their own, only those waiting `PENDING_AFTER_SECONDS` or more (a healthy relay fed
steadily reads 0, review1, finding 3)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from lrs_platform import outbox as outbox_module
from lrs_platform.outbox import Outbox


def sample(name: str, table: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"outbox": table})


@dataclass
class Monotonic:
    now: float = 7_000.0


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(outbox_module, "time", SimpleNamespace(time=time.time, monotonic=lambda: clock.now))
    return clock


class Hangs:
    """A producer whose broker is away: `send` (waiting for metadata) or its delivery never finishes."""

    def __init__(self, *, in_send: bool) -> None:
        self.in_send = in_send
        self.sent = 0

    async def send(self, topic: str, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent += 1
        if self.in_send:
            await asyncio.Event().wait()
        return asyncio.get_running_loop().create_future()  # never delivered


class Transaction:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: object, error: object, traceback: object) -> None:
        self.connection.ended.append("rolled back" if error is not None else "committed")
        self.connection.passes.put_nowait(self.connection.ended[-1])


class Connection:
    """Two unpublished rows; says how each transaction ended and what it updated."""

    def __init__(self) -> None:
        self.ended: list[str] = []
        self.updated: list[object] = []
        self.passes: asyncio.Queue[str] = asyncio.Queue()

    def transaction(self) -> Transaction:
        return Transaction(self)

    async def fetchval(self, query: str, *args: object) -> bool:
        return True  # the relay's advisory lock

    async def fetch(self, query: str, *args: object) -> list[dict[str, Any]]:
        return [{"id": 1, "partition_key": "a", "envelope": b"x"}, {"id": 2, "partition_key": "b", "envelope": b"y"}]

    async def execute(self, query: str, *args: object) -> None:
        self.updated.append(args)


class Pool:
    def __init__(self) -> None:
        self.connection = Connection()

    def acquire(self) -> Pool:
        return self

    async def __aenter__(self) -> Connection:
        return self.connection

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("in_send", [True, False], ids=["send-hangs", "delivery-hangs"])
async def test_a_pass_kafka_does_not_take_fails_and_is_rolled_back(
    in_send: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "PUBLISHED_WITHIN_SECONDS", 0.05)
    pool, producer = Pool(), Hangs(in_send=in_send)
    relayed = asyncio.create_task(Outbox("hang.outbox", "t").relay_once(pool, producer))
    done, _ = await asyncio.wait({relayed}, timeout=5)  # without the bound: still waiting for the broker
    relayed.cancel()
    assert relayed in done and isinstance(relayed.exception(), TimeoutError)
    assert pool.connection.ended == ["rolled back"]
    assert pool.connection.updated == []  # the rows stay unpublished


class NoBackOff:
    """`asyncio` as the outbox module sees it, its relay's back-off after a failure not waited out."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)


async def test_a_relay_whose_publish_hangs_counts_its_failures_and_logs_the_streak_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox_module, "PUBLISHED_WITHIN_SECONDS", 0.01)
    monkeypatch.setattr(outbox_module, "asyncio", NoBackOff())
    logged: list[str] = []
    monkeypatch.setattr(
        outbox_module,
        "_log",
        SimpleNamespace(warning=lambda event, **_: logged.append(event), info=lambda *_, **__: None),
    )
    table = "hanging.outbox"
    pool, producer = Pool(), Hangs(in_send=False)
    before = sample("lrs_outbox_relay_failures_total", table) or 0.0
    relay = asyncio.create_task(Outbox(table, "t").relay_forever(pool, producer, asyncio.Event()))
    try:
        for _ in range(3):  # three passes, each rolled back
            assert await asyncio.wait_for(pool.connection.passes.get(), timeout=5) == "rolled back"
    finally:
        relay.cancel()
    assert (sample("lrs_outbox_relay_failures_total", table) or 0.0) - before >= 2
    assert logged == ["outbox_relay_failed"]
    assert set(pool.connection.ended) == {"rolled back"} and pool.connection.updated == []


@dataclass(frozen=True)
class StuckOutbox(Outbox):
    """A relay whose pass never ends (a publish waiting for the broker); says each count it makes."""

    counts: asyncio.Queue[int] = field(default_factory=asyncio.Queue)

    async def relay_once(self, pool: Any, producer: Any) -> int:
        await asyncio.Event().wait()
        return 0

    async def newest_id(self, pool: Any) -> int:
        return 4

    async def pending(self, pool: Any, up_to_id: int | None = None) -> int:
        self.counts.put_nowait(4)
        return 4


async def test_the_rows_waiting_are_counted_while_a_pass_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "PENDING_EVERY_SECONDS", 0)  # counted again and again, not 10 s apart
    monkeypatch.setattr(outbox_module, "PENDING_AFTER_SECONDS", 0)  # the grace: see the test below
    table = "stuck.outbox"
    outbox = StuckOutbox(table, "t")
    relay = asyncio.create_task(outbox.relay_forever(None, None, asyncio.Event()))
    try:
        for _ in range(3):  # counted, and counted again, while the first pass still hangs
            assert await asyncio.wait_for(outbox.counts.get(), timeout=5) == 4
        assert sample("lrs_outbox_pending_rows", table) == 4
    finally:
        relay.cancel()


class Table:
    """An outbox table as PostgreSQL answers the count: `unpublished` ids, the newest id written `newest`."""

    def __init__(self) -> None:
        self.newest = 0
        self.unpublished: set[int] = set()

    def write(self) -> None:
        self.newest += 1
        self.unpublished.add(self.newest)

    async def fetchval(self, query: str, *args: int) -> int:
        if "max(id)" in query:
            return self.newest
        limit, up_to = args
        return min(limit, len([row for row in self.unpublished if row <= up_to]))


async def test_only_rows_waiting_longer_than_the_grace_are_counted(monotonic: Monotonic) -> None:
    table, marks = Table(), deque[tuple[float, int]]()
    outbox = Outbox("grace.outbox", "t")
    gauge = "lrs_outbox_pending_rows"
    every, after = outbox_module.PENDING_EVERY_SECONDS, outbox_module.PENDING_AFTER_SECONDS
    # a healthy relay fed a row a second: each row published a second after it was written, never counted
    for _ in range(int(3 * after)):
        table.unpublished.clear()  # the relay's pass
        table.write()  # a writer's row, not yet published
        await outbox.count_pending(table, marks)
        monotonic.now += 1.0
    assert sample(gauge, "grace.outbox") == 0
    # Kafka away: the last row and those written from now on stay
    for _ in range(3):
        table.write()
    await outbox.count_pending(table, marks)
    monotonic.now += after - every
    await outbox.count_pending(table, marks)
    assert sample(gauge, "grace.outbox") == 0  # none `after` old yet
    monotonic.now += every
    table.write()  # a fresh one, not counted
    await outbox.count_pending(table, marks)
    assert sample(gauge, "grace.outbox") == 4


class BoundPool:
    """Says what the count was asked, and answers as PostgreSQL would for `waiting` unpublished rows."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        self.asked: list[tuple[str, tuple[object, ...]]] = []

    async def fetchval(self, query: str, *args: object) -> int:
        self.asked.append((query, args))
        limit = args[0] if args else None
        return min(self.waiting, limit) if isinstance(limit, int) else self.waiting


async def test_a_large_backlog_is_counted_up_to_a_bound() -> None:
    """The count stops at 10,001 rows (read: more than 10,000), whatever the backlog (its cost with it)."""
    outbox = Outbox("backlog.outbox", "t")
    pool = BoundPool(500_000)
    assert await outbox.pending(pool) == 10_001
    assert await outbox.pending(pool, 7) == 10_001
    assert [args for _, args in pool.asked] == [(10_001,), (10_001, 7)]
    assert all("LIMIT $1" in query for query, _ in pool.asked)
    assert await outbox.pending(BoundPool(3)) == 3
    assert "10,000" in REGISTRY._names_to_collectors["lrs_outbox_pending_rows"]._documentation  # type: ignore[attr-defined]
