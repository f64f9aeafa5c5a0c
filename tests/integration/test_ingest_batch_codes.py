"""A batch's codes and its records of a code, on real PostgreSQL (migration 0121): each chunk row keeps the codes of
its findings, so that the portal's batch page lists a batch's codes and shows a page of the records of a code with one
records call, where it read every record of the batch; a batch stored before the migration answers its codes from its
outcomes. And every AO's batch list of one state reads its own batches from `batches_history_by_status`, not the whole
table."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from ingest.repository import BatchRepository, DecidedChunk
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_platform.database import apply_migrations, migrations_in

pytestmark = pytest.mark.integration

CODES_KEPT = 121  # the migration that keeps a chunk's codes
STATUSES = (RecordStatus.ACCEPTED, RecordStatus.REJECTED, RecordStatus.NO_OP)


def outcome(batch_id: uuid.UUID, line: int) -> RecordOutcome:
    """Line `line` of a batch of warnings and rejections: RV004 and RV020 rejections, WV001 warnings on every
    seventh line whatever its result, WV002 only from line 2,100 to 2,200 (in the third chunk)."""
    status = STATUSES[hashlib.sha256(str(line).encode()).digest()[0] % 3]
    errors: tuple[Finding, ...] = ()
    if status is RecordStatus.REJECTED:
        errors = (Finding(code="RV004", field="grade", message="unknown grade"),)
        if line % 5 == 0:
            errors += (Finding(code="RV020", message="Line 2 of this batch already addresses this achievement"),)
    warnings: tuple[Finding, ...] = ()
    if line % 7 == 0:
        warnings += (Finding(code="WV001", message="late"),)
    if 2_100 <= line <= 2_200:
        warnings += (Finding(code="WV002", field="award_date", message='a code in a text: "code":"RV999"'),)
    return RecordOutcome(
        line=line,
        mis_identifier="code" if line == 4 else f"MIS-{line}",
        action="Create",
        uln_masked="******0043",
        status=status,
        errors=errors,
        warnings=warnings,
        achievement_id=uuid.uuid5(batch_id, str(line)) if status is RecordStatus.ACCEPTED else None,
    )


def chunk(batch_id: uuid.UUID, index: int, lines: range) -> DecidedChunk:
    model = BatchRecordsDecided(
        batch_id=batch_id, ao_id="RN5133", chunk_index=index, outcomes=tuple(outcome(batch_id, line) for line in lines)
    )
    return DecidedChunk.of(model)


def chunks_of(batch_id: uuid.UUID, records: int) -> list[DecidedChunk]:
    """The batch's chunks of 1,000 records, CSV lines from 4."""
    return [
        chunk(batch_id, index, range(4 + start, 4 + min(start + 1_000, records)))
        for index, start in enumerate(range(0, records, 1_000))
    ]


def codes(row: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in row["errors"] + row["warnings"]}


async def assert_answers_as_its_records(repository: BatchRepository, batch_id: uuid.UUID) -> None:
    """The batch's codes are those of all its records, and a page of a code (and a result) is the page of those
    records, whatever the page."""
    everything, total = await repository.records(batch_id, status=None, limit=None)
    assert total == len(everything) > 0
    expected_codes = sorted(set().union(*map(codes, everything)))
    for code in (*expected_codes, "RV999"):
        for status in (None, "rejected", "accepted", "no_op"):
            chosen = [
                row["line"] for row in everything if code in codes(row) and (status is None or row["status"] == status)
            ]
            for limit, offset in ((100, 0), (100, 100), (7, len(chosen) - 3), (1_000, 0), (50, len(chosen))):
                read = await repository.records_and_codes(
                    batch_id, status=status, limit=limit, offset=max(offset, 0), code=code
                )
                start = max(offset, 0)
                assert ([row["line"] for row in read.rows], read.total) == (chosen[start : start + limit], len(chosen))
                assert read.codes == expected_codes
    # without a code, as before
    page = await repository.records_and_codes(batch_id, status="rejected", limit=10, offset=5)
    rejected = [row["line"] for row in everything if row["status"] == "rejected"]
    assert ([row["line"] for row in page.rows], page.total, page.codes) == (
        rejected[5:15],
        len(rejected),
        expected_codes,
    )


@pytest.fixture
async def repository(pool: asyncpg.Pool) -> BatchRepository:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "ingest", "ingest.migrations")
    return BatchRepository(pool)


async def test_a_batchs_codes_and_its_records_of_a_code_answer_as_all_its_records_say(
    repository: BatchRepository, pool: asyncpg.Pool
) -> None:
    batch_id, other_id = uuid.uuid4(), uuid.uuid4()
    chunks = chunks_of(batch_id, 3_500)
    await repository.apply_outcomes([*chunks, *chunks_of(other_id, 10)])  # one COPY
    await repository.apply_outcomes([chunks[2]])  # a chunk delivered again: stored again by upsert

    read = await repository.records_and_codes(batch_id, status=None, limit=1, offset=0)
    assert read.codes == ["RV004", "RV020", "WV001", "WV002"]
    kept = {
        row["chunk_index"]: row["codes"]
        for row in await pool.fetch(
            "SELECT chunk_index, codes FROM ingest.batch_record_chunks WHERE batch_id = $1", batch_id
        )
    }
    assert kept == {
        0: ["RV004", "RV020", "WV001"],
        1: ["RV004", "RV020", "WV001"],
        2: ["RV004", "RV020", "WV001", "WV002"],
        3: ["RV004", "RV020", "WV001"],
    }
    await assert_answers_as_its_records(repository, batch_id)
    assert (await repository.records_and_codes(other_id, status=None, limit=1)).codes == ["RV004", "WV001"]
    # a batch of no record yet has no code
    assert (await repository.records_and_codes(uuid.uuid4(), status=None, limit=10, code="RV004")).total == 0


