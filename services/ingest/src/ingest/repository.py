"""PostgreSQL adapter for schema `ingest`: the batches an AO submitted and the outcomes of each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain, repeat
from typing import Any, ClassVar

import asyncpg
import orjson

from ingest.submission import BatchStatus, PreparedBatch
from lrs_contracts.batch import BatchFormat
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
    Finding,
)

SCHEMA = "ingest"


@dataclass(frozen=True, slots=True)
class DecidedRecords:
    """A `lrs.batch.records.decided.v1` chunk as the batch view stores it: a column per stored field,
    in the chunk's order. A finding list is its JSON text, a record's achievement id its UUID's text.

    Built straight from the event's JSON by `ingest.outcomes` (no model per record), or from the model
    (`of`): both give the same columns."""

    event_type: ClassVar[str] = "lrs.batch.records.decided.v1"

    batch_id: uuid.UUID
    lines: list[int]
    mis_identifiers: list[str | None]
    actions: list[str | None]
    ulns_masked: list[str | None]
    statuses: list[str]
    errors: list[str]
    warnings: list[str]
    achievement_ids: list[str | None]

    @staticmethod
    def of(chunk: BatchRecordsDecided) -> DecidedRecords:
        outcomes = chunk.outcomes
        return DecidedRecords(
            chunk.batch_id,
            [outcome.line for outcome in outcomes],
            [outcome.mis_identifier for outcome in outcomes],
            [outcome.action for outcome in outcomes],
            [outcome.uln_masked for outcome in outcomes],
            [outcome.status.value for outcome in outcomes],
            [findings_json(outcome.errors) for outcome in outcomes],
            [findings_json(outcome.warnings) for outcome in outcomes],
            [None if outcome.achievement_id is None else str(outcome.achievement_id) for outcome in outcomes],
        )

    def columns(self) -> tuple[list[Any], ...]:
        """The stored columns after `batch_id`, in `_RECORD_COLUMNS` order."""
        return (
            self.lines,
            self.mis_identifiers,
            self.actions,
            self.ulns_masked,
            self.statuses,
            self.errors,
            self.warnings,
            self.achievement_ids,
        )


# What the batch view stores of the outcomes topic.
ViewEvent = BatchValidationStarted | DecidedRecords | BatchCompleted | BatchFailed | BatchAbandoned

NO_FINDINGS = "[]"


def findings_json(findings: tuple[Finding, ...]) -> str:
    # Most records have no finding: their column is the one constant, with nothing to serialise.
    if not findings:
        return NO_FINDINGS
    return orjson.dumps([finding.model_dump(mode="json") for finding in findings]).decode()


@dataclass(frozen=True)
class StoredBatch:
    batch_id: uuid.UUID
    ao_id: str | None
    status: BatchStatus
    content_sha256: str | None
    submitted_by: str | None
    received_at: datetime


@dataclass(frozen=True)
class WaitingBatch:
    batch_id: uuid.UUID
    received_at: datetime


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    line: int | None = None
    column: int | None = None


def _stored(row: asyncpg.Record) -> StoredBatch:
    return StoredBatch(
        batch_id=row["batch_id"],
        ao_id=row["ao_id"],
        status=BatchStatus(row["status"]),
        content_sha256=row["content_sha256"],
        submitted_by=row["submitted_by"],
        received_at=row["received_at"],
    )


class PublishClaim:
    """The batch row, locked for the publishing request: concurrent retries wait, then see `accepted`."""

    def __init__(self, connection: asyncpg.Connection, batch: StoredBatch) -> None:
        self._connection = connection
        self.batch = batch

    async def mark_accepted(self) -> None:
        await _mark_accepted(self._connection, self.batch.batch_id)


async def _mark_accepted(connection: asyncpg.Connection | asyncpg.Pool, batch_id: uuid.UUID) -> None:
    # Outcome events may already have moved the batch on (validation is quick): never step back.
    await connection.execute(
        "UPDATE ingest.batches SET accepted_at = COALESCE(accepted_at, now()), updated_at = now(),"
        " status = CASE WHEN status = 'received' THEN 'accepted' ELSE status END"
        " WHERE batch_id = $1",
        batch_id,
    )


class ClaimTimeout(Exception):
    """Another request holds the batch row (it is publishing the same batch)."""


class BatchRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert_received(self, prepared: PreparedBatch, *, idempotency_key: str | None, dedup_key: str) -> bool:
        """True when inserted; False when the AO already has a batch under this dedup key."""
        identity = prepared.identity
        result = await self._pool.execute(
            "INSERT INTO ingest.batches (batch_id, ao_id, submitted_by, status, dedup_key, idempotency_key,"
            " content_sha256, format, size_bytes, record_count, chunk_count, job_type, batch_reference, received_at)"
            " VALUES ($1, $2, $3, 'received', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT (ao_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING",
            identity.batch_id,
            identity.ao_id,
            identity.submitted_by,
            dedup_key,
            idempotency_key,
            prepared.sha256,
            prepared.format.value,
            prepared.size_bytes,
            prepared.record_count,
            prepared.chunk_count,
            prepared.header.effective_job_type.value,
            prepared.header.batch_reference,
            identity.received_at,
        )
        return bool(result == "INSERT 0 1")

    async def find_by_dedup(self, ao_id: str, dedup_key: str) -> StoredBatch | None:
        row = await self._pool.fetchrow(
            "SELECT batch_id, ao_id, status, content_sha256, submitted_by, received_at FROM ingest.batches"
            " WHERE ao_id = $1 AND dedup_key = $2",
            ao_id,
            dedup_key,
        )
        return _stored(row) if row else None

    async def insert_refused(
        self,
        batch_id: uuid.UUID,
        *,
        ao_id: str | None,
        submitted_by: str,
        refusal: Refusal,
        fmt: BatchFormat | None,
        size_bytes: int | None,
        sha256: str | None,
        idempotency_key: str | None,
    ) -> None:
        await self._pool.execute(
            "INSERT INTO ingest.batches (batch_id, ao_id, submitted_by, status, idempotency_key, content_sha256,"
            " format, size_bytes, refusal_code, refusal_detail, refusal_line, refusal_column, decided_at)"
            " VALUES ($1, $2, $3, 'refused', $4, $5, $6, $7, $8, $9, $10, $11, now())",
            batch_id,
            ao_id,
            submitted_by,
            idempotency_key,
            sha256,
            fmt.value if fmt else None,
            size_bytes,
            refusal.code,
            refusal.detail[:2_000],
            refusal.line,
            refusal.column,
        )

    @asynccontextmanager
    async def claim(self, batch_id: uuid.UUID, *, lock_timeout_seconds: float) -> AsyncIterator[PublishClaim]:
        """Locks the batch row for the length of the block; its transaction commits when the block ends.

        Raises ClaimTimeout when another request keeps the row locked past the timeout.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_seconds * 1000)}ms'")
            try:
                row = await connection.fetchrow(
                    "SELECT batch_id, ao_id, status, content_sha256, submitted_by, received_at"
                    " FROM ingest.batches WHERE batch_id = $1 FOR UPDATE",
                    batch_id,
                )
            except asyncpg.LockNotAvailableError:
                raise ClaimTimeout(str(batch_id)) from None
            if row is None:
                raise LookupError(str(batch_id))
            yield PublishClaim(connection, _stored(row))

    async def mark_accepted(self, batch_id: uuid.UUID) -> None:
        await _mark_accepted(self._pool, batch_id)

    async def status_of(self, batch_id: uuid.UUID) -> BatchStatus | None:
        value = await self._pool.fetchval("SELECT status FROM ingest.batches WHERE batch_id = $1", batch_id)
        return BatchStatus(value) if value is not None else None

    async def oldest_undecided_received_at(self) -> datetime | None:
        """When the oldest batch still waiting for its outcome arrived (None: every batch is decided)."""
        value: datetime | None = await self._pool.fetchval(
            "SELECT min(received_at) FROM ingest.batches WHERE status IN ('received', 'accepted', 'validating')"
        )
        return value

    async def waiting_batches(self, *, older_than: timedelta, newer_than: timedelta, limit: int) -> list[WaitingBatch]:
        """Batches still waiting for their decision, received between `newer_than` and `older_than` ago,
        oldest first."""
        rows = await self._pool.fetch(
            "SELECT batch_id, received_at FROM ingest.batches"
            " WHERE status IN ('received', 'accepted', 'validating')"
            " AND received_at < now() - $1::interval AND received_at > now() - $2::interval"
            " ORDER BY received_at LIMIT $3",
            older_than,
            newer_than,
            limit,
        )
        return [WaitingBatch(row["batch_id"], row["received_at"]) for row in rows]

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> asyncpg.Record | None:
        """The batch, if it belongs to `ao_id` (None: any AO, for operators)."""
        row: asyncpg.Record | None = await self._pool.fetchrow(
            "SELECT * FROM ingest.batches WHERE batch_id = $1 AND ($2::text IS NULL OR ao_id = $2)",
            batch_id,
            ao_id,
        )
        return row

    async def history(self, *, ao_id: str | None, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM ingest.batches WHERE ($1::text IS NULL OR ao_id = $1)"
                " ORDER BY received_at DESC, batch_id DESC LIMIT $2 OFFSET $3",
                ao_id,
                limit,
                offset,
            )
            total = await connection.fetchval(
                "SELECT count(*) FROM ingest.batches WHERE ($1::text IS NULL OR ao_id = $1)", ao_id
            )
        return list(rows), int(total)

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0
    ) -> tuple[list[asyncpg.Record], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM ingest.batch_records WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2)"
                " ORDER BY line LIMIT $3 OFFSET $4",
                batch_id,
                status,
                limit,
                offset,
            )
            total = await connection.fetchval(
                "SELECT count(*) FROM ingest.batch_records WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2)",
                batch_id,
                status,
            )
        return list(rows), int(total)

    async def apply_outcomes(self, events: Sequence[ViewEvent]) -> None:
        """Stores outcome events in one transaction. Every statement is keyed by the event's natural key,
        so applying the same events again changes nothing: the rows of all the events' chunks are copied
        in by one binary COPY (a COPY statement costs the server ~1 ms beside its rows: one per poll, not
        per chunk of 1,000); when a line was stored before (a redelivery, the reconciler), the
        transaction rolls back and the events are stored again by upserts, chunk by chunk in order."""
        try:
            await self._apply(events, copied=True)
        except asyncpg.UniqueViolationError:
            await self._apply(events, copied=False)

    async def _apply(self, events: Sequence[ViewEvent], *, copied: bool) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            for event in events:
                match event:
                    case BatchValidationStarted():
                        await connection.execute(
                            "UPDATE ingest.batches SET status = 'validating'"
                            " WHERE batch_id = $1 AND status IN ('received', 'accepted')",
                            event.batch_id,
                        )
                    case DecidedRecords():
                        if event.lines and not copied:
                            await _upsert_records(connection, event)
                    case BatchCompleted():
                        await _upsert_decision(connection, event, BatchStatus.COMPLETED, None, None)
                    case BatchFailed():
                        await _upsert_decision(connection, event, BatchStatus.FAILED, event.code, event.reason)
                    case BatchAbandoned():
                        await _abandon(connection, event)
            if copied:
                await _copy_records(connection, [event for event in events if isinstance(event, DecidedRecords)])


