"""Two reporting replicas, each applying another batch of one AO's month: what goes out last is the month as the store
holds it when sent, not as one replica computed it before the other's batch (the compacted topic's last value is
what analysts read: `batches_completed` went out 30, 29, ...)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from tests.integration.test_reporting import completed, envelope, random_ao
from tests.support.waiting import eventually

from lrs_contracts.registry import decode
from lrs_contracts.reporting import AoMonthlySubmissions
from lrs_contracts.topics import REPORTING_SUBMISSIONS
from lrs_platform.database import apply_migrations, create_pool
from reporting.projector import Publication, ReportingProjector
from reporting.store import ReportingStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def replicas(fresh_database_url: str) -> AsyncIterator[tuple[ReportingProjector, ReportingProjector]]:
    """Two replicas' projectors: each its own pool, as two processes have."""
    pools = [await create_pool(fresh_database_url, max_size=2) for _ in range(2)]
    try:
        async with pools[0].acquire() as connection:
            await apply_migrations(connection, "reporting", "reporting.migrations")
        first, second = (ReportingProjector(ReportingStore(pool), timedelta(seconds=300)) for pool in pools)
        yield first, second
    finally:
        for pool in pools:
            await pool.close()


async def test_a_months_aggregate_is_read_again_under_its_lock_when_sent(
    replicas: tuple[ReportingProjector, ReportingProjector], fresh_database_url: str
) -> None:
    first, second = replicas
    ao = random_ao()
    one, two = completed(ao, "2023-06-01", 3, 1), completed(ao, "2023-06-01", 5, 0)

    computed_first = await first.apply(envelope(one), one)  # the first replica, then the second, apply their batch
    await second.apply(envelope(two), two)
    [key] = {publication.key for publication in computed_first}
    stale = next(p for p in computed_first if p.topic == REPORTING_SUBMISSIONS.name)
    assert _batches(stale.value) == 1

    async with first.month_locked(key):  # the second replica waits for the month while the first sends
        waiting = asyncio.create_task(_locked_then(second, key))
        await eventually(lambda: _a_lock_waited_for(fresh_database_url), within=10, what="the second replica waiting")
        assert not waiting.done()
        sent_first = await first.current(key, {REPORTING_SUBMISSIONS.name})
    await waiting
    assert [_batches(publication.value) for publication in sent_first] == [2]


async def test_what_the_stream_sends_is_the_month_as_stored_not_as_a_replica_computed_it(
    replicas: tuple[ReportingProjector, ReportingProjector],
) -> None:
    """The stream's publish step (`send_as_stored`), not only its parts: handed the figures the first replica
    computed before the second replica's batch, it sends the month as the store holds it, under its lock."""
    first, second = replicas
    ao = random_ao()
    one, two = completed(ao, "2023-06-01", 3, 1), completed(ao, "2023-06-01", 5, 0)
    computed_first = await first.apply(envelope(one), one)
    await second.apply(envelope(two), two)
    sent: list[Publication] = []

    async def send(publication: Publication) -> None:
        sent.append(publication)

    await first.send_as_stored(computed_first, send)

    submissions = [publication for publication in sent if publication.topic == REPORTING_SUBMISSIONS.name]
    assert [_batches(publication.value) for publication in submissions] == [2]
    assert {publication.topic for publication in sent} == {publication.topic for publication in computed_first}


async def _a_lock_waited_for(database_url: str) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        waiting: int = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await connection.close()
    return waiting > 0


async def _locked_then(projector: ReportingProjector, key: bytes) -> None:
    async with projector.month_locked(key):
        pass


def _batches(value: bytes) -> int:
    _, payload = decode(value)
    assert isinstance(payload, AoMonthlySubmissions)
    return payload.batches_completed
