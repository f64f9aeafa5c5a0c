"""PostgreSQL: batch facts (decided or abandoned), rejection codes, PLR log writes and challenges, idempotent by their keys.

Ranges of periods are inclusive `yyyy-mm` strings, which sort as the months do.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg

from lrs_contracts.reporting import (
    AoMonthlyChallenges,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
)
from lrs_platform.database import advisory_locked
from reporting.aggregates import (
    BatchFact,
    ChallengeFact,
    ChunkCodes,
    PlrWrite,
    fold_challenges,
    fold_plr_timeliness,
    fold_rejections,
    fold_submissions,
    fold_timeliness,
    periods_span,
)

_CHALLENGE_PERIOD = "to_char(raised_at AT TIME ZONE 'Europe/London', 'YYYY-MM')"

Item = TypeVar("Item")


@dataclass(frozen=True)
class PlrLogWrite:
    """The latest broker time of one batch's events of one qualification on the PLR log."""

    batch_id: uuid.UUID
    qualification_number: str
    ao_id: str
    written_at: datetime


@dataclass(frozen=True)
class ChallengeChange:
    """What one challenge event says; None columns are left as they are."""

    challenge_id: uuid.UUID
    ao_id: str
    raised_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None


def _fact(row: asyncpg.Record) -> BatchFact:
    return BatchFact(
        batch_id=row["batch_id"],
        ao_id=row["ao_id"],
        period=row["period"],
        completed=row["completed"],
        records_total=row["records_total"],
        records_accepted=row["records_accepted"],
        records_rejected=row["records_rejected"],
        failure_code=row["failure_code"],
        working_days=row["working_days"],
        results_issued=row["results_issued"],
        abandoned=row["abandoned"],
        records_unchanged=row["records_unchanged"],
    )


def _by_month(
    rows: Iterable[asyncpg.Record], item: Callable[[asyncpg.Record], Item]
) -> defaultdict[tuple[str, str], list[Item]]:
    """Rows' items grouped by (AO, period), in the rows' order; a month with no rows reads as no items."""
    grouped: defaultdict[tuple[str, str], list[Item]] = defaultdict(list)
    for row in rows:
        grouped[(row["ao_id"], row["period"])].append(item(row))
    return grouped


class ReportingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._stored_types: set[str] = set()
        """Qualifications whose type this process has stored: the first stored stays, so they are not sent again."""

    def month_locked(self, key: bytes) -> AbstractAsyncContextManager[None]:
        """Holds one AO's month (its aggregate key) across every replica while its aggregates are read and sent."""
        return advisory_locked(self._pool, f"reporting-month:{key.decode()}")

    @property
    def stored_types(self) -> AbstractSet[str]:
        """The qualifications whose type this process has stored (a live view)."""
        return self._stored_types

    async def record_fact(self, fact: BatchFact) -> bool:
        """True when the fact is new; a redelivered outcome returns False and changes nothing."""
        result = await self._pool.execute(
            "INSERT INTO reporting.batch_facts (batch_id, ao_id, period, completed, records_total,"
            " records_accepted, records_rejected, failure_code, working_days, results_issued, abandoned,"
            " records_unchanged) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (batch_id) DO NOTHING",
            fact.batch_id,
            fact.ao_id,
            fact.period,
            fact.completed,
            fact.records_total,
            fact.records_accepted,
            fact.records_rejected,
            fact.failure_code,
            fact.working_days,
            fact.results_issued,
            fact.abandoned,
            fact.records_unchanged,
        )
        return bool(result == "INSERT 0 1")

    async def record_chunk(self, batch_id: uuid.UUID, chunk_index: int, codes: dict[str, int]) -> None:
        """A chunk's rejected records per code; a redelivered chunk adds nothing."""
        if not codes:
            return
        await self._pool.execute(
            "INSERT INTO reporting.rejection_codes (batch_id, chunk_index, code, records)"
            " SELECT $1, $2, code, records FROM unnest($3::text[], $4::int[]) AS c (code, records)"
            " ON CONFLICT DO NOTHING",
            batch_id,
            chunk_index,
            list(codes),
            list(codes.values()),
        )

    async def aggregates(
        self, period: str, ao_id: str | None = None
    ) -> list[tuple[AoMonthlySubmissions, AoMonthlyTimeliness]]:
        facts, codes = await self._months(period, period, ao_id)
        return [
            (
                fold_submissions(ao, period, month_facts, [(each.code, each.records) for each in codes[(ao, month)]]),
                fold_timeliness(ao, period, month_facts),
            )
            for (ao, month), month_facts in sorted(facts.items())
        ]

    async def month(
        self, period: str, ao_id: str
    ) -> tuple[AoMonthlySubmissions, AoMonthlyTimeliness, AoMonthlyRejections] | None:
        """The AO's month in the three reports read from its batches, each read once; None before any."""
        facts, codes = await self._months(period, period, ao_id)
        month_facts, month_codes = facts.get((ao_id, period)), codes[(ao_id, period)]
        if not month_facts:
            return None
        return (
            fold_submissions(ao_id, period, month_facts, [(each.code, each.records) for each in month_codes]),
            fold_timeliness(ao_id, period, month_facts),
            fold_rejections(ao_id, period, month_facts, month_codes),
        )

    async def record_plr_writes(self, writes: Sequence[PlrLogWrite], types: dict[str, str]) -> set[tuple[str, str]]:
        """Keeps the latest write per batch and qualification (one of `writes` each); answers the (AO,
        period) pairs to republish, those of the batches already decided (a batch decided later is
        republished by its outcome). One statement, so one transaction and one round trip."""
        new_types = sorted(qan for qan in types if qan not in self._stored_types)
        rows = await self._pool.fetch(
            "WITH types AS (INSERT INTO reporting.qualification_types (qualification_number, qualification_type)"
            " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING),"
            " writes AS (INSERT INTO reporting.plr_writes (batch_id, qualification_number, ao_id, last_written_at)"
            " SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[])"
            " ON CONFLICT (batch_id, qualification_number) DO UPDATE"
            " SET last_written_at = greatest(plr_writes.last_written_at, excluded.last_written_at))"
            " SELECT DISTINCT ao_id, period FROM reporting.batch_facts WHERE batch_id = ANY($3::uuid[])",
            new_types,
            [types[qan] for qan in new_types],
            [write.batch_id for write in writes],
            [write.qualification_number for write in writes],
            [write.ao_id for write in writes],
            [write.written_at for write in writes],
        )
        self._stored_types.update(new_types)
        return {(row["ao_id"], row["period"]) for row in rows}

    async def plr_timeliness(
        self, first: str, last: str, ao_id: str | None, lag_bound: timedelta
    ) -> list[AoMonthlyPlrTimeliness]:
        facts = {
            row["batch_id"]: row
            for row in await self._pool.fetch(
                "SELECT batch_id, ao_id, period, results_issued FROM reporting.batch_facts"
                " WHERE completed AND results_issued IS NOT NULL AND period BETWEEN $1 AND $2"
                " AND ($3::text IS NULL OR ao_id = $3)",
                first,
                last,
                ao_id,
            )
        }
        # the months' batches by their ids, each found in the index of its writes (see `_rejection_codes`)
        rows = await self._pool.fetch(
            "SELECT w.batch_id, t.qualification_type, max(w.last_written_at) AS last_written_at"
            " FROM reporting.plr_writes w LEFT JOIN reporting.qualification_types t USING (qualification_number)"
            " WHERE w.batch_id = ANY($1::uuid[]) GROUP BY w.batch_id, t.qualification_type",
            list(facts),
        )
        writes: defaultdict[tuple[str, str], list[PlrWrite]] = defaultdict(list)
        for row in rows:
            fact = facts[row["batch_id"]]
            writes[(fact["ao_id"], fact["period"])].append(
                PlrWrite(row["batch_id"], fact["results_issued"], row["qualification_type"], row["last_written_at"])
            )
        return [
            fold_plr_timeliness(ao, period, ao_writes, lag_bound) for (ao, period), ao_writes in sorted(writes.items())
        ]

    async def rejections(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyRejections]:
        facts, codes = await self._months(first, last, ao_id)
        return [
            fold_rejections(ao, period, month_facts, codes[(ao, period)])
            for (ao, period), month_facts in sorted(facts.items())
        ]

    async def _months(
        self, first: str, last: str, ao_id: str | None
    ) -> tuple[dict[tuple[str, str], list[BatchFact]], defaultdict[tuple[str, str], list[ChunkCodes]]]:
        """The batch facts of the months from `first` to `last` (of one AO, or every AO), and their
        batches' rejection codes, by (AO, period)."""
        facts = await self._pool.fetch(
            "SELECT * FROM reporting.batch_facts WHERE period BETWEEN $1 AND $2 AND ($3::text IS NULL OR ao_id = $3)"
            " ORDER BY ao_id, period, batch_id",
            first,
            last,
            ao_id,
        )
        month_of = {row["batch_id"]: (row["ao_id"], row["period"]) for row in facts}
        codes: defaultdict[tuple[str, str], list[ChunkCodes]] = defaultdict(list)
        for row in await self._rejection_codes(month_of):
            codes[month_of[row["batch_id"]]].append(ChunkCodes(row["batch_id"], row["code"], row["records"]))
        return dict(_by_month(facts, _fact)), codes

    async def _rejection_codes(self, batch_ids: Iterable[uuid.UUID]) -> list[asyncpg.Record]:
        """Each batch's rejected records per code (its chunks added up). The batches are named by id, so
        each is found in the index of its codes (migration 0004): joined to the facts of its month
        instead, the planner hashed every batch's codes ever recorded."""
        rows: list[asyncpg.Record] = await self._pool.fetch(
            "SELECT batch_id, code, sum(records)::int AS records FROM reporting.rejection_codes"
            " WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id, code",
            list(batch_ids),
        )
        return rows

    async def is_empty(self) -> bool:
        """Whether nothing was ever recorded: a new installation, or a store dropped to be rebuilt."""
        return bool(
            await self._pool.fetchval(
                "SELECT NOT EXISTS (SELECT FROM reporting.batch_facts) AND NOT EXISTS (SELECT FROM reporting.challenges)"
                " AND NOT EXISTS (SELECT FROM reporting.rejection_codes) AND NOT EXISTS (SELECT FROM reporting.plr_writes)"
            )
        )

    async def catching_up(self) -> dict[tuple[str, int], int]:
        """The end offsets a catch-up under way reads to, by (topic, partition); none when none is."""
        rows = await self._pool.fetch("SELECT topic, partition, end_offset FROM reporting.catching_up")
        return {(row["topic"], row["partition"]): row["end_offset"] for row in rows}

    async def begin_catching_up(self, ends: dict[tuple[str, int], int]) -> None:
        await self._pool.executemany(
            "INSERT INTO reporting.catching_up (topic, partition, end_offset) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            [(topic, partition, end) for (topic, partition), end in ends.items()],
        )

    async def caught_up(self) -> None:
        await self._pool.execute("DELETE FROM reporting.catching_up")

    async def months_held(self) -> list[tuple[str, str]]:
        """Every (AO, period) some batch or challenge counts in, in order."""
        rows = await self._pool.fetch(
            "SELECT ao_id, period FROM reporting.batch_facts UNION"
            f" SELECT ao_id, {_CHALLENGE_PERIOD} FROM reporting.challenges WHERE raised_at IS NOT NULL"
            " ORDER BY 1, 2"
        )
        return [(row[0], row[1]) for row in rows]

    async def record_challenge(self, change: ChallengeChange) -> tuple[str, str] | None:
        """Answers the challenge's (AO, period of raising), or None while its raising is not seen yet."""
        row = await self._pool.fetchrow(
            "INSERT INTO reporting.challenges (challenge_id, ao_id, raised_at, acknowledged_at, resolved_at, resolution)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (challenge_id) DO UPDATE SET"
            " raised_at = coalesce(challenges.raised_at, excluded.raised_at),"
            " acknowledged_at = coalesce(challenges.acknowledged_at, excluded.acknowledged_at),"
            " resolved_at = coalesce(challenges.resolved_at, excluded.resolved_at),"
            " resolution = coalesce(challenges.resolution, excluded.resolution)"
            f" RETURNING ao_id, raised_at, {_CHALLENGE_PERIOD} AS period",
            change.challenge_id,
            change.ao_id,
            change.raised_at,
            change.acknowledged_at,
            change.resolved_at,
            change.resolution,
        )
        assert row is not None
        return None if row["raised_at"] is None else (row["ao_id"], row["period"])

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyChallenges]:
        # the months as a range of raising times, which the index of raising times finds (migration 0004)
        start, end = periods_span(first, last)
        rows = await self._pool.fetch(
            f"SELECT *, {_CHALLENGE_PERIOD} AS period FROM reporting.challenges"
            " WHERE raised_at >= $1 AND raised_at < $2 AND ($3::text IS NULL OR ao_id = $3)",
            start,
            end,
            ao_id,
        )
        by_month = _by_month(
            rows,
            lambda row: ChallengeFact(
                row["challenge_id"], row["raised_at"], row["acknowledged_at"], row["resolved_at"], row["resolution"]
            ),
        )
        return [fold_challenges(ao, period, month) for (ao, period), month in sorted(by_month.items())]
