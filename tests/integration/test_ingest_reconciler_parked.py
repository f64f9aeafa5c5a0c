"""The reconciler leaves alone a batch the batch view parked a message of: its later events wait behind
the parked one for an operator's retry or skip, and applying them around it finished the batch without it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.outcomes import CONSUMER
from ingest.repository import BatchRepository

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def test_a_batch_with_a_parked_outcome_is_not_among_the_waiting(pool: asyncpg.Pool) -> None:
    held, waiting = uuid.uuid4(), uuid.uuid4()
    for batch_id in (held, waiting):
        await pool.execute(
            "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at)"
            " VALUES ($1, 'RN5133', 'validating', now() - interval '10 minutes')",
            batch_id,
        )
    await pool.execute(
        'INSERT INTO ingest_parked.parked_messages (consumer, topic, partition, "offset", message_key, reason)'
        " VALUES ($1, 'lrs.batch.outcomes.v1', 0, 7, $2, 'error')",
        CONSUMER,
        str(held).encode(),
    )

    found = await BatchRepository(pool).waiting_batches(
        older_than=timedelta(minutes=1), newer_than=timedelta(days=7), limit=10, parked_by=CONSUMER
    )

    assert [batch.batch_id for batch in found] == [waiting]
