"""A decided batch stays decided as it was (an operator-runbook walk-through): a "corrected copy" of another
batch's outcome turned a failed RS005 batch into a completed one in the AO's view. A batch is decided once
(decision 0002) and an abandoned one never is (0103): only the same decision again is stored over one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.repository import BatchRepository
from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchCounts, BatchFailed

pytestmark = pytest.mark.integration

AO = "RN5133"
NOW = datetime.now(UTC)


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


def _completed(batch_id: uuid.UUID, accepted: int = 1) -> BatchCompleted:
    return BatchCompleted(
        batch_id=batch_id,
        ao_id=AO,
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=2, accepted=accepted, rejected=2 - accepted, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )


def _failed(batch_id: uuid.UUID) -> BatchFailed:
    return BatchFailed(
        batch_id=batch_id,
        ao_id=AO,
        code="RS005",
        reason="every record was rejected",
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=2, accepted=0, rejected=2, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )


def _abandoned(batch_id: uuid.UUID) -> BatchAbandoned:
    return BatchAbandoned(batch_id=batch_id, ao_id=AO, reason="could not be decided", abandoned_at=NOW)


async def _status(pool: asyncpg.Pool, batch_id: uuid.UUID) -> tuple[str, str | None, int]:
    row = await pool.fetchrow("SELECT status, failure_code, accepted FROM ingest.batches WHERE batch_id = $1", batch_id)
    assert row is not None
    return row["status"], row["failure_code"], row["accepted"]


async def test_a_later_outcome_moves_no_decided_batch_to_another_decision(pool: asyncpg.Pool) -> None:
    repository = BatchRepository(pool)
    failed, completed, abandoned = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await repository.apply_outcomes([_failed(failed), _completed(completed), _abandoned(abandoned)])

    await repository.apply_outcomes([_completed(failed), _failed(completed), _completed(abandoned)])

    assert await _status(pool, failed) == ("failed", "RS005", 0)
    assert await _status(pool, completed) == ("completed", None, 1)
    assert (await _status(pool, abandoned))[0] == "abandoned"


async def test_the_same_decision_again_is_stored_over_it(pool: asyncpg.Pool) -> None:
    """Delivered again, or a corrected copy of it (`lrs dlq retry --replace`)."""
    repository, batch_id = BatchRepository(pool), uuid.uuid4()
    await repository.apply_outcomes([_completed(batch_id, accepted=1)])

    await repository.apply_outcomes([_completed(batch_id, accepted=2)])

    assert await _status(pool, batch_id) == ("completed", None, 2)
