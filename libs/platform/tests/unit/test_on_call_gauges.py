"""What an on-call needs and the metrics could not say (the SRE report, finding 6): how long a dead letter has been
parked, how full each database pool is, and what waits in an outbox that cannot publish."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from lrs_platform import outbox as outbox_module
from lrs_platform.database import POOLS, database_name
from lrs_platform.outbox import Outbox
from lrs_platform.parking import DeadLetterOffice, ParkedCounts


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@dataclass
class Parked:
    """The parked table's counts as `ParkedMessages.counts` gives them: by reason, and the oldest's time."""

    by_reason: dict[str, int]
    oldest: datetime | None

    async def counts(self, consumer: str) -> ParkedCounts:
        counts = ParkedCounts(self.by_reason)
        counts.oldest = self.oldest
        return counts


async def test_the_oldest_parked_message_s_time_is_exported_where_the_counts_are_read_and_0_once_none_is() -> None:
    week_ago = datetime(2026, 11, 30, 5, 50, 53, tzinfo=UTC)
    parked = Parked({"error": 2, "blocked": 1}, week_ago)
    office = DeadLetterOffice(parked, None)  # type: ignore[arg-type]

    assert await office.counts("oldest.parked") == {"error": 2, "blocked": 1}
    assert sample("lrs_consumer_oldest_parked_timestamp_seconds", consumer="oldest.parked") == week_ago.timestamp()

    parked.by_reason, parked.oldest = {"error": 0, "blocked": 0}, None  # retried or skipped
    await office.counts("oldest.parked")
    assert sample("lrs_consumer_oldest_parked_timestamp_seconds", consumer="oldest.parked") == 0


class PlainCounts:
    """A store that says counts only (a test's fake): the gauge reads 0, not an error."""

    async def counts(self, consumer: str) -> dict[str, int]:
        return {"error": 0, "blocked": 0}


async def test_a_store_that_says_no_time_leaves_the_gauge_at_0() -> None:
    await DeadLetterOffice(PlainCounts(), None).counts("oldest.plain")  # type: ignore[arg-type]
    assert sample("lrs_consumer_oldest_parked_timestamp_seconds", consumer="oldest.plain") == 0


@dataclass
class FakePool:
    size: int
    idle: int
    max_size: int
    closing: bool = False

    def get_size(self) -> int:
        return self.size

    def get_idle_size(self) -> int:
        return self.idle

    def get_max_size(self) -> int:
        return self.max_size

    def is_closing(self) -> bool:
        return self.closing


def test_each_database_s_pool_connections_are_read_as_metrics_are_scraped() -> None:
    worn_out, sandpit = FakePool(size=10, idle=0, max_size=10), FakePool(size=1, idle=1, max_size=2)
    POOLS.watch("lrs_pool_test", worn_out)
    POOLS.watch("lrs_pool_test_sandpit", sandpit)

    assert sample("lrs_db_pool_connections", database="lrs_pool_test", state="in_use") == 10
    assert sample("lrs_db_pool_connections", database="lrs_pool_test", state="idle") == 0
    assert sample("lrs_db_pool_max_connections", database="lrs_pool_test") == 10
    assert sample("lrs_db_pool_connections", database="lrs_pool_test_sandpit", state="in_use") == 0
    assert sample("lrs_db_pool_connections", database="lrs_pool_test_sandpit", state="idle") == 1

    worn_out.idle = 4  # read at each scrape, not when the pool was made
    assert sample("lrs_db_pool_connections", database="lrs_pool_test", state="in_use") == 6

    worn_out.closing = sandpit.closing = True  # closed: its series go
    assert sample("lrs_db_pool_connections", database="lrs_pool_test", state="idle") is None
    assert sample("lrs_db_pool_max_connections", database="lrs_pool_test_sandpit") is None


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("postgresql://lrs:secret@db.internal:5432/lrs?sslmode=require", "lrs"),
        ("postgres://lrs@localhost/lrs_sandpit", "lrs_sandpit"),
        ("postgresql://localhost", "default"),
        ("postgresql://localhost/my%20db", "my db"),
    ],
)
def test_a_pool_is_labelled_with_its_database_never_its_credentials(url: str, name: str) -> None:
    assert database_name(url) == name


@dataclass(frozen=True)
class KafkaAwayOutbox(Outbox):
    """Relays nothing (Kafka away) while `waiting` rows wait; says when it has been counted after a failure."""

    waiting: list[int] = field(default_factory=lambda: [3])
    counted_after_failure: asyncio.Event = field(default_factory=asyncio.Event)
    failures: list[int] = field(default_factory=list)

    async def relay_once(self, pool: Any, producer: Any) -> int:
        self.failures.append(1)
        raise KafkaConnectionError("the broker is away")

    async def newest_id(self, pool: Any) -> int:
        return self.waiting[0]

    async def pending(self, pool: Any, up_to_id: int | None = None) -> int:
        if self.failures:
            self.counted_after_failure.set()
        return self.waiting[0]


async def test_an_outbox_that_cannot_publish_says_what_waits_and_counts_its_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """During the SRE's Kafka stop a raised challenge sat in `challenges.outbox` for 50 s with nothing on /metrics."""
    monkeypatch.setattr(outbox_module, "PENDING_EVERY_SECONDS", 0)  # counted at once, and again, not 10 s apart
    monkeypatch.setattr(outbox_module, "PENDING_AFTER_SECONDS", 0)
    outbox = KafkaAwayOutbox("pending.outbox", "lrs.challenge.events.v1")
    before = sample("lrs_outbox_relay_failures_total", outbox="pending.outbox") or 0.0
    relay = asyncio.create_task(outbox.relay_forever(None, None, asyncio.Event()))
    try:
        await asyncio.wait_for(outbox.counted_after_failure.wait(), timeout=10)
    finally:
        relay.cancel()
    assert sample("lrs_outbox_pending_rows", outbox="pending.outbox") == 3
    assert (sample("lrs_outbox_relay_failures_total", outbox="pending.outbox") or 0.0) - before >= 1
