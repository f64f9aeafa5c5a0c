"""The batch view stores a chunk of record outcomes once however often it comes (decision 0084): one row a
chunk (decision 0111), the first time by COPY, again (a redelivery, the reconciler) by upsert, and answers
its pages in line order, on real PostgreSQL, as it answered from a row a record; a database upgraded from
a row a record answers as before."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import asyncpg
import pytest

from ingest.repository import BatchRepository, DecidedChunk
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_platform.database import apply_migrations, migrations_in

pytestmark = pytest.mark.integration

CHUNKS = 111  # the migration that stores a chunk a row


@pytest.fixture
async def repository(pool: asyncpg.Pool) -> BatchRepository:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "ingest", "ingest.migrations")
    return BatchRepository(pool)


def outcomes(batch_id: uuid.UUID, lines: range | list[int], status: RecordStatus) -> tuple[RecordOutcome, ...]:
    return tuple(
        RecordOutcome(
            line=line,
            mis_identifier=f"MIS-{line}",
            action="Create",
            uln_masked="******0043",
            status=status,
            errors=(Finding(code="RV004", field="grade", message="unknown grade"),)
            if status is RecordStatus.REJECTED
            else (),
            warnings=(Finding(code="WV001", message="late"),) if line % 7 == 0 else (),
            achievement_id=uuid.uuid5(batch_id, str(line)) if status is RecordStatus.ACCEPTED else None,
        )
        for line in lines
    )


def model(
    batch_id: uuid.UUID, lines: range | list[int], status: RecordStatus, chunk_index: int = 0
) -> BatchRecordsDecided:
    return BatchRecordsDecided(
        batch_id=batch_id, ao_id="RN5133", chunk_index=chunk_index, outcomes=outcomes(batch_id, lines, status)
    )


def chunk(batch_id: uuid.UUID, lines: range | list[int], status: RecordStatus, chunk_index: int = 0) -> DecidedChunk:
    return DecidedChunk.of(model(batch_id, lines, status, chunk_index))


def row_of(row: Any) -> tuple[Any, ...]:
    """A row as the API reads it (`views.record_view`), whatever form its findings take."""
    errors, warnings = (
        json.loads(row[key]) if isinstance(row[key], str) else row[key] for key in ("errors", "warnings")
    )
    return (
        row["line"],
        row["mis_identifier"],
        row["action"],
        row["uln_masked"],
        row["status"],
        [{"field": None, **finding} for finding in errors],
        [{"field": None, **finding} for finding in warnings],
        row["achievement_id"],
    )


async def stored(repository: BatchRepository, batch_id: uuid.UUID) -> list[tuple[Any, ...]]:
    rows, total = await repository.records(batch_id, status=None, limit=None)
    assert total == len(rows)
    return [row_of(row) for row in rows]


def expected(*chunks: DecidedChunk) -> list[tuple[Any, ...]]:
    """The chunks' rows by line, a line as the last chunk given holds it."""
    latest = {row["line"]: row_of(row) for chunk in chunks for row in chunk.rows()}
    return [latest[line] for line in sorted(latest)]


async def test_a_chunk_stored_again_changes_nothing_and_a_changed_one_replaces_its_lines(
    repository: BatchRepository,
) -> None:
    batch_id = uuid.uuid4()
    first = chunk(batch_id, range(1, 4), RecordStatus.ACCEPTED)
    await repository.apply_outcomes([first])
    assert await stored(repository, batch_id) == expected(first)

    # redelivered, alone and twice in one poll
    await repository.apply_outcomes([first])
    await repository.apply_outcomes([first, first])
    assert await stored(repository, batch_id) == expected(first)

    # the same lines decided otherwise, and one more line
    changed = chunk(batch_id, range(1, 5), RecordStatus.REJECTED)
    await repository.apply_outcomes([changed])
    assert await stored(repository, batch_id) == expected(changed)


async def test_chunks_of_one_poll_are_stored_together_beside_a_redelivered_one(repository: BatchRepository) -> None:
    batch_id, other_id = uuid.uuid4(), uuid.uuid4()
    earlier = chunk(other_id, range(1, 3), RecordStatus.ACCEPTED)
    await repository.apply_outcomes([earlier])
    first, second = (
        chunk(batch_id, range(1, 3), RecordStatus.ACCEPTED, 0),
        chunk(batch_id, range(3, 5), RecordStatus.REJECTED, 1),
    )
    await repository.apply_outcomes([first, earlier, second])
    assert await stored(repository, batch_id) == expected(first, second)
    assert await stored(repository, other_id) == expected(earlier)


