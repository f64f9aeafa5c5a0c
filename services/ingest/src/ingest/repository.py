"""PostgreSQL adapter for schema `ingest`: the batches an AO submitted and the outcomes of each."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from operator import itemgetter
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
    RecordStatus,
)
from lrs_contracts.registry import event_type_of
from lrs_platform.database import where_given
from lrs_platform.logging import get_logger
from lrs_platform.paging import PagePosition, split_page

_log = get_logger("ingest.repository")

SCHEMA = "ingest"
PARKED_SCHEMA = f"{SCHEMA}_parked"
"""Where ingest's consumers park what they cannot apply (`lrs_platform.parking`): its dead letters."""


def parked_key(batch_id: uuid.UUID) -> bytes:
    """A batch's messages' key on the outcomes topic, as the parked table holds it: the id's text."""
    return str(batch_id).encode()


def id_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The batch ids whose text starts with `prefix` (hex digits and hyphens), as the smallest and the largest of
    them: an index range, where the text would be read from every id. None when no id's text starts so (a hyphen
    out of its place, a hex digit where one belongs)."""
    text = prefix.lower()
    template = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
    if len(text) > len(template) or any(
        (char == "-") != (place == "-") or (char != "-" and char not in "0123456789abcdef")
        for char, place in zip(text, template, strict=False)
    ):
        return None
    digits = text.replace("-", "")
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


@dataclass(frozen=True, slots=True)
class DecidedChunk:
    """A `lrs.batch.records.decided.v1` chunk as the batch view stores it: one row (decision 0111).

    `outcomes` is a JSON document whose `data.outcomes` are the chunk's record outcomes, checked: the
    message itself when `ingest.outcomes` read it straight from its JSON, or written from the models
    (`of`). Beside it, what a page needs to find the chunk without reading it: its first and last line
    and its count of each status. In a stored outcome an absent field is null, a finding's absent
    `field` too, and an achievement id is a UUID's text of either case.

    `unstorable` holds the chunk's texts, and finding lists as JSON, with a NUL character: PostgreSQL's
    text and jsonb refuse them, so the batch view refused their chunk when it stored a column a field,
    and still does (`BatchRepository.apply_outcomes` hands them to PostgreSQL): the chunk is parked."""

    event_type: ClassVar[str] = event_type_of(BatchRecordsDecided)

    batch_id: uuid.UUID
    chunk_index: int
    first_line: int | None  # None: a chunk of no outcome, which stores nothing
    last_line: int | None
    accepted: int
    rejected: int
    no_ops: int
    outcomes: bytes
    unstorable: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    @staticmethod
    def of(chunk: BatchRecordsDecided) -> DecidedChunk:
        documents: list[dict[str, Any]] = [
            {
                "line": outcome.line,
                "mis_identifier": outcome.mis_identifier,
                "action": outcome.action,
                "uln_masked": outcome.uln_masked,
                "status": outcome.status.value,
                "errors": [finding.model_dump(mode="json") for finding in outcome.errors],
                "warnings": [finding.model_dump(mode="json") for finding in outcome.warnings],
                "achievement_id": None if outcome.achievement_id is None else str(outcome.achievement_id),
            }
            for outcome in chunk.outcomes
        ]
        lines = [document["line"] for document in documents]
        refuse_lines_out_of_range(chunk.batch_id, chunk.chunk_index, lines)  # before they are written as JSON
        return decided_chunk(
            chunk.batch_id,
            chunk.chunk_index,
            lines,
            Counter(document["status"] for document in documents),
            orjson.dumps({"data": {"outcomes": documents}}),
            unstorable_texts(documents),
        )

    def rows(self) -> list[dict[str, Any]]:
        """The chunk's outcomes as the batch view answers them, in the chunk's order."""
        return [record_row(self.batch_id, outcome) for outcome in stored_outcomes(self.outcomes)]


class LinesRepeated(ValueError):
    """A chunk names a line twice: which of its two outcomes holds is unknown (a poison, parked)."""


LARGEST_LINE = 2_147_483_647  # the batch view's line columns are PostgreSQL `integer`s


class LineOutOfRange(ValueError):
    """A chunk names a line past what the batch view's columns hold, as no batch file has one (a poison, parked at
    once rather than after PostgreSQL refused it three times)."""


def refuse_lines_out_of_range(batch_id: uuid.UUID, chunk_index: int, lines: list[int]) -> None:
    if lines and max(lines) > LARGEST_LINE:
        raise LineOutOfRange(f"chunk {chunk_index} of batch {batch_id} names a line past {LARGEST_LINE:,}")


def decided_chunk(
    batch_id: uuid.UUID,
    chunk_index: int,
    lines: list[int],
    statuses: Mapping[str, int],
    outcomes: bytes,
    unstorable: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> DecidedChunk:
    """The stored chunk of checked outcomes: `lines` and `statuses` (status -> count) summarise them."""
    refuse_lines_out_of_range(batch_id, chunk_index, lines)
    if len(set(lines)) != len(lines):
        raise LinesRepeated(f"chunk {chunk_index} of batch {batch_id} names a line twice")
    return DecidedChunk(
        batch_id,
        chunk_index,
        min(lines, default=None),
        max(lines, default=None),
        statuses.get(RecordStatus.ACCEPTED, 0),
        statuses.get(RecordStatus.REJECTED, 0),
        statuses.get(RecordStatus.NO_OP, 0),
        outcomes,
        unstorable,
    )


def unstorable_texts(outcomes: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The texts of checked outcomes that hold a NUL character, and the finding lists (their JSON) that do."""
    texts: list[str] = []
    findings: list[str] = []
    for outcome in outcomes:
        texts.extend(
            value
            for key in ("mis_identifier", "action", "uln_masked")
            if (value := outcome.get(key)) is not None and "\x00" in value
        )
        for key in ("errors", "warnings"):
            listed = outcome.get(key) or []
            if any("\x00" in value for finding in listed for value in finding.values() if isinstance(value, str)):
                findings.append(orjson.dumps(_findings(listed)).decode())
    return tuple(texts), tuple(findings)


