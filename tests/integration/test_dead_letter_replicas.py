"""Two replicas of a service given the same retry at once apply it once: the parked stream is held across
processes, not by a lock of one process (a batch's completion email was sent twice, once by each notifier)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.waiting import eventually

from lrs_platform.consumer import Message, PoisonGuard, RetryPolicy
from lrs_platform.database import create_pool
from lrs_platform.parking import DeadLetterOffice, NotParked, ParkedMessages, ParkedRow, ReplayResult

pytestmark = pytest.mark.integration

SCHEMA, CONSUMER, TOPIC = "notifier_parked", "notifier.emails", "lrs.batch.outcomes.v1"


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
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
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


class Emailer:
    """A replayer that sends a stream's email, asking the pool for connections as a real one does."""

    name = CONSUMER

    def __init__(self, store: ParkedMessages) -> None:
        self._store = store

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        rows = await self._store.stream_of(parked)
        for row in rows:
            await self._store.delete(row.id)
        return ReplayResult(CONSUMER, parked.topic, None, len(rows), 0, 0, None)


async def test_as_many_retries_at_once_as_the_pool_has_connections_all_finish(fresh_database_url: str) -> None:
    """Each retry held a pooled connection for its stream's lock, then asked the same pool for more: five at once
    on a pool of five waited for ever, and the replica's consumer with them."""
    async with migrated_connection(fresh_database_url, SCHEMA, "lrs_platform.parking_migrations") as connection:
        await connection.executemany(
            f'INSERT INTO {SCHEMA}.parked_messages (consumer, topic, partition, "offset", message_key, value, reason)'
            " VALUES ($1, 'lrs.batch.outcomes.v1', 0, $2, $3, '{}'::bytea, 'error')",
            [(CONSUMER, offset, f"batch-{offset}".encode()) for offset in range(5)],
        )
    pool = await create_pool(fresh_database_url, max_size=5)
    try:
        store = ParkedMessages(pool, SCHEMA)
        office = DeadLetterOffice(store, _no_publishing)
        office.register(CONSUMER, Emailer(store))
        parked, _ = await office.listing(limit=10)

        async with asyncio.timeout(30):
            answers = await asyncio.gather(*(office.retry(row.id, "operator:ops") for row in parked))
    finally:
        await pool.close()

    assert [answer.applied for answer in answers] == [1] * 5


async def test_a_message_read_while_another_replica_retries_its_stream_is_applied_after_the_retry_not_parked(
    fresh_database_url: str,
) -> None:
    """Replica B's consumer saw the stream still held while replica A's retry was clearing it, and parked the next
    message behind it: A's retry, having read the stream before, left it parked behind nothing, with every later
    message of the stream held behind it (DESIGN.md §5)."""
    async with migrated_connection(fresh_database_url, SCHEMA, "lrs_platform.parking_migrations"):
        pass
    pools = [await create_pool(fresh_database_url, max_size=3), await create_pool(fresh_database_url, max_size=3)]
    applied: list[int] = []
    poisoned = True
    in_retry, go_on = asyncio.Event(), asyncio.Event()

    async def replica_a(messages: Sequence[Message]) -> None:
        for message in messages:
            if poisoned:
                raise ValueError("cannot apply")
            in_retry.set()
            await go_on.wait()
            applied.append(message.offset)

    async def replica_b(messages: Sequence[Message]) -> None:
        applied.extend(message.offset for message in messages)

    try:
        guards = []
        for pool, handler in zip(pools, (replica_a, replica_b), strict=True):
            office = DeadLetterOffice(ParkedMessages(pool, SCHEMA), _nothing_to_publish)
            guards.append((office, PoisonGuard(CONSUMER, handler, office, RetryPolicy(max_seconds=0.1))))
        (office_a, guard_a), (office_b, guard_b) = guards
        await guard_a.apply([Message(TOPIC, 2, 41, b"batch-7", b"{}")])
        [parked], _ = await office_a.listing(limit=10)
        poisoned = False

        retry = asyncio.create_task(office_a.retry(parked.id, "operator:ops"))
        await in_retry.wait()
        next_message = asyncio.create_task(guard_b.apply([Message(TOPIC, 2, 42, b"batch-7", b"{}")]))
        await eventually(lambda: _waiting_for_a_lock(pools[1]), within=10, what="replica B waiting for the stream")
        go_on.set()
        result = await retry
        await next_message
        still_parked, _ = await office_b.listing(limit=10)
    finally:
        go_on.set()  # a failing wait leaves no retry holding a connection the pools would wait for
        for pool in pools:
            async with asyncio.timeout(30):
                await pool.close()

    assert result.applied == 1
    assert applied == [41, 42]
    assert still_parked == []


async def _waiting_for_a_lock(pool: asyncpg.Pool) -> bool:
    waiting: int = await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = ("
        "SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return waiting > 0


async def _nothing_to_publish(*_: Any) -> None:
    return None