async def test_a_polls_chunks_of_several_batches_are_stored_at_once_and_read_by_line_and_status(
    repository: BatchRepository,
) -> None:
    batch_id, other_id = uuid.uuid4(), uuid.uuid4()
    first = chunk(batch_id, range(1, 3), RecordStatus.ACCEPTED, 0)
    other = chunk(other_id, range(1, 4), RecordStatus.REJECTED, 0)
    empty = chunk(batch_id, [], RecordStatus.ACCEPTED, 2)
    second = chunk(batch_id, range(3, 6), RecordStatus.REJECTED, 1)
    await repository.apply_outcomes([first, other, empty, second])
    assert await stored(repository, batch_id) == expected(first, second)
    assert await stored(repository, other_id) == expected(other)

    rejected, total = await repository.records(batch_id, status="rejected", limit=2, offset=1)
    assert ([row["line"] for row in rejected], total) == ([4, 5], 3)
    everything, total = await repository.records(batch_id, status=None, limit=None)
    assert ([row["line"] for row in everything], total) == ([1, 2, 3, 4, 5], 5)


async def test_a_line_two_chunks_hold_is_shown_once_as_the_chunk_applied_last_holds_it(
    repository: BatchRepository,
) -> None:
    """A batch decided again and chunked otherwise: its lines are held twice, and shown once."""
    batch_id = uuid.uuid4()
    first = [chunk(batch_id, range(1 + 3 * i, 4 + 3 * i), RecordStatus.ACCEPTED, i) for i in range(3)]  # 1-9
    again = chunk(batch_id, range(5, 12), RecordStatus.REJECTED, 7)  # 5-11
    await repository.apply_outcomes(first)
    await repository.apply_outcomes([again])
    assert await stored(repository, batch_id) == expected(*first, again)
    rejected, total = await repository.records(batch_id, status="rejected", limit=3, offset=2)
    assert ([row["line"] for row in rejected], total) == ([7, 8, 9], 7)
    accepted, total = await repository.records(batch_id, status="accepted", limit=10, offset=0)
    assert ([row["line"] for row in accepted], total) == ([1, 2, 3, 4], 4)
    page, total = await repository.records(batch_id, status=None, limit=4, offset=8)
    assert ([(row["line"], row["status"]) for row in page], total) == (
        [(9, "rejected"), (10, "rejected"), (11, "rejected")],
        11,
    )

    # the earlier chunk applied again (the reconciler) holds its lines again, as its rows overwrote them
    await repository.apply_outcomes([first[1]])
    assert await stored(repository, batch_id) == expected(first[0], first[2], again, first[1])
    # in one poll too, the later chunk wins
    await repository.apply_outcomes([first[2], again])
    assert await stored(repository, batch_id) == expected(*first, again)


async def test_a_page_reads_only_the_chunks_that_hold_it_and_answers_as_the_whole_batch_read(
    repository: BatchRepository, pool: asyncpg.Pool
) -> None:
    batch_id = uuid.uuid4()
    statuses = [RecordStatus.ACCEPTED, RecordStatus.REJECTED, RecordStatus.NO_OP]
    # chunks out of line order, lines out of order within a chunk, one status missing from a chunk
    chunks = [
        DecidedChunk.of(
            BatchRecordsDecided(
                batch_id=batch_id,
                ao_id="RN5133",
                chunk_index=index,
                outcomes=tuple(
                    outcome
                    for line in reversed(range(4 + 10 * index, 14 + 10 * index))
                    for outcome in outcomes(batch_id, [line], statuses[line % (3 if index != 2 else 2)])
                ),
            )
        )
        for index in (3, 0, 2, 1)
    ]
    await repository.apply_outcomes(chunks)
    whole = expected(*chunks)
    for status in (None, *[status.value for status in statuses]):
        of_status = [row for row in whole if status is None or row[4] == status]
        for limit in (1, 7, 10, 25, None):
            for offset in (0, 3, 9, 10, 19, 33, 40, 45):
                rows, total = await repository.records(batch_id, status=status, limit=limit, offset=offset)
                end = None if limit is None else offset + limit
                assert ([row_of(row) for row in rows], total) == (of_status[offset:end], len(of_status))
    # the view for operators' queries answers the same rows
    view = await pool.fetch("SELECT * FROM ingest.batch_records WHERE batch_id = $1 ORDER BY line", batch_id)
    assert [row_of(row) for row in view] == whole


