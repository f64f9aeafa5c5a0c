"""A Sandpit reset behind a batch of the AO's that a maintenance window or pause holds says so: the decider holds at
that batch's start and meets the reset only after it, so the reset waits for the maintenance to end
(docs/operations.md, "Waiting for a held batch"). A reset with nothing of the AO's waiting ahead of it is applied
during maintenance as at any time, and says nothing of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.sandpit import SandpitResetStore
from lrs_contracts.sandpit import SandpitReset
from lrs_platform.maintenance import Closure

pytestmark = pytest.mark.integration

AO = "RN5134"
ASKED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PAUSE = Closure("walk sandpit pause", None, paused=True)
WINDOW = Closure("upgrade", datetime(2026, 12, 1, 13, 0, tzinfo=UTC), paused=False)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def _batch(pool: asyncpg.Pool, status: str, accepted_minutes_from_the_reset: int, ao_id: str = AO) -> None:
    accepted_at = ASKED_AT + timedelta(minutes=accepted_minutes_from_the_reset)
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at, accepted_at) VALUES ($1, $2, $3, $4, $4)",
        uuid.uuid4(),
        ao_id,
        status,
        accepted_at,
    )


async def _reset(store: SandpitResetStore, pool: asyncpg.Pool, *, queued: bool = True) -> uuid.UUID:
    reset_id = uuid.uuid4()
    await store.add(SandpitReset(reset_id=reset_id, ao_id=AO, requested_by=f"ao:{AO}", requested_at=ASKED_AT))
    if queued:
        await pool.execute("UPDATE ingest.sandpit_resets SET queued_at = $2 WHERE reset_id = $1", reset_id, ASKED_AT)
    return reset_id


async def test_a_reset_behind_a_batch_the_pause_holds_says_it_waits_for_the_pause(pool: asyncpg.Pool) -> None:
    store = SandpitResetStore(pool)
    await _batch(pool, "accepted", -1)  # queued before the reset, not started: the decider holds at it
    reset_id = await _reset(store, pool)

    view = await store.get(reset_id, PAUSE)

    assert view is not None and view.status == "pending"
    assert view.maintenance is not None
    assert view.maintenance.reason == "walk sandpit pause"
    assert view.maintenance.paused and view.maintenance.until is None
    assert view.maintenance.message == "will be applied when the Sandpit resumes after an unplanned pause"
    # a window: until when
    windowed = await store.get(reset_id, WINDOW)
    assert windowed is not None and windowed.maintenance is not None
    assert windowed.maintenance.until == WINDOW.until
    assert windowed.maintenance.message == "will be applied after 2026-12-01T13:00:00Z"
    # no maintenance now: nothing said
    open_view = await store.get(reset_id)
    assert open_view is not None and open_view.maintenance is None


async def test_a_reset_not_yet_queued_goes_in_behind_the_held_batch(pool: asyncpg.Pool) -> None:
    store = SandpitResetStore(pool)
    await _batch(pool, "accepted", +1)
    reset_id = await _reset(store, pool, queued=False)

    view = await store.get(reset_id, PAUSE)

    assert view is not None and view.maintenance is not None


@pytest.mark.parametrize(
    ("status", "accepted_minutes", "ao_id"),
    [
        ("validating", -1, AO),  # begun before the maintenance: finished, then the reset
        ("completed", -1, AO),
        ("accepted", +1, AO),  # queued after the reset: behind it, not ahead
        ("accepted", -1, "RN9093"),  # another AO's queue
    ],
)
async def test_a_reset_with_no_held_batch_of_the_aos_ahead_says_nothing_of_maintenance(
    pool: asyncpg.Pool, status: str, accepted_minutes: int, ao_id: str
) -> None:
    store = SandpitResetStore(pool)
    await _batch(pool, status, accepted_minutes, ao_id)
    reset_id = await _reset(store, pool)

    view = await store.get(reset_id, PAUSE)

    assert view is not None and view.status == "pending" and view.maintenance is None


async def test_a_completed_reset_says_nothing_of_maintenance(pool: asyncpg.Pool) -> None:
    store = SandpitResetStore(pool)
    await _batch(pool, "accepted", -1)
    reset_id = await _reset(store, pool)
    await pool.execute("UPDATE ingest.sandpit_resets SET status = 'completed' WHERE reset_id = $1", reset_id)

    view = await store.get(reset_id, PAUSE)

    assert view is not None and view.maintenance is None
