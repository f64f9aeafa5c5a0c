"""The batch view stores a chunk of record outcomes once however often it comes (decision 0084): the first
time by COPY, again (a redelivery, the reconciler) by upsert, on real PostgreSQL."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from ingest.repository import BatchRepository, DecidedRecords
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_platform.database import apply_migrations

pytestmark = pytest.mark.integration


@pytest.fixture
async def repository(pool: asyncpg.Pool) -> BatchRepository:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "ingest", "ingest.migrations")
    return BatchRepository(pool)


def chunk(batch_id: uuid.UUID, lines: range, status: RecordStatus, chunk_index: int = 0) -> DecidedRecords:
    outcomes = tuple(
        RecordOutcome(
            line=line,
            mis_identifier=f"MIS-{line}",
            action="Create",
            uln_masked="******0043",
            status=status,
            errors=(Finding(code="RV004", field="grade", message="unknown grade"),)
            if status is RecordStatus.REJECTED
            else (),
            achievement_id=uuid.uuid5(batch_id, str(line)) if status is RecordStatus.ACCEPTED else None,
        )
        for line in lines
    )
    return DecidedRecords.of(
        BatchRecordsDecided(batch_id=batch_id, ao_id="RN5133", chunk_index=chunk_index, outcomes=outcomes)
    )


async def stored(pool: asyncpg.Pool, batch_id: uuid.UUID) -> list[tuple[object, ...]]:
    rows = await pool.fetch(
        "SELECT line, mis_identifier, action, uln_masked, status, errors::text, warnings::text, achievement_id"
        " FROM ingest.batch_records WHERE batch_id = $1 ORDER BY line",
        batch_id,
    )
    return [(*row[:5], json.loads(row[5]), json.loads(row[6]), row[7]) for row in rows]


def expected(records: DecidedRecords) -> list[tuple[object, ...]]:
    return [
        (
            line,
            mis,
            action,
            uln,
            status,
            json.loads(errors),
            json.loads(warnings),
            uuid.UUID(achievement) if achievement else None,
        )
        for line, mis, action, uln, status, errors, warnings, achievement in zip(
            records.lines,
            records.mis_identifiers,
            records.actions,
            records.ulns_masked,
            records.statuses,
            records.errors,
            records.warnings,
            records.achievement_ids,
            strict=True,
        )
    ]


async def test_a_chunk_stored_again_changes_nothing_and_a_changed_one_replaces_its_lines(
    pool: asyncpg.Pool, repository: BatchRepository
) -> None:
    batch_id = uuid.uuid4()
    first = chunk(batch_id, range(1, 4), RecordStatus.ACCEPTED)
    await repository.apply_outcomes([first])
    assert await stored(pool, batch_id) == expected(first)

    # redelivered, alone and twice in one poll
    await repository.apply_outcomes([first])
    await repository.apply_outcomes([first, first])
    assert await stored(pool, batch_id) == expected(first)

    # the same lines decided otherwise, and one more line
    changed = chunk(batch_id, range(1, 5), RecordStatus.REJECTED)
    await repository.apply_outcomes([changed])
    assert await stored(pool, batch_id) == expected(changed)


async def test_chunks_of_one_poll_are_stored_together_beside_a_redelivered_one(
    pool: asyncpg.Pool, repository: BatchRepository
) -> None:
    batch_id, other_id = uuid.uuid4(), uuid.uuid4()
    earlier = chunk(other_id, range(1, 3), RecordStatus.ACCEPTED)
    await repository.apply_outcomes([earlier])
    first, second = (
        chunk(batch_id, range(1, 3), RecordStatus.ACCEPTED, 0),
        chunk(batch_id, range(3, 5), RecordStatus.REJECTED, 1),
    )
    await repository.apply_outcomes([first, earlier, second])
    assert await stored(pool, batch_id) == expected(first) + expected(second)
    assert await stored(pool, other_id) == expected(earlier)


async def test_a_polls_chunks_of_several_batches_are_stored_at_once_and_read_by_line_and_status(
    pool: asyncpg.Pool, repository: BatchRepository
) -> None:
    batch_id, other_id = uuid.uuid4(), uuid.uuid4()
    first = chunk(batch_id, range(1, 3), RecordStatus.ACCEPTED, 0)
    other = chunk(other_id, range(1, 4), RecordStatus.REJECTED, 0)
    empty = DecidedRecords(batch_id, [], [], [], [], [], [], [], [])
    second = chunk(batch_id, range(3, 6), RecordStatus.REJECTED, 1)
    await repository.apply_outcomes([first, other, empty, second])
    assert await stored(pool, batch_id) == expected(first) + expected(second)
    assert await stored(pool, other_id) == expected(other)

    rejected, total = await repository.records(batch_id, status="rejected", limit=2, offset=1)
    assert ([row["line"] for row in rejected], total) == ([4, 5], 3)
    everything, total = await repository.records(batch_id, status=None, limit=None)
    assert ([row["line"] for row in everything], total) == ([1, 2, 3, 4, 5], 5)