async def test_a_text_postgresql_refuses_fails_the_chunk_as_it_did_in_its_column(repository: BatchRepository) -> None:
    batch_id = uuid.uuid4()
    nul = model(batch_id, range(1, 3), RecordStatus.ACCEPTED)
    in_text = nul.model_copy(update={"outcomes": (nul.outcomes[0].model_copy(update={"mis_identifier": "A\x00"}),)})
    with pytest.raises(asyncpg.CharacterNotInRepertoireError):
        await repository.apply_outcomes([DecidedChunk.of(in_text)])
    finding = Finding(code="RV004", message="un\x00known")
    in_finding = nul.model_copy(update={"outcomes": (nul.outcomes[0].model_copy(update={"errors": (finding,)}),)})
    with pytest.raises(asyncpg.UntranslatableCharacterError):
        await repository.apply_outcomes([DecidedChunk.of(in_finding)])
    assert await stored(repository, batch_id) == []


# ---------------------------------------------------------------- a database upgraded from a row a record


async def test_a_database_that_stored_a_row_a_record_answers_as_before_once_upgraded(pool: asyncpg.Pool) -> None:
    older = [migration for migration in migrations_in("ingest.migrations") if migration.version < CHUNKS]
    async with pool.acquire() as connection:
        await connection.execute("CREATE SCHEMA ingest")
        await connection.execute(
            "CREATE TABLE ingest.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in older:
            async with connection.transaction():
                await connection.execute("SET LOCAL search_path TO ingest, public")
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO ingest.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        # as the consumer stored them before: a row a record, 2,500 lines of one batch (CSV lines from 4),
        # every field set in some, and a second batch
        batch_id, other_id = uuid.uuid4(), uuid.uuid4()
        statuses = [RecordStatus.ACCEPTED, RecordStatus.REJECTED, RecordStatus.NO_OP]
        rows: list[tuple[Any, ...]] = []
        for owner, lines in ((batch_id, range(4, 2504)), (other_id, range(1, 4))):
            for line in lines:
                status = statuses[hashlib.sha256(str(line).encode()).digest()[0] % 3]
                (outcome,) = outcomes(owner, [line], status)
                rows.append(
                    (
                        owner,
                        line,
                        outcome.mis_identifier if line % 5 else None,
                        outcome.action,
                        outcome.uln_masked,
                        status.value,
                        json.dumps([finding.model_dump(mode="json") for finding in outcome.errors]),
                        json.dumps([finding.model_dump(mode="json") for finding in outcome.warnings]),
                        outcome.achievement_id,
                    )
                )
        await connection.executemany(
            "INSERT INTO ingest.batch_records (batch_id, line, mis_identifier, action, uln_masked, status, errors,"
            " warnings, achievement_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            rows,
        )
        before = {
            (owner, status): [
                row_of(row)
                for row in await connection.fetch(
                    "SELECT * FROM ingest.batch_records WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2)"
                    " ORDER BY line",
                    owner,
                    status,
                )
            ]
            for owner in (batch_id, other_id)
            for status in (None, "accepted", "rejected", "no_op")
        }
        assert len(before[(batch_id, None)]) == 2_500
        assert await apply_migrations(connection, "ingest", "ingest.migrations") == [
            migration.name for migration in migrations_in("ingest.migrations") if migration.version >= CHUNKS
        ]
        assert (
            await connection.fetchval("SELECT count(*) FROM ingest.batch_record_chunks WHERE batch_id = $1", batch_id)
            == 3
        )

    repository = BatchRepository(pool)
    for (owner, asked), rows_before in before.items():
        assert [row_of(row) for row in (await repository.records(owner, status=asked, limit=None))[0]] == rows_before
        for limit, offset in ((100, 0), (100, 950), (1_000, 400), (7, 2_495)):
            page, total = await repository.records(owner, status=asked, limit=limit, offset=offset)
            assert ([row_of(row) for row in page], total) == (rows_before[offset : offset + limit], len(rows_before))

    # a chunk of the batch redelivered after the upgrade holds its lines again (its index is not the moved one's)
    again = chunk(batch_id, range(900, 1_100), RecordStatus.REJECTED, 0)
    await repository.apply_outcomes([again])
    shown = {row[0]: row for row in before[(batch_id, None)]} | {row[0]: row for row in expected(again)}
    assert await stored(repository, batch_id) == [shown[line] for line in sorted(shown)]
