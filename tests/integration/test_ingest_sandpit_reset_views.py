"""A Sandpit reset deletes the views of the batches the decider forgot, not of every batch received before
it was asked for: a batch whose upload was still being read when the reset was asked for reaches the AO's
queue after the reset, is decided on the fresh Sandpit, and keeps its view (decision 0120)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.outcomes import CONSUMER
from ingest.sandpit import SandpitResetStore
from lrs_contracts.sandpit import SandpitReset, SandpitResetApplied

pytestmark = pytest.mark.integration

AO = "RN5133"
ASKED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def _batch(pool: asyncpg.Pool, status: str, minutes_from_the_reset: int, ao_id: str = AO) -> uuid.UUID:
    batch_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at) VALUES ($1, $2, $3, $4)",
        batch_id,
        ao_id,
        status,
        ASKED_AT + timedelta(minutes=minutes_from_the_reset),
    )
    return batch_id


async def _reset(store: SandpitResetStore) -> uuid.UUID:
    reset_id = uuid.uuid4()
    await store.add(SandpitReset(reset_id=reset_id, ao_id=AO, requested_by=f"ao:{AO}", requested_at=ASKED_AT))
    return reset_id


async def _left(pool: asyncpg.Pool) -> set[uuid.UUID]:
    return {row["batch_id"] for row in await pool.fetch("SELECT batch_id FROM ingest.batches")}


async def test_the_views_of_the_forgotten_batches_go_and_a_batch_queued_after_the_reset_stays(
    pool: asyncpg.Pool,
) -> None:
    store = SandpitResetStore(pool)
    forgotten = await _batch(pool, "completed", -10)
    queued_after_the_reset = await _batch(pool, "accepted", -1)  # sent before, still being read at the reset
    refused = await _batch(pool, "refused", -5)  # never queued: goes by when it came
    sent_after = await _batch(pool, "completed", +1)
    another_aos = await _batch(pool, "completed", -10, ao_id="RN9093")
    reset_id = await _reset(store)
    applied = SandpitResetApplied(reset_id=reset_id, ao_id=AO, learners=1, forgotten_batches=(forgotten,))

    # only the forgotten batches are waited for: one queued after the reset may take its time
    assert await store.undecided_before(applied) == 0
    await store.complete(applied)

    assert await _left(pool) == {queued_after_the_reset, sent_after, another_aos}
    assert not {forgotten, refused} & await _left(pool)
    view = await store.get(reset_id)
    assert view is not None and view.status == "completed" and view.batches_deleted == 2


async def test_a_forgotten_batch_not_yet_showing_its_decision_is_waited_for(pool: asyncpg.Pool) -> None:
    store = SandpitResetStore(pool)
    forgotten = await _batch(pool, "validating", -10)
    applied = SandpitResetApplied(reset_id=await _reset(store), ao_id=AO, learners=0, forgotten_batches=(forgotten,))

    assert await store.undecided_before(applied) == 1
    await pool.execute("UPDATE ingest.batches SET status = 'completed' WHERE batch_id = $1", forgotten)
    assert await store.undecided_before(applied) == 0


async def test_a_decider_naming_no_batches_has_every_batch_received_before_the_reset_go(pool: asyncpg.Pool) -> None:
    store = SandpitResetStore(pool)
    before = {await _batch(pool, "completed", -10), await _batch(pool, "refused", -1)}
    after = await _batch(pool, "completed", +1)
    applied = SandpitResetApplied(reset_id=await _reset(store), ao_id=AO, learners=0)

    await store.complete(applied)

    assert await _left(pool) == {after}
    assert not before & await _left(pool)


async def test_a_forgotten_batch_whose_outcome_the_batch_view_parked_is_not_waited_for(pool: asyncpg.Pool) -> None:
    """Its decision shows only once an operator retries or skips the parked outcome: every reset after it
    waited for that."""
    store = SandpitResetStore(pool)
    held = await _batch(pool, "validating", -10)
    await pool.execute(
        'INSERT INTO ingest_parked.parked_messages (consumer, topic, partition, "offset", message_key, reason)'
        " VALUES ($1, 'sandpit.lrs.batch.outcomes.v1', 0, 3, $2, 'error')",
        CONSUMER,
        str(held).encode(),
    )
    applied = SandpitResetApplied(reset_id=await _reset(store), ao_id=AO, learners=0, forgotten_batches=(held,))

    assert await store.undecided_before(applied) == 0
