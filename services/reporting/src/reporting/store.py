"""PostgreSQL: batch facts and rejection codes, idempotent by their keys."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from lrs_contracts.outcomes import BatchRecordsDecided
from lrs_contracts.reporting import AoMonthlySubmissions, AoMonthlyTimeliness
from reporting.aggregates import BatchFact, fold_submissions, fold_timeliness, rejection_codes_of


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
    )


class ReportingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_fact(self, fact: BatchFact) -> bool:
        """True when the fact is new; a redelivered outcome returns False and changes nothing."""
        result = await self._pool.execute(
            "INSERT INTO reporting.batch_facts (batch_id, ao_id, period, completed, records_total,"
            " records_accepted, records_rejected, failure_code, working_days)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (batch_id) DO NOTHING",
            fact.batch_id,
            fact.ao_id,
            fact.period,
            fact.completed,
            fact.records_total,
            fact.records_accepted,
            fact.records_rejected,
            fact.failure_code,
            fact.working_days,
        )
        return bool(result == "INSERT 0 1")

    async def record_chunk(self, chunk: BatchRecordsDecided) -> None:
        codes = rejection_codes_of(chunk)
        if not codes:
            return
        await self._pool.executemany(
            "INSERT INTO reporting.rejection_codes (batch_id, chunk_index, code, records) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            [(chunk.batch_id, chunk.chunk_index, code, records) for code, records in codes.items()],
        )

    async def aggregates(
        self, period: str, ao_id: str | None = None
    ) -> list[tuple[AoMonthlySubmissions, AoMonthlyTimeliness]]:
        facts = await self._pool.fetch(
            "SELECT * FROM reporting.batch_facts WHERE period = $1 AND ($2::text IS NULL OR ao_id = $2)"
            " ORDER BY ao_id, batch_id",
            period,
            ao_id,
        )
        codes = await self._pool.fetch(
            "SELECT f.ao_id, c.code, sum(c.records)::int AS records FROM reporting.rejection_codes c"
            " JOIN reporting.batch_facts f USING (batch_id)"
            " WHERE f.period = $1 AND ($2::text IS NULL OR f.ao_id = $2) GROUP BY f.ao_id, c.code",
            period,
            ao_id,
        )
        facts_by_ao: dict[str, list[BatchFact]] = defaultdict(list)
        for row in facts:
            facts_by_ao[row["ao_id"]].append(_fact(row))
        codes_by_ao: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for row in codes:
            codes_by_ao[row["ao_id"]].append((row["code"], row["records"]))
        return [
            (
                fold_submissions(ao, period, ao_facts, codes_by_ao[ao]),
                fold_timeliness(ao, period, ao_facts),
            )
            for ao, ao_facts in sorted(facts_by_ao.items())
        ]