async def test_a_batch_stored_before_the_codes_were_kept_answers_its_codes(pool: asyncpg.Pool) -> None:
    """Its chunks (one as the consumer stored it, one as PostgreSQL wrote the records moved from a row a record,
    migration 0111) keep no codes: they are read from their outcomes."""
    batch_id = uuid.uuid4()
    chunks = chunks_of(batch_id, 2_500)
    async with pool.acquire() as connection:
        await connection.execute("CREATE SCHEMA ingest")
        await connection.execute(
            "CREATE TABLE ingest.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in migrations_in("ingest.migrations"):
            if migration.version >= CODES_KEPT:
                break
            async with connection.transaction():
                await connection.execute("SET LOCAL search_path TO ingest, public")
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO ingest.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        for index, stored in enumerate(chunks):
            # as the consumer stored them before: the message's JSON; the last as jsonb's text (spaced)
            await connection.execute(
                "INSERT INTO ingest.batch_record_chunks (batch_id, chunk_index, first_line, last_line, accepted,"
                " rejected, no_ops, outcomes) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                " CASE WHEN $9 THEN convert_to(convert_from($8, 'UTF8')::jsonb::text, 'UTF8') ELSE $8 END)",
                stored.batch_id,
                -1 - index if index == len(chunks) - 1 else stored.chunk_index,
                stored.first_line,
                stored.last_line,
                stored.accepted,
                stored.rejected,
                stored.no_ops,
                stored.outcomes,
                index == len(chunks) - 1,
            )
        spaced = await connection.fetchval(
            "SELECT outcomes FROM ingest.batch_record_chunks WHERE batch_id = $1 AND chunk_index < 0", batch_id
        )
        assert b'"code": "RV004"' in spaced
        assert await apply_migrations(connection, "ingest", "ingest.migrations") == [
            migration.name for migration in migrations_in("ingest.migrations") if migration.version >= CODES_KEPT
        ]
        assert (
            await connection.fetchval(
                "SELECT count(*) FROM ingest.batch_record_chunks WHERE batch_id = $1 AND codes IS NULL", batch_id
            )
            == 3
        )

    repository = BatchRepository(pool)
    assert (await repository.records_and_codes(batch_id, status=None, limit=1)).codes == [
        "RV004",
        "RV020",
        "WV001",
        "WV002",
    ]
    await assert_answers_as_its_records(repository, batch_id)
    # a chunk delivered again after the upgrade keeps its codes; the others still answer theirs
    await repository.apply_outcomes([chunks[0]])
    assert await pool.fetchval(
        "SELECT codes FROM ingest.batch_record_chunks WHERE batch_id = $1 AND chunk_index = 0", batch_id
    ) == ["RV004", "RV020", "WV001"]
    await assert_answers_as_its_records(repository, batch_id)


# ---------------------------------------------------------------- every AO's batches of one state

PAGE = 50


@pytest.fixture
async def connection(fresh_database_url: str) -> Any:
    async with migrated_connection(fresh_database_url, "ingest", "ingest.migrations") as connection:
        # 20,000 batches of ten AOs, a minute apart, in every state: one in forty abandoned, most completed
        await connection.execute(
            "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at)"
            " SELECT gen_random_uuid(), 'RN' || (5000 + n % 10), COALESCE((ARRAY['abandoned', 'failed', 'refused',"
            " 'validating', 'accepted', 'received'])[n % 40 + 1], 'completed'),"
            " timestamptz '2026-01-01' + n * interval '1 minute' FROM generate_series(1, 20000) AS n"
        )
        await connection.execute("VACUUM ANALYZE ingest.batches")
        yield connection


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_every_aos_batches_of_one_state_are_read_from_their_index(
    connection: asyncpg.Connection, generic: bool
) -> None:
    counter = RowCounter(connection, "batches", generic=generic)

    listed = await BatchRepository(counter).history(ao_id=None, status="abandoned", limit=PAGE, offset=PAGE)

    assert listed.total == 500 and len(listed.rows) == PAGE
    assert {row["status"] for row in listed.rows} == {"abandoned"}
    assert [row["received_at"] for row in listed.rows] == sorted(
        (row["received_at"] for row in listed.rows), reverse=True
    )
    # the page (the offset's and its own rows, and one more), and the count of the 500 in their index; the whole
    # table read (twice) without it
    assert counter.rows_read <= 2 * PAGE + 1 + 500, counter.rows_read
    assert await connection.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'ingest' AND indexname = 'batches_history_by_status'"
    ) == (
        "CREATE INDEX batches_history_by_status ON ingest.batches USING btree (status, received_at DESC, batch_id DESC)"
    )
