"""A Sandpit reset's forgotten batches stay forgotten (a code review): the follower may complete the reset between
the batch view storing a poll's outcomes and storing its offsets, and the poll, delivered again after a stop or a
rebalance, brought the views back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.repository import BatchRepository
from ingest.sandpit import SandpitResetStore
from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts
from lrs_contracts.sandpit import SandpitReset, SandpitResetApplied

pytestmark = pytest.mark.integration

AO = "RN5133"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


async def test_an_outcome_delivered_again_after_a_reset_brings_back_no_view(pool: asyncpg.Pool) -> None:
    repository, resets = BatchRepository(pool), SandpitResetStore(pool)
    forgotten, kept, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)

    def completed(batch_id: uuid.UUID) -> BatchCompleted:
        return BatchCompleted(
            batch_id=batch_id,
            ao_id=AO,
            job_type=JobType.FINAL,
            batch_reference="REF-1",
            notification_email="results@ao.example",
            counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
            submitted_at=now,
            decided_at=now,
        )

    await repository.apply_outcomes([completed(forgotten)])  # the view stores the poll ...
    reset_id = uuid.uuid4()
    await resets.add(SandpitReset(reset_id=reset_id, ao_id=AO, requested_by=f"ao:{AO}", requested_at=now))
    applied = SandpitResetApplied(reset_id=reset_id, ao_id=AO, learners=1, forgotten_batches=(forgotten,))
    assert await resets.undecided_before(applied) == 0  # ... the follower completes the reset ...
    await resets.complete(applied)
    assert await pool.fetchval("SELECT count(*) FROM ingest.batches WHERE batch_id = $1", forgotten) == 0

    await repository.apply_outcomes([completed(forgotten), completed(kept)])  # ... the poll comes again, and more

    assert await pool.fetchval("SELECT status FROM ingest.batches WHERE batch_id = $1", forgotten) is None
    assert await pool.fetchval("SELECT status FROM ingest.batches WHERE batch_id = $1", kept) == "completed"