def stored_outcomes(document: bytes) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = orjson.loads(document)["data"]["outcomes"]
    return outcomes


def _findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"code": finding["code"], "field": finding.get("field"), "message": finding["message"]} for finding in findings
    ]


# A finding's code in a stored chunk's JSON: a key named `code` and its value, written plainly (every code is RVnnn or
# WVnnn). A key follows the `{` or `,` that opens it (`_opens_a_key`): a text can hold no unescaped `"`.
_CODE_KEY = re.compile(rb'"code"\s*:\s*"([^"\\]*)"')
_SPACES = frozenset(b" \t\r\n")
_KEY_OPENERS = frozenset(b"{,")


def codes_in(document: bytes) -> list[str]:
    """The codes of the findings (errors and warnings) of a stored chunk's outcomes, sorted, each once. Read from
    the JSON's text where it is sure to hold them all (no `\\u` escape, which could spell a key or a code, and a
    key of each `"code"` there: a text `"code"` sends it to the models' reading); from the parsed outcomes
    otherwise. A key is `code` only in a finding: every level of the events refuses a field it does not know."""
    if b"\\u" not in document:
        matches = [match for match in _CODE_KEY.finditer(document) if _opens_a_key(document, match.start())]
        if len(matches) == document.count(b'"code"'):
            return sorted({match.group(1).decode() for match in matches})
    return sorted({code for outcome in stored_outcomes(document) for code in _codes_of(outcome)})


def _opens_a_key(document: bytes, start: int) -> bool:
    """Whether the `"` at `start` follows a `{` or a `,` (spaces between): it opens a key, not a text."""
    before = start - 1
    while before >= 0 and document[before] in _SPACES:
        before -= 1
    return before >= 0 and document[before] in _KEY_OPENERS


def holds_code(outcome: Mapping[str, Any], code: str) -> bool:
    """Whether a stored outcome has a finding (an error or a warning) of `code`."""
    return code in _codes_of(outcome)


def _codes_of(outcome: Mapping[str, Any]) -> Iterable[str]:
    return (finding["code"] for key in ("errors", "warnings") for finding in outcome.get(key) or ())


