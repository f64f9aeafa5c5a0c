"""Two replicas of a service given the same retry at once apply it once: the parked stream is held across
processes, not by a lock of one process (a batch's completion email was sent twice, once by each notifier)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.waiting import eventually

from lrs_platform.database import create_pool
from lrs_platform.parking import DeadLetterOffice, NotParked, ParkedMessages, ParkedRow, ReplayResult

pytestmark = pytest.mark.integration

SCHEMA, CONSUMER = "notifier_parked", "notifier.emails"


class SlowEmailer:
    """A replayer that applies a stream (an email sent), then drops it, as `ConsumerLoop` does: only once the other
    replica's retry has come as far as it can (into its own replay, or waiting for the stream's lock)."""

    name = CONSUMER

    def __init__(self, store: ParkedMessages, sent: list[int], replaying: list[int]) -> None:
        self._store, self._sent, self._replaying = store, sent, replaying

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        rows = await self._store.stream_of(parked)
        self._replaying.append(parked.id)
        await eventually(
            lambda: self._other_has_come(parked.id), within=10, what="the other replica's retry", every=0.02
        )
        for row in rows:
            self._sent.append(row.id)
            await self._store.delete(row.id)
        return ReplayResult(CONSUMER, parked.topic, None, len(rows), 0, 0, None)

    async def _other_has_come(self, parked_id: int) -> bool:
        waiting = await self._store.pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        return waiting > 0 or self._replaying.count(parked_id) > 1


@pytest.fixture
async def pools(fresh_database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    async with migrated_connection(fresh_database_url, SCHEMA, "lrs_platform.parking_migrations") as connection:
        await connection.execute(
            f'INSERT INTO {SCHEMA}.parked_messages (consumer, topic, partition, "offset", message_key, value, reason)'
            " VALUES ($1, 'lrs.batch.outcomes.v1', 2, 41, 'batch-7'::bytea, '{}'::bytea, 'error')",
            CONSUMER,
        )
    first, second = await create_pool(fresh_database_url, max_size=3), await create_pool(fresh_database_url, max_size=3)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_the_same_retry_sent_to_two_replicas_at_once_is_applied_once(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    sent: list[int] = []
    replaying: list[int] = []
    offices = []
    for pool in pools:  # each replica: its own pool, store and office, as two processes have
        store = ParkedMessages(pool, SCHEMA)
        office = DeadLetterOffice(store, _no_publishing)
        office.register(CONSUMER, SlowEmailer(store, sent, replaying))
        offices.append(office)
    [parked], _ = await offices[0].listing(limit=10)

    answers = await asyncio.gather(
        *(office.retry(parked.id, "operator:ops") for office in offices), return_exceptions=True
    )

    assert sent == [parked.id]
    assert sorted(type(answer).__name__ for answer in answers) == ["NotParked", "ReplayResult"]
    assert any(isinstance(answer, NotParked) and "meanwhile" in str(answer) for answer in answers)
    assert len(await offices[1].actions(limit=10)) == 1  # one retry recorded, not two


async def _no_publishing(*_: Any) -> None:
    raise AssertionError("nothing is published by a retry that applies")