_RECORD_COLUMNS = (
    "batch_id",
    "line",
    "mis_identifier",
    "action",
    "uln_masked",
    "status",
    "errors",
    "warnings",
    "achievement_id",
)


async def _copy_records(connection: asyncpg.Connection, chunks: Sequence[DecidedRecords]) -> None:
    if not any(chunk.lines for chunk in chunks):
        return
    await connection.copy_records_to_table(
        "batch_records",
        schema_name=SCHEMA,
        columns=_RECORD_COLUMNS,
        records=chain.from_iterable(
            zip(repeat(chunk.batch_id, len(chunk.lines)), *chunk.columns(), strict=True) for chunk in chunks
        ),
    )


async def _upsert_records(connection: asyncpg.Connection, records: DecidedRecords) -> None:
    await connection.execute(
        "INSERT INTO ingest.batch_records"
        " (batch_id, line, mis_identifier, action, uln_masked, status, errors, warnings, achievement_id)"
        " SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::jsonb[], $8::jsonb[], $9::uuid[])"
        " ON CONFLICT (batch_id, line) DO UPDATE SET mis_identifier = EXCLUDED.mis_identifier,"
        " action = EXCLUDED.action, uln_masked = EXCLUDED.uln_masked, status = EXCLUDED.status,"
        " errors = EXCLUDED.errors, warnings = EXCLUDED.warnings, achievement_id = EXCLUDED.achievement_id",
        records.batch_id,
        *records.columns(),
    )