def record_row(batch_id: uuid.UUID, outcome: Mapping[str, Any]) -> dict[str, Any]:
    """A stored outcome as the view's row: a finding list as a list, an achievement id as a UUID."""
    get = outcome.get
    errors, warnings, achievement_id = get("errors"), get("warnings"), get("achievement_id")
    return {
        "batch_id": batch_id,
        "line": outcome["line"],
        "mis_identifier": get("mis_identifier"),
        "action": get("action"),
        "uln_masked": get("uln_masked"),
        "status": outcome["status"],
        "errors": _findings(errors) if errors else [],
        "warnings": _findings(warnings) if warnings else [],
        "achievement_id": None if achievement_id is None else uuid.UUID(achievement_id),
    }


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk row's summary: where its lines lie, how many of each status it holds, when it was applied, and the
    codes of its findings (None: a chunk stored before they were kept, migration 0121, read from its outcomes)."""

    chunk_index: int
    first_line: int
    last_line: int
    accepted: int
    rejected: int
    no_ops: int
    applied: int
    codes: Sequence[str] | None = None

    def may_hold(self, code: str | None) -> bool:
        """Whether the chunk may hold records of `code` (None: any record)."""
        return code is None or self.codes is None or code in self.codes

    def count(self, status: str | None) -> int:
        if status is None:
            return self.accepted + self.rejected + self.no_ops
        if status == RecordStatus.ACCEPTED:
            return self.accepted
        if status == RecordStatus.REJECTED:
            return self.rejected
        return self.no_ops if status == RecordStatus.NO_OP else 0


@dataclass(frozen=True, slots=True)
class PagePlan:
    """The chunks a page reads, in line order; `skipped`: the records of the status asked for in the
    chunks before them; `total`: the batch's records of that status, None when it is counted once the chunks are
    read: when a line is held by two chunks (`overlapping`: then every chunk is read), or records of a code are
    asked (then every chunk that may hold them is: a chunk's summary does not count its codes' records)."""

    chunks: list[StoredChunk]
    skipped: int
    total: int | None
    overlapping: bool = False


def _in_line_order(chunks: Iterable[StoredChunk]) -> list[StoredChunk]:
    return sorted(chunks, key=lambda chunk: (chunk.first_line, chunk.applied))


def _overlapping(ordered: Sequence[StoredChunk]) -> bool:
    """Whether a line is held by two of the chunks (in line order)."""
    return any(later.first_line <= earlier.last_line for earlier, later in pairwise(ordered))


def page_plan(
    chunks: Sequence[StoredChunk], status: str | None, limit: int | None, offset: int, code: str | None = None
) -> PagePlan:
    """The chunks that hold a page of the records of `status` (None: all) in line order, of those with a finding of
    `code` if given."""
    ordered = _in_line_order(chunks)
    if _overlapping(ordered):
        return PagePlan(ordered, 0, None, overlapping=True)
    if code is not None:
        return PagePlan([chunk for chunk in ordered if chunk.count(status) and chunk.may_hold(code)], 0, None)
    total = skipped = taken = 0
    needed: list[StoredChunk] = []
    for chunk in ordered:
        count = chunk.count(status)
        total += count
        if not count:
            continue
        if not needed and skipped + count <= offset:
            skipped += count
        elif limit is None or skipped + taken < offset + limit:
            needed.append(chunk)
            taken += count
    return PagePlan(needed, skipped, total)


def page_of(
    batch_id: uuid.UUID,
    plan: PagePlan,
    documents: Mapping[int, bytes],
    status: str | None,
    limit: int | None,
    offset: int,
    code: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The page's rows in line order, and the batch's count of records of `status` (and of `code`, if given).
    `documents`: the stored outcomes of the plan's chunks by chunk index. A line that two chunks hold is shown
    once, as the chunk applied last holds it (as the row it overwrote before decision 0111)."""
    if plan.overlapping:
        outcomes = latest_outcomes(plan.chunks, documents)
        if status is not None:
            outcomes = [outcome for outcome in outcomes if outcome["status"] == status]
    else:
        outcomes = []
        for chunk in plan.chunks:
            held = stored_outcomes(documents[chunk.chunk_index])
            if status is not None:
                held = [outcome for outcome in held if outcome["status"] == status]
            held.sort(key=_LINE)
            outcomes.extend(held)
    if code is not None:
        outcomes = [outcome for outcome in outcomes if holds_code(outcome, code)]
    if plan.total is None:
        total, start = len(outcomes), offset
    else:
        total, start = plan.total, offset - plan.skipped
    page = outcomes[start:] if limit is None else outcomes[start : start + limit]
    return [record_row(batch_id, outcome) for outcome in page], total


_LINE = itemgetter("line")


