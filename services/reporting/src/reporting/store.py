"""PostgreSQL: batch facts (decided or abandoned), rejection codes, PLR log writes and challenges, idempotent by their keys.

Ranges of periods are inclusive `yyyy-mm` strings, which sort as the months do.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from lrs_contracts.challenge import ChallengeResolution
from lrs_contracts.reporting import (
    AoMonthlyChallenges,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
)
from lrs_platform.database import advisory_locked
from lrs_platform.parking import ParkedMessages
from reporting.aggregates import (
    UNKNOWN_TYPE,
    BatchFact,
    CodeTally,
    Measured,
    MonthTally,
    challenges_of,
    periods_span,
    plr_timeliness_of,
    rejections_of,
    submissions_of,
    timeliness_of,
)
from reporting.working_days import COUNTED_YEARS, TARGET_WORKING_DAYS, weekday_bank_holidays

_CHALLENGE_PERIOD = "to_char(raised_at AT TIME ZONE 'Europe/London', 'YYYY-MM')"

# Every report adds its months up in SQL, one row per AO and month (or per AO, month and code, qualification type or
# resolution), so its memory follows its answer: fetching a range's rows to fold them held every batch of up to 36
# months of every AO at once (600 MB for 400,000). The `fold_*` functions of tests/support/reporting_folds.py say what the sums are.
# Each batch's codes and PLR writes are read beside it (LATERAL), so each is found in the index of its batch
# (migration 0004): joined to the facts of the months instead, the planner hashed every batch's rows ever recorded.
_BATCH_MONTHS = f"""
WITH facts AS (
    SELECT batch_id, ao_id, period, completed, abandoned, records_total, records_accepted, records_rejected,
        records_unchanged, failure_code, working_days
    FROM reporting.batch_facts WHERE period BETWEEN $1 AND $2 AND ($3::text IS NULL OR ao_id = $3)
), months AS (
    SELECT ao_id, period,
        count(*) FILTER (WHERE completed) AS batches_completed,
        count(*) FILTER (WHERE NOT completed AND NOT abandoned) AS batches_failed,
        count(*) FILTER (WHERE abandoned) AS batches_abandoned,
        sum(records_total) AS records_total,
        sum(records_accepted) AS records_accepted,
        sum(records_rejected) AS records_rejected,
        sum(records_unchanged) AS records_unchanged,
        count(working_days) AS batches_measured,
        count(*) FILTER (WHERE working_days <= {TARGET_WORKING_DAYS}) AS batches_within_target,
        coalesce(max(working_days), 0) AS worst_working_days
    FROM facts GROUP BY ao_id, period
), codes AS (
    SELECT f.ao_id, f.period, c.code,
        count(*) AS batches,
        coalesce(sum(c.chunk_records), 0) AS chunk_records,
        count(*) FILTER (WHERE c.failed) AS failed_batches,
        coalesce(sum(f.records_total) FILTER (WHERE c.failed), 0) AS failed_records
    FROM facts f CROSS JOIN LATERAL (
        -- one row per code of the batch: its chunks' rejected records, and whether it failed with it
        SELECT code, sum(chunk_records) AS chunk_records, bool_or(failed) AS failed FROM (
            SELECT r.code, r.records AS chunk_records, false AS failed
            FROM reporting.rejection_codes r WHERE r.batch_id = f.batch_id
            UNION ALL
            SELECT f.failure_code, NULL, true WHERE f.failure_code <> ''
        ) AS batch_codes GROUP BY code
    ) AS c
    GROUP BY f.ao_id, f.period, c.code
)
SELECT m.*, coalesce(c.codes, '{{}}') AS codes, coalesce(c.batches, '{{}}') AS code_batches,
    coalesce(c.chunk_records, '{{}}') AS code_chunk_records, coalesce(c.failed_batches, '{{}}') AS code_failed_batches,
    coalesce(c.failed_records, '{{}}') AS code_failed_records
