"""When `lrs_outbox_pending_rows` is counted (review1, finding 3): counted at the top of a relay turn, which a writer's
`wake` begins, it counted the row just written, so a healthy relay fed a row every half second read 1 at every
scrape and the alert on 10 minutes of rows waiting fired; and it was counted every second in every replica, a
full count of a 500,000-row backlog costing 35-280 ms each time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from lrs_platform import outbox as outbox_module
from lrs_platform.outbox import Outbox


def pending_rows(table: str) -> float | None:
    return REGISTRY.get_sample_value("lrs_outbox_pending_rows", {"outbox": table})


@dataclass
class Monotonic:
    now: float = 7_000.0


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(outbox_module, "time", SimpleNamespace(time=time.time, monotonic=lambda: clock.now))
    return clock


@dataclass(frozen=True)
class Trickle(Outbox):
    """A healthy relay: each pass publishes every row written; says each count it makes (`counts`) and each pass
    (`passes`)."""

    rows: list[int] = field(default_factory=lambda: [0])
    passes: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    counts: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    away: list[bool] = field(default_factory=lambda: [False])  # Kafka away: nothing published, the pass fails

    async def relay_once(self, pool: Any, producer: Any) -> int:
        if self.away[0]:
            self.passes.put_nowait(-1)
            raise KafkaConnectionError("the broker is away")
        relayed, self.rows[0] = self.rows[0], 0
        self.passes.put_nowait(relayed)
        return relayed

    async def pending(self, pool: Any) -> int:
        self.counts.put_nowait(self.rows[0])
        return self.rows[0]

    async def prune_some(self, pool: Any, older_than: Any = None) -> int:
        return 0


async def next_of(queue: asyncio.Queue[int]) -> int:
    return await asyncio.wait_for(queue.get(), timeout=5)


class NoBackOff:
    """`asyncio` as the outbox module sees it, its relay's back-off after a failure not waited out."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)


async def test_a_healthy_relay_fed_rows_one_by_one_reads_none_waiting(monotonic: Monotonic) -> None:
    table = "trickle.outbox"
    outbox, wake = Trickle(table, "t"), asyncio.Event()
    relay = asyncio.create_task(outbox.relay_forever(None, None, wake))
    try:
        assert await next_of(outbox.passes) == 0
        assert await next_of(outbox.counts) == 0  # the first count, right after the first pass
        for _ in range(5):
            monotonic.now += outbox_module.PENDING_EVERY_SECONDS  # a count is due at the next turn
            outbox.rows[0] += 1  # a writer's row, and its wake
            wake.set()
            while await next_of(outbox.passes) != 1:  # a pass of nothing, before the row came
                pass
            assert await next_of(outbox.counts) == 0
            assert pending_rows(table) == 0
    finally:
        relay.cancel()


async def test_the_rows_are_counted_at_most_every_10_seconds_also_while_the_relay_fails(
    monotonic: Monotonic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "asyncio", NoBackOff())
    table = "seldom.outbox"
    outbox, wake = Trickle(table, "t"), asyncio.Event()
    outbox.away[0] = True
    outbox.rows[0] = 4
    relay = asyncio.create_task(outbox.relay_forever(None, None, wake))
    try:
        assert await next_of(outbox.passes) == -1
        assert await next_of(outbox.counts) == 4  # failed: what it could not publish
        assert pending_rows(table) == 4
        for _ in range(9):  # passes a second apart: none counted
            monotonic.now += 1.0
            assert await next_of(outbox.passes) == -1
        assert outbox.counts.empty()
        outbox.rows[0] = 6
        monotonic.now += 1.0  # 10 s since the last count
        assert await next_of(outbox.passes) == -1
        assert await next_of(outbox.counts) == 6
        assert pending_rows(table) == 6
    finally:
        relay.cancel()


class Pool:
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
    pool = Pool(500_000)
    assert await outbox.pending(pool) == 10_001
    query, args = pool.asked[0]
    assert "LIMIT $1" in query and args == (10_001,)
    assert await outbox.pending(Pool(3)) == 3
    assert "10,000" in REGISTRY._names_to_collectors["lrs_outbox_pending_rows"]._documentation  # type: ignore[attr-defined]