def latest_outcomes(chunks: Iterable[StoredChunk], documents: Mapping[int, bytes]) -> list[dict[str, Any]]:
    """The outcomes of the chunks in line order, a line held by two as the chunk applied last holds it."""
    latest: dict[int, dict[str, Any]] = {}
    for chunk in sorted(chunks, key=lambda chunk: chunk.applied):
        latest.update((outcome["line"], outcome) for outcome in stored_outcomes(documents[chunk.chunk_index]))
    return [latest[line] for line in sorted(latest)]


def codes_to_read(chunks: Sequence[StoredChunk]) -> list[StoredChunk]:
    """The chunks whose outcomes are read to tell a batch's codes (`batch_codes`): every chunk when a line is held
    by two (a code only the chunk applied first holds may be no record's), else those stored before their codes
    were kept (migration 0121)."""
    ordered = _in_line_order(chunks)
    if _overlapping(ordered):
        return ordered
    return [chunk for chunk in ordered if chunk.codes is None]


def batch_codes(chunks: Sequence[StoredChunk], documents: Mapping[int, bytes]) -> list[str]:
    """The codes of the findings (errors and warnings) of the batch's records, sorted, each once: as the chunks'
    rows keep them, and read from the outcomes of the chunks `codes_to_read` names (`documents`, by chunk index)."""
    ordered = _in_line_order(chunks)
    if _overlapping(ordered):
        return sorted({code for outcome in latest_outcomes(ordered, documents) for code in _codes_of(outcome)})
    codes = {code for chunk in ordered if chunk.codes is not None for code in chunk.codes}
    for chunk in ordered:
        if chunk.codes is None:
            codes.update(codes_in(documents[chunk.chunk_index]))
    return sorted(codes)


@dataclass(frozen=True, slots=True)
class RecordsRead:
    """A page of a batch's records (`rows`), how many records the filters asked for the batch holds (`total`), and
    the codes of the findings of all its records (`codes`)."""

    rows: list[dict[str, Any]]
    total: int
    codes: list[str]


# What the batch view stores of the outcomes topic.
ViewEvent = BatchValidationStarted | DecidedChunk | BatchCompleted | BatchFailed | BatchAbandoned


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
class Waiting:
    """What of an AO's waits for its decision (decision 0171): its records, and its batches, each of which costs a
    decision whatever its size."""

    records: int
    batches: int


@dataclass(frozen=True)
class BatchHistory:
    """A page of a batch list: its rows (each with `batches_listed` beside the batch's columns), how many batches
    the list holds, and where the next page starts (None: this is the last)."""

    rows: list[asyncpg.Record]
    total: int
    next: PagePosition | None


def _history_position(row: asyncpg.Record) -> PagePosition:
    return PagePosition(row["received_at"], row["batch_id"])


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class StoredRefusal:
    """A refusal filed before: the batch that holds it, what it said, and the file's format (None: not told)."""

    batch_id: uuid.UUID
    refusal: Refusal
    format: str | None


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