FROM months m LEFT JOIN (
    SELECT ao_id, period, array_agg(code) AS codes, array_agg(batches) AS batches,
        array_agg(chunk_records) AS chunk_records, array_agg(failed_batches) AS failed_batches,
        array_agg(failed_records) AS failed_records
    FROM codes GROUP BY ao_id, period
) AS c USING (ao_id, period)
"""


def _working_days(issued: str, on: str, span: int) -> str:
    """SQL for `working_days_between` of two date expressions: weekdays counted from their ordinals, less the
    weekday bank holidays between them. Parameters `$span`, `$span + 1` and `$span + 2` are the first and last days
    of some years and those years' weekday bank holidays, in order (width_bucket counts those up to a day, by binary
    search); a count of days outside them is NULL, and so is one of a NULL day."""
    first, last, holidays = span, span + 1, span + 2

    def weekdays_to(day: str) -> str:
        return f"(({day} - date '0001-01-01' + 1) / 7 * 5 + least(({day} - date '0001-01-01' + 1) % 7, 5))"

    return (
        f"CASE WHEN {on} <= {issued} THEN 0"
        f" WHEN {issued} >= ${first}::date AND {on} <= ${last}::date THEN {weekdays_to(on)} - {weekdays_to(issued)}"
        f" - (width_bucket({on}, ${holidays}::date[]) - width_bucket({issued}, ${holidays}::date[])) END"
    )


def _counted_years(first_year: int, last_year: int) -> tuple[date, date, tuple[date, ...]]:
    """The parameters of `_working_days` for the years `first_year` to `last_year`."""
    return date(first_year, 1, 1), date(last_year, 12, 31), weekday_bank_holidays(first_year, last_year)


def _years_uncounted(rows: Sequence[asyncpg.Record]) -> tuple[int, int] | None:
    """None when every row's days were counted (`counted`); else years that hold every day of the rows not counted,
    and `COUNTED_YEARS`, to count them in again."""
    uncounted = [row for row in rows if not row["counted"]]
    if not uncounted:
        return None
    return (
        min(COUNTED_YEARS[0], *(row["first_day"].year for row in uncounted)),
        max(COUNTED_YEARS[1], *(row["last_day"].year for row in uncounted)),
    )


_MEASURED = f"""count(*) FILTER (WHERE days <= {TARGET_WORKING_DAYS}) AS within_target,
    coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY days), 0) AS median, coalesce(max(days), 0) AS worst"""
"""Of rows' working days `days`, those within target, the median (`median_low`: percentile_disc takes the
ceil(n / 2)th of n) and the most, 0 when none (NULLs are not days)."""

# Per AO and month (its batches with results issued, measured at the day they were on the PLR: their latest write plus
# the lag bound, UK time), once overall (a NULL type) and once per qualification type the batches carried.
_PLR_TIMELINESS = f"""
WITH writes AS (
    SELECT f.ao_id, f.period, f.batch_id, f.results_issued AS issued, w.qualification_type,
        ((w.last_written_at + $4::bigint * interval '1 microsecond') AT TIME ZONE 'Europe/London')::date AS on_plr
    FROM reporting.batch_facts f CROSS JOIN LATERAL (
        SELECT coalesce(nullif(t.qualification_type, ''), '{UNKNOWN_TYPE}') AS qualification_type,
            max(w.last_written_at) AS last_written_at
        FROM reporting.plr_writes w LEFT JOIN reporting.qualification_types t USING (qualification_number)
        WHERE w.batch_id = f.batch_id GROUP BY 1
    ) AS w
    WHERE f.completed AND f.results_issued IS NOT NULL AND f.period BETWEEN $1 AND $2
        AND ($3::text IS NULL OR f.ao_id = $3)
), measured AS (
    SELECT ao_id, period, qualification_type, issued, on_plr FROM writes
    UNION ALL
    SELECT ao_id, period, NULL, issued, max(on_plr) FROM writes GROUP BY ao_id, period, batch_id, issued
)
SELECT ao_id, period, qualification_type, count(*) AS batches, {_MEASURED},
    bool_and(days IS NOT NULL) AS counted, min(issued) AS first_day, max(on_plr) AS last_day