async def _upsert_decision(
    connection: asyncpg.Connection,
    event: BatchCompleted | BatchFailed,
    status: BatchStatus,
    failure_code: str | None,
    failure_reason: str | None,
) -> None:
    # A batch ingest never stored (its row lost with a restored database) still shows, from its outcome.
    counts = event.counts
    await connection.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, job_type, batch_reference, failure_code,"
        " failure_reason, total, accepted, rejected, no_ops, warnings, received_at, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (batch_id) DO UPDATE SET status = EXCLUDED.status,"
        " failure_code = EXCLUDED.failure_code, failure_reason = EXCLUDED.failure_reason,"
        " total = EXCLUDED.total, accepted = EXCLUDED.accepted, rejected = EXCLUDED.rejected,"
        " no_ops = EXCLUDED.no_ops, warnings = EXCLUDED.warnings, decided_at = EXCLUDED.decided_at,"
        " job_type = COALESCE(ingest.batches.job_type, EXCLUDED.job_type),"
        " batch_reference = COALESCE(ingest.batches.batch_reference, EXCLUDED.batch_reference),"
        " updated_at = now()"
        " WHERE ingest.batches.status <> 'refused'",
        event.batch_id,
        event.ao_id,
        status.value,
        event.job_type.value,
        event.batch_reference,
        failure_code,
        failure_reason,
        counts.total,
        counts.accepted,
        counts.rejected,
        counts.no_ops,
        counts.warnings,
        event.submitted_at,
        event.decided_at,
    )


async def _abandon(connection: asyncpg.Connection, event: BatchAbandoned) -> None:
    """A batch validation gave up on: `abandoned`, unless an outcome decided it, and no longer the
    batch its file or Idempotency-Key finds, so that sending it again makes a new batch."""
    await connection.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, job_type, batch_reference, failure_reason,"
        " received_at, decided_at)"
        " VALUES ($1, $2, 'abandoned', $3, $4, $5, $6, $7)"
        " ON CONFLICT (batch_id) DO UPDATE SET status = 'abandoned', dedup_key = NULL,"
        " failure_reason = EXCLUDED.failure_reason, decided_at = EXCLUDED.decided_at, updated_at = now()"
        " WHERE ingest.batches.status IN ('received', 'accepted', 'validating')",
        event.batch_id,
        event.ao_id,
        None if event.job_type is None else event.job_type.value,
        event.batch_reference,
        event.reason,
        event.submitted_at or event.abandoned_at,
        event.abandoned_at,
    )