def results_issued_on(text: str | None) -> date | None:
    """The header's ResultsIssuedDate as the batch view keeps it: None when the header gave none (ingest refuses a
    header date that is not a yyyy-mm-dd day: RS001)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


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
            " content_sha256, format, size_bytes, record_count, chunk_count, job_type, batch_reference, received_at,"
            " submitted_with_key, results_issued_date)"
            " VALUES ($1, $2, $3, 'received', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
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
            identity.submitted_with_key,
            results_issued_on(prepared.header.results_issued_date),
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

    async def find_by_content(self, ao_id: str, sha256: str) -> StoredBatch | None:
        """The AO's latest batch of this file that still answers for it, whatever Idempotency-Key it was sent
        with: not refused, failed or abandoned (those gave up their dedup key, or a keyed failed one answers only
        its key: decision 0185)."""
        row = await self._pool.fetchrow(
            "SELECT batch_id, ao_id, status, content_sha256, submitted_by, received_at FROM ingest.batches"
            " WHERE ao_id = $1 AND content_sha256 = $2 AND dedup_key IS NOT NULL"
            " AND status IN ('received', 'accepted', 'validating', 'completed')"
            " ORDER BY received_at DESC, batch_id DESC LIMIT 1",
            ao_id,
            sha256,
        )
        return _stored(row) if row else None

    async def insert_refused(
        self,
        batch_id: uuid.UUID,
        *,
        ao_id: str | None,
        submitted_by: str,
        submitted_with_key: str | None = None,
        refusal: Refusal,
        batch_reference: str | None = None,
        fmt: BatchFormat | None,
        size_bytes: int | None,
        sha256: str | None,
        idempotency_key: str | None,
        refusal_key: str | None = None,
    ) -> StoredRefusal | None:
        """Files the refusal as batch `batch_id` and answers None; or, when the AO has a refusal under `refusal_key`
        already (the same file under the same Idempotency-Key: `ingest.submission.refusal_key`), files nothing and
        answers that one. Two such submissions at once file one refusal: the unique index decides which."""
        while True:
            filed = await self._pool.execute(
                "INSERT INTO ingest.batches (batch_id, ao_id, submitted_by, status, idempotency_key, content_sha256,"
                " format, size_bytes, refusal_code, refusal_detail, refusal_line, refusal_column, batch_reference,"
                " decided_at, submitted_with_key, refusal_key)"
                " VALUES ($1, $2, $3, 'refused', $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), $13, $14)"
                " ON CONFLICT (ao_id, refusal_key) WHERE refusal_key IS NOT NULL DO NOTHING",
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
                batch_reference,
                submitted_with_key,
                refusal_key,
            )
            if filed == "INSERT 0 1":
                return None
            # a refusal_key the AO's earlier refusal holds (a NULL one never conflicts)
            row = await self._pool.fetchrow(
                "SELECT batch_id, refusal_code, refusal_detail, refusal_line, refusal_column, format"
                " FROM ingest.batches WHERE ao_id = $1 AND refusal_key = $2",
                ao_id,
                refusal_key,
            )
            if row is not None:
                refused = Refusal(
                    row["refusal_code"], row["refusal_detail"], row["refusal_line"], row["refusal_column"]
                )
                return StoredRefusal(row["batch_id"], refused, row["format"])
            # gone again in between (a Sandpit reset forgot it): this refusal is the first again

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

    async def waiting_batches(
        self, *, older_than: timedelta, newer_than: timedelta, limit: int, parked_by: str
    ) -> list[WaitingBatch]:
        """Batches still waiting for their decision, received between `newer_than` and `older_than` ago,
        oldest first; but none of which the batch view parked a message (`parked_by`): those wait for an
        operator's retry or skip, in order, and their events held behind it must not be applied around it."""
        rows = await self._pool.fetch(
            "SELECT batch_id, received_at FROM ingest.batches b"
            " WHERE status IN ('received', 'accepted', 'validating')"
            " AND received_at < now() - $1::interval AND received_at > now() - $2::interval"
            " AND NOT EXISTS (SELECT 1 FROM ingest_parked.parked_messages p"
            "   WHERE p.consumer = $4 AND p.message_key = convert_to(b.batch_id::text, 'UTF8'))"
            " ORDER BY received_at LIMIT $3",
            older_than,
            newer_than,
            limit,
            parked_by,
        )
        return [WaitingBatch(row["batch_id"], row["received_at"]) for row in rows]

    async def view_positions(self, group_id: str) -> dict[tuple[str, int], int]:
        """Where the batch view's outcome consumer of `group_id` stored it had got to, by topic and partition."""
        rows = await self._pool.fetch(
            "SELECT topic, partition, next_offset FROM ingest.batch_view_positions WHERE group_id = $1", group_id
        )
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    async def record_view_positions(self, group_id: str, positions: Mapping[tuple[str, int], int]) -> None:
        await self._pool.executemany(
            "INSERT INTO ingest.batch_view_positions (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            [(group_id, topic, partition, offset) for (topic, partition), offset in positions.items()],
        )

    async def records_waiting(self, ao_id: str, *, publishing_seconds: float) -> Waiting:
        """How many records of the AO's batches, and how many batches, wait for their decision (decision 0171):
        published ones, and received ones still being published (for `publishing_seconds`). A batch Kafka never
        took waits for no decision: it waits for its retry, which the limit must not stop."""
        row = await self._pool.fetchrow(
            "SELECT coalesce(sum(record_count), 0) AS records, count(*) AS batches FROM ingest.batches"
            " WHERE ao_id = $1 AND (status IN ('accepted', 'validating')"
            " OR (status = 'received' AND received_at > now() - make_interval(secs => $2)))",
            ao_id,
            publishing_seconds,
        )
        assert row is not None  # an aggregate without GROUP BY answers one row
        return Waiting(records=int(row["records"]), batches=int(row["batches"]))

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> asyncpg.Record | None:
        """The batch, if it belongs to `ao_id` (None: any AO, for operators), and beside its columns its messages
        parked in ingest's dead letters: `held_in_dead_letters` (how many) and `held_in_dead_letters_since` (when
        the first was parked). The outcomes topic is keyed by the batch id's text, and so are its parked messages:
        one look-up in `parked_messages_by_key`, in the same statement."""
        row: asyncpg.Record | None = await self._pool.fetchrow(
            "SELECT b.*, held.messages AS held_in_dead_letters, held.since AS held_in_dead_letters_since"
            " FROM ingest.batches b CROSS JOIN LATERAL (SELECT count(*) AS messages, min(parked_at) AS since"
            f" FROM {PARKED_SCHEMA}.parked_messages WHERE message_key = $3) AS held"
            " WHERE b.batch_id = $1 AND ($2::text IS NULL OR b.ao_id = $2)",
            batch_id,
            ao_id,
            parked_key(batch_id),
        )
        return row

    async def history(
        self,
        *,
        ao_id: str | None,
        limit: int,
        offset: int = 0,
        after: PagePosition | None = None,
        status: str | None = None,
        reference: str | None = None,
        submitted_with_key: str | None = None,
        submitted_by: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        ids: tuple[uuid.UUID, uuid.UUID] | None = None,
    ) -> BatchHistory:
        """A page of the batches, newest first (then by id, descending), of one AO (None: every AO), in one state
        if given: the `limit` after `after` (decision 0118), else after `offset` rows; how many there are in all,
        counted in the same statement (one snapshot: a batch stored meanwhile is in both or in neither); and where
        the next page starts, if another follows. An AO's statements name the AO and everyone's name none
        (`where_given`), each over its index in this order: one statement for both read every AO's batches for an
        AO's page once generic. An AO's state filters the rows its index walks (an AO's batches are thousands, not
        millions); every AO's list of one state (the operators' failed, refused or abandoned batches) and its count
        are read from `batches_history_by_status` (migration 0121), not from the whole table.

        `received_from` (at or after) and `received_to` (before) bound when they were received, over the same
        indexes; `ids` (the smallest and largest id, `id_range`: the ids a prefix of their text names) is a range of
        the primary key. The list, its count included, is of those only.

        `reference`: only the batches whose header gave that BatchReference, exactly. An AO's are filtered as its
        index walks them, as a state is (no index of references: an AO's batches are thousands); every AO's batches
        of one reference (an operator's rare look) are counted over the whole table.

        `submitted_with_key`: only the batches that API key sent (after a key leaked: what it sent), read from
        `batches_by_key` (migration 0125) for every AO's; `submitted_by`: only those that principal sent."""
        filters = {
            "ao_id": ao_id,
            "status": status,
            "batch_reference": reference,
            "submitted_with_key": submitted_with_key,
            "submitted_by": submitted_by,
        }
        position: list[object] = []
        beyond: list[str] = []
        if after is not None:
            # newest first, then by id descending, as the indexes hold them; the time alone starts the index scan
            beyond = ["received_at <= $1", "(received_at < $1 OR batch_id < $2)"]
            position = [after.at, after.id]
        bounds = [
            (condition, value)
            for condition, value in (
                ("received_at >= ${}", received_from),
                ("received_at < ${}", received_to),
                ("batch_id >= ${}", None if ids is None else ids[0]),
                ("batch_id <= ${}", None if ids is None else ids[1]),
            )
            if value is not None
        ]
        bounded = [condition.format(number) for number, (condition, _) in enumerate(bounds, start=len(position) + 1)]
        first = len(position) + len(bounds) + 1
        page_where, values = where_given(filters, also=[*beyond, *bounded], first=first)
        count_where, _ = where_given(filters, also=bounded, first=first)
        arguments = [*position, *(value for _, value in bounds), *values]
        rows = await self._pool.fetch(
            f"SELECT listed.batches_listed, page.* FROM (SELECT count(*) AS batches_listed FROM ingest.batches"
            f"{count_where}) AS listed LEFT JOIN LATERAL (SELECT * FROM ingest.batches{page_where}"
            f" ORDER BY received_at DESC, batch_id DESC LIMIT ${len(arguments) + 1}"
            f" OFFSET ${len(arguments) + 2}) AS page ON true"
            " ORDER BY page.received_at DESC, page.batch_id DESC",
            *arguments,
            limit + 1,
            offset,
        )
        found = [row for row in rows if row["batch_id"] is not None]
        shown, next_page = split_page(found, limit, _history_position)
        return BatchHistory(shown, int(rows[0]["batches_listed"]), next_page)

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the batch's record outcomes of `status` (None: all), with a finding of `code` if given, in
        line order, and how many there are: the chunks' summaries say which chunks hold the page, and only those
        are read (both in one snapshot: a chunk upserted or deleted in between is not half seen). Records of a
        code are looked for in the chunks whose codes (`batch_record_chunks.codes`) name it."""
        read = await self._read(batch_id, status=status, limit=limit, offset=offset, code=code, codes=False)
        return read.rows, read.total

    async def records_and_codes(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> RecordsRead:
        """`records`, and in the same snapshot the codes of the findings of all the batch's records, whatever the
        filters: from the chunks' rows, without reading their outcomes (but for chunks stored before the codes
        were kept, migration 0121, or a batch two of whose chunks hold the same line)."""
        return await self._read(batch_id, status=status, limit=limit, offset=offset, code=code, codes=True)

    async def _read(
        self,
        batch_id: uuid.UUID,
        *,
        status: str | None,
        limit: int | None,
        offset: int,
        code: str | None,
        codes: bool,
    ) -> RecordsRead:
        async with (
            self._pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            summaries = [
                StoredChunk(*row)
                for row in await connection.fetch(
                    "SELECT chunk_index, first_line, last_line, accepted, rejected, no_ops, applied, codes"
                    " FROM ingest.batch_record_chunks WHERE batch_id = $1",
                    batch_id,
                )
            ]
            plan = page_plan(summaries, status, limit, offset, code)
            wanted = {chunk.chunk_index for chunk in plan.chunks}
            if codes:
                wanted.update(chunk.chunk_index for chunk in codes_to_read(summaries))
            documents = {}
            if wanted:
                documents = {
                    row["chunk_index"]: row["outcomes"]
                    for row in await connection.fetch(
                        "SELECT chunk_index, outcomes FROM ingest.batch_record_chunks"
                        " WHERE batch_id = $1 AND chunk_index = ANY($2::int[])",
                        batch_id,
                        sorted(wanted),
                    )
                }
        rows, total = page_of(batch_id, plan, documents, status, limit, offset, code)
        return RecordsRead(rows, total, batch_codes(summaries, documents) if codes else [])

    async def apply_outcomes(self, events: Sequence[ViewEvent]) -> None:
        """Stores outcome events in one transaction. Every statement is keyed by the event's natural key,
        so applying the same events again changes nothing: a chunk of record outcomes is one row, keyed
        by its batch and index, and the rows of all the events' chunks are copied in by one binary COPY (a
        COPY statement costs the server ~1 ms beside its rows: one per poll); when a chunk was stored
        before (a redelivery, the reconciler), the transaction rolls back and the events are stored
        again by upserts, in order. A chunk stored again is the chunk applied last (`applied`)."""
        try:
            await self._apply(events, copied=True)
        except asyncpg.UniqueViolationError:
            await self._apply(events, copied=False)

    async def _apply(self, events: Sequence[ViewEvent], *, copied: bool) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            forgotten = {
                row["batch_id"]
                for row in await connection.fetch(
                    "SELECT batch_id FROM ingest.forgotten_batches WHERE batch_id = ANY($1::uuid[])",
                    list({event.batch_id for event in events}),
                )
            }
            if forgotten:  # a Sandpit reset forgot them: an outcome delivered again brings back none of them
                events = [event for event in events if event.batch_id not in forgotten]
            for event in events:
                match event:
                    case BatchValidationStarted():
                        await connection.execute(
                            "UPDATE ingest.batches SET status = 'validating'"
                            " WHERE batch_id = $1 AND status IN ('received', 'accepted')",
                            event.batch_id,
                        )
                    case DecidedChunk():
                        if event.unstorable != ((), ()):
                            # PostgreSQL refuses them as it refused them in the columns they were stored in
                            await connection.execute("SELECT $1::text[], $2::jsonb[]", *event.unstorable)
                        if event.first_line is not None and not copied:
                            await _upsert_chunk(connection, event)
                    case BatchCompleted():
                        await _upsert_decision(connection, event, BatchStatus.COMPLETED, None, None)
                    case BatchFailed():
                        await _upsert_decision(connection, event, BatchStatus.FAILED, event.code, event.reason)
                    case BatchAbandoned():
                        await _abandon(connection, event)
            if copied:
                await _copy_chunks(connection, [event for event in events if isinstance(event, DecidedChunk)])


_CHUNK_COLUMNS = (
    "batch_id",
    "chunk_index",
    "first_line",
    "last_line",
    "accepted",
    "rejected",
    "no_ops",
    "outcomes",
    "codes",
)


def _chunk_row(chunk: DecidedChunk) -> tuple[Any, ...]:
    """A chunk's row: its summary, its outcomes, and the codes of their findings (`codes_in`), so that a batch's codes
    are told without reading its outcomes."""
    return (
        chunk.batch_id,
        chunk.chunk_index,
        chunk.first_line,
        chunk.last_line,
        chunk.accepted,
        chunk.rejected,
        chunk.no_ops,
        chunk.outcomes,
        codes_in(chunk.outcomes),
    )


async def _copy_chunks(connection: asyncpg.Connection, chunks: Sequence[DecidedChunk]) -> None:
    rows = [_chunk_row(chunk) for chunk in chunks if chunk.first_line is not None]
    if rows:
        await connection.copy_records_to_table(
            "batch_record_chunks", schema_name=SCHEMA, columns=_CHUNK_COLUMNS, records=rows
        )


async def _upsert_chunk(connection: asyncpg.Connection, chunk: DecidedChunk) -> None:
    await connection.execute(
        "INSERT INTO ingest.batch_record_chunks"
        " (batch_id, chunk_index, first_line, last_line, accepted, rejected, no_ops, outcomes, codes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (batch_id, chunk_index) DO UPDATE SET first_line = EXCLUDED.first_line,"
        " last_line = EXCLUDED.last_line, accepted = EXCLUDED.accepted, rejected = EXCLUDED.rejected,"
        " no_ops = EXCLUDED.no_ops, applied = EXCLUDED.applied, outcomes = EXCLUDED.outcomes, codes = EXCLUDED.codes",
        *_chunk_row(chunk),
    )


async def _upsert_decision(
    connection: asyncpg.Connection,
    event: BatchCompleted | BatchFailed,
    status: BatchStatus,
    failure_code: str | None,
    failure_reason: str | None,
) -> None:
    # A batch ingest never stored (its row lost with a restored database) still shows, from its outcome. A batch
    # decided stays decided as it was: a batch is decided once (decision 0002) and an abandoned one never is
    # (0103), so only the same decision again (delivered again, or a corrected copy of it) is stored over it.
    # A failed batch recorded nothing, so its content no longer names it: the same file sent again is judged
    # again. Under an Idempotency-Key it keeps answering that key, as HTTP idempotency says (decision 0185).
    counts = event.counts
    issued = results_issued_on(event.results_issued_date) if isinstance(event, BatchCompleted) else None
    stored = await connection.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, job_type, batch_reference, failure_code,"
        " failure_reason, total, accepted, rejected, no_ops, warnings, received_at, decided_at, results_issued_date)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        " ON CONFLICT (batch_id) DO UPDATE SET status = EXCLUDED.status,"
        " failure_code = EXCLUDED.failure_code, failure_reason = EXCLUDED.failure_reason,"
        " total = EXCLUDED.total, accepted = EXCLUDED.accepted, rejected = EXCLUDED.rejected,"
        " no_ops = EXCLUDED.no_ops, warnings = EXCLUDED.warnings, decided_at = EXCLUDED.decided_at,"
        " dedup_key = CASE WHEN EXCLUDED.status = 'failed' AND ingest.batches.idempotency_key IS NULL THEN NULL"
        " ELSE ingest.batches.dedup_key END,"
        " job_type = COALESCE(ingest.batches.job_type, EXCLUDED.job_type),"
        " batch_reference = COALESCE(ingest.batches.batch_reference, EXCLUDED.batch_reference),"
        " results_issued_date = COALESCE(ingest.batches.results_issued_date, EXCLUDED.results_issued_date),"
        " updated_at = now()"
        " WHERE ingest.batches.status IN ('received', 'accepted', 'validating')"
        " OR ingest.batches.status = EXCLUDED.status",
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
        issued,
    )
    if stored == "INSERT 0 0":
        _log.warning("batch_decision_kept", batch_id=str(event.batch_id), outcome_ignored=status.value)


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