FROM (SELECT *, {_working_days("issued", "on_plr", 5)} AS days FROM measured) AS each
GROUP BY ao_id, period, qualification_type
"""

# Per AO and month of raising (`whole_month`), and per AO, month and resolution (NULL: not resolved): the challenges
# and those acknowledged or answered (resolved other than by withdrawal), those of them the service desk acknowledged
# (or answered unacknowledged) and answered for the AO, and the working days from raised to resolved (UK days) of those
# the AO answered itself: one the learner withdrew has no `resolved_on` (decision 0194), so it counts among the
# resolutions but not in the days, nor as acknowledged unless it had been acknowledged before; nor has one the desk
# answered (`resolved_by_desk`; NULL, not known, counts as the AO's, migration 0008).
_CHALLENGES = f"""
SELECT ao_id, period, resolution, GROUPING(resolution) = 1 AS whole_month, count(*) AS raised,
    count(*) FILTER (WHERE acknowledged_at IS NOT NULL OR answered) AS acknowledged,
    count(*) FILTER (WHERE CASE WHEN acknowledged_at IS NOT NULL THEN acknowledged_by_desk IS TRUE ELSE desk_answered END)
        AS acknowledged_by_service_desk,
    count(*) FILTER (WHERE desk_answered) AS resolved_by_service_desk, {_MEASURED},
    bool_and(days IS NOT NULL OR resolved_on IS NULL) AS counted, min(raised_on) AS first_day,
    max(resolved_on) AS last_day
FROM (
    SELECT *, {_working_days("raised_on", "resolved_on", 4)} AS days FROM (
        SELECT ao_id, acknowledged_at, resolved_at, acknowledged_by_desk, {_CHALLENGE_PERIOD} AS period,
            (raised_at AT TIME ZONE 'Europe/London')::date AS raised_on,
            (resolved_at IS NOT NULL AND resolution IS DISTINCT FROM '{ChallengeResolution.WITHDRAWN.value}')
                AS answered,
            (resolved_at IS NOT NULL AND resolution IS DISTINCT FROM '{ChallengeResolution.WITHDRAWN.value}'
                AND resolved_by_desk IS TRUE) AS desk_answered,
            CASE WHEN resolution IS DISTINCT FROM '{ChallengeResolution.WITHDRAWN.value}'
                AND resolved_by_desk IS NOT TRUE
                THEN (resolved_at AT TIME ZONE 'Europe/London')::date END AS resolved_on,
            CASE WHEN resolved_at IS NOT NULL THEN coalesce(nullif(resolution, ''), '{UNKNOWN_TYPE}') END AS resolution
        FROM reporting.challenges WHERE raised_at >= $1 AND raised_at < $2 AND ($3::text IS NULL OR ao_id = $3)
    ) AS raised
) AS each GROUP BY GROUPING SETS ((ao_id, period), (ao_id, period, resolution))
"""


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
    # whether the LRS service desk (an operator's `causation_id`) acknowledged it, resolved it, rather than the AO
    # (or, resolving, its learner): None when the event says neither
    acknowledged_by_desk: bool | None = None
    resolved_by_desk: bool | None = None


@dataclass(frozen=True)
class Held:
    """Messages reporting's consumers parked (each poison, and the messages of its key held behind it), which no figure
    counts until an operator retries or skips them: how many, and when the first of them was parked."""

    messages: int
    since: datetime


def _month_tally(row: asyncpg.Record) -> tuple[MonthTally, list[CodeTally]]:
    month = MonthTally(*(row[field] for field in MonthTally.__dataclass_fields__))
    codes = [
        CodeTally(*code)
        for code in zip(
            row["codes"],
            row["code_batches"],
            row["code_chunk_records"],
            row["code_failed_batches"],
            row["code_failed_records"],
            strict=True,
        )
    ]
    return month, codes


class ReportingStore:
    def __init__(self, pool: asyncpg.Pool, *, dead_letters: ParkedMessages | None = None) -> None:
        """`dead_letters`: where reporting's consumers park what they cannot apply, on the same database (None: a
        store read for its figures alone, which says nothing of parked messages)."""
        self._pool = pool
        self._parked = f'"{dead_letters.schema}".parked_messages' if dead_letters is not None else None
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
        self, period: str, ao_id: str | None = None, *, last: str | None = None
    ) -> list[tuple[AoMonthlySubmissions, AoMonthlyTimeliness]]:
        """The submissions and timeliness of `period`, or of each month from `period` to `last`, per AO and month in
        that order: one statement for the whole range (a month with no batch is not there)."""
        return [
            (submissions_of(ao, month, tally, codes), timeliness_of(ao, month, tally))
            for (ao, month), (tally, codes) in sorted((await self._batch_months(period, last or period, ao_id)).items())
        ]

    async def month(
        self, period: str, ao_id: str
    ) -> tuple[AoMonthlySubmissions, AoMonthlyTimeliness, AoMonthlyRejections] | None:
        """The AO's month in the three reports read from its batches, read once; None before any."""
        found = (await self._batch_months(period, period, ao_id)).get((ao_id, period))
        if found is None:
            return None
        tally, codes = found
        return (
            submissions_of(ao_id, period, tally, codes),
            timeliness_of(ao_id, period, tally),
            rejections_of(ao_id, period, tally, codes),
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
        arguments = (first, last, ao_id, lag_bound // timedelta(microseconds=1))
        rows = await self._pool.fetch(_PLR_TIMELINESS, *arguments, *_counted_years(*COUNTED_YEARS))
        if years := _years_uncounted(rows):
            rows = await self._pool.fetch(_PLR_TIMELINESS, *arguments, *_counted_years(*years))
        overall: dict[tuple[str, str], Measured] = {}
        by_type: defaultdict[tuple[str, str], dict[str, Measured]] = defaultdict(dict)
        for row in rows:
            measured = Measured(row["batches"], row["within_target"], row["median"], row["worst"])
            if row["qualification_type"] is None:
                overall[(row["ao_id"], row["period"])] = measured
            else:
                by_type[(row["ao_id"], row["period"])][row["qualification_type"]] = measured
        return [
            plr_timeliness_of(ao, period, measured, by_type[(ao, period)], lag_bound)
            for (ao, period), measured in sorted(overall.items())
        ]

    async def rejections(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyRejections]:
        return [
            rejections_of(ao, period, tally, codes)
            for (ao, period), (tally, codes) in sorted((await self._batch_months(first, last, ao_id)).items())
        ]

    async def _batch_months(
        self, first: str, last: str, ao_id: str | None
    ) -> dict[tuple[str, str], tuple[MonthTally, list[CodeTally]]]:
        """The batch facts of the months from `first` to `last` (of one AO, or every AO) and their batches'
        rejection codes, added up by (AO, period): a month with no batch is not there."""
        rows = await self._pool.fetch(_BATCH_MONTHS, first, last, ao_id)
        return {(row["ao_id"], row["period"]): _month_tally(row) for row in rows}

    async def held_in_dead_letters(self, topics: Collection[str]) -> Held | None:
        """The messages of `topics` that reporting's consumers parked and hold (`Held`), whatever their AO or month:
        a poison may not say either. None when none is. One count of the parked rows, which are few (a poison and its
        key's later messages), not of the figures."""
        if self._parked is None:
            return None
        row = await self._pool.fetchrow(
            f"SELECT count(*) AS messages, min(parked_at) AS since FROM {self._parked} WHERE topic = ANY($1::text[])",
            list(topics),
        )
        assert row is not None  # an aggregate without GROUP BY answers one row
        return Held(row["messages"], row["since"]) if row["messages"] else None

    async def has_begun(self) -> bool:
        """Whether this store began reading the topics from their beginnings (`begin_reading`): not a new
        installation, nor a store dropped to be rebuilt, though it may hold nothing yet."""
        return bool(await self._pool.fetchval("SELECT EXISTS (SELECT FROM reporting.store_began)"))

    async def catching_up(self) -> dict[tuple[str, int], int]:
        """The end offsets a catch-up under way reads to, by (topic, partition); none when none is."""
        rows = await self._pool.fetch("SELECT topic, partition, end_offset FROM reporting.catching_up")
        return {(row["topic"], row["partition"]): row["end_offset"] for row in rows}

    async def begin_reading(self, ends: dict[tuple[str, int], int]) -> None:
        """Notes that the store began reading the topics from their beginnings, and the ends a catch-up reads to
        (none: nothing to catch up), in one transaction: a start cut short between them would otherwise publish
        as it comes from a store still reading its history."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.executemany(
                "INSERT INTO reporting.catching_up (topic, partition, end_offset) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                [(topic, partition, end) for (topic, partition), end in ends.items()],
            )
            await connection.execute("INSERT INTO reporting.store_began DEFAULT VALUES ON CONFLICT DO NOTHING")

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
            "INSERT INTO reporting.challenges (challenge_id, ao_id, raised_at, acknowledged_at, resolved_at, resolution,"
            " acknowledged_by_desk, resolved_by_desk)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (challenge_id) DO UPDATE SET"
            " raised_at = coalesce(challenges.raised_at, excluded.raised_at),"
            " acknowledged_at = coalesce(challenges.acknowledged_at, excluded.acknowledged_at),"
            " resolved_at = coalesce(challenges.resolved_at, excluded.resolved_at),"
            " resolution = coalesce(challenges.resolution, excluded.resolution),"
            " acknowledged_by_desk = coalesce(challenges.acknowledged_by_desk, excluded.acknowledged_by_desk),"
            " resolved_by_desk = coalesce(challenges.resolved_by_desk, excluded.resolved_by_desk)"
            f" RETURNING ao_id, raised_at, {_CHALLENGE_PERIOD} AS period",
            change.challenge_id,
            change.ao_id,
            change.raised_at,
            change.acknowledged_at,
            change.resolved_at,
            change.resolution,
            change.acknowledged_by_desk,
            change.resolved_by_desk,
        )
        assert row is not None
        return None if row["raised_at"] is None else (row["ao_id"], row["period"])

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyChallenges]:
        # the months as a range of raising times, which the index of raising times finds (migration 0004)
        start, end = periods_span(first, last)
        rows = await self._pool.fetch(_CHALLENGES, start, end, ao_id, *_counted_years(*COUNTED_YEARS))
        if years := _years_uncounted(rows):
            rows = await self._pool.fetch(_CHALLENGES, start, end, ao_id, *_counted_years(*years))
        months: dict[tuple[str, str], asyncpg.Record] = {}
        resolutions: defaultdict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for row in rows:
            if row["whole_month"]:
                months[(row["ao_id"], row["period"])] = row
            elif row["resolution"] is not None:
                resolutions[(row["ao_id"], row["period"])][row["resolution"]] = row["raised"]
        return [
            challenges_of(
                ao,
                period,
                row["raised"],
                row["acknowledged"],
                resolutions[(ao, period)],
                row["median"],
                row["worst"],
                acknowledged_by_service_desk=row["acknowledged_by_service_desk"],
                resolved_by_service_desk=row["resolved_by_service_desk"],
            )
            for (ao, period), row in sorted(months.items())
        ]
