"""The reports add their months up in SQL (so a range's memory follows its answer, not its rows): the same
answers, to the byte, as folding every fact of the months in Python, on generated data against real PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from pydantic import BaseModel
from tests.support.reporting_folds import (
    ChallengeFact,
    ChunkCodes,
    PlrWrite,
    fold_challenges,
    fold_plr_timeliness,
    fold_rejections,
    fold_submissions,
    fold_timeliness,
)

from lrs_contracts.reporting import AoMonthlyChallenges, AoMonthlyPlrTimeliness, AoMonthlyRejections
from lrs_platform.database import apply_migrations
from reporting.aggregates import RESOLUTIONS, BatchFact, periods_span
from reporting.store import ReportingStore, _counted_years, _working_days
from reporting.working_days import working_days_between

pytestmark = pytest.mark.integration

LAG = timedelta(seconds=90)
# 2025-10 to 2026-04: both clock changes, a year's end; 2026-01 has no facts (challenges only), 2026-02 nothing
MONTHS = ("2025-10", "2025-11", "2025-12", "2026-03", "2026-04")
EMPTY_MONTHS = ("2026-01", "2026-02")
CODES = ("RV001", "RV004", "RV009", "RV017", "RS002")
FAILURES = ("RS002", "RS005", "RV004", "")  # a failure code also in chunks; '' names none
TYPES = ("GCSE", "A level", "")


def _instant(rng: random.Random, period: str) -> datetime:
    """A moment in `period` (UK time), often near its edges, where UTC and UK months differ."""
    start, end = periods_span(period, period)
    if rng.random() < 0.3:
        edge = rng.choice((start, end))
        return (edge + timedelta(minutes=rng.randint(-90, 90))).astimezone(UTC)
    return (start + (end - start) * rng.random()).astimezone(UTC)


async def _generate(connection: asyncpg.Connection, seed: int) -> list[str]:
    """Facts of several AOs and months (each outcome, codes over chunks, late writes), their PLR writes and
    challenges: the AOs."""
    rng = random.Random(seed)
    aos = [f"RN{seed}{n}" for n in range(4)]
    facts: list[tuple[object, ...]] = []
    codes: list[tuple[object, ...]] = []
    writes: list[tuple[object, ...]] = []
    challenges: list[tuple[object, ...]] = []
    for ao in aos:
        for period in rng.sample(MONTHS, rng.randint(2, len(MONTHS))):  # an AO's months have gaps
            for _ in range(rng.randint(1, 25)):
                batch_id = uuid.uuid4()
                outcome = rng.choice(("completed", "completed", "completed", "failed", "abandoned"))
                total = 0 if outcome == "abandoned" else rng.randint(1, 400)
                rejected = rng.randint(0, total)
                unchanged = rng.randint(0, total - rejected) if outcome == "completed" else 0
                accepted = total - rejected - unchanged if outcome == "completed" else 0
                issued = (
                    date(int(period[:4]), int(period[5:]), 1)
                    - timedelta(days=rng.choice((rng.randint(0, 15), rng.randint(0, 900))))
                    if outcome == "completed" and rng.random() < 0.8
                    else None
                )
                facts.append(
                    (
                        batch_id,
                        ao,
                        period,
                        outcome == "completed",
                        total,
                        accepted,
                        rejected,
                        rng.choice(FAILURES) if outcome == "failed" else None,
                        rng.randint(0, 30) if issued else None,
                        issued,
                        outcome == "abandoned",
                        unchanged,
                    )
                )
                if outcome != "abandoned":
                    for chunk in range(rng.randint(0, 3)):
                        for code in rng.sample(CODES, rng.randint(1, 3)):
                            codes.append((batch_id, chunk, code, rng.randint(0, 50)))
                if issued is not None:
                    for n in range(rng.randint(0, 4)):
                        decided = _instant(rng, period)
                        late = timedelta(hours=rng.choice((0, 1, 30, 24 * 20, 24 * 90)), minutes=rng.randint(0, 59))
                        writes.append((batch_id, f"{600000 + n:08d}", ao, decided + late))
        for _ in range(rng.randint(0, 30)):
            raised = _instant(rng, rng.choice(MONTHS + EMPTY_MONTHS[:1]))
            acknowledged = raised + timedelta(hours=rng.randint(1, 200)) if rng.random() < 0.6 else None
            resolved = raised + timedelta(hours=rng.randint(-5, 24 * 40)) if rng.random() < 0.6 else None
            resolution = rng.choice((*RESOLUTIONS, "", None)) if resolved else None
            challenges.append((uuid.uuid4(), ao, raised, acknowledged, resolved, resolution))
        # days the SQL does not count working days between (outside `COUNTED_YEARS`): Python does
        far_batch = uuid.uuid4()
        facts.append((far_batch, ao, MONTHS[0], True, 1, 1, 0, None, None, date(1899, 12, 20), False, 0))
        writes.append((far_batch, "00600000", ao, _instant(rng, MONTHS[0])))
        far = _instant(rng, MONTHS[1])
        challenges.append((uuid.uuid4(), ao, far, None, far.replace(year=2101), "upheld"))
        # a challenge not raised yet (only its later events seen) counts nowhere
        challenges.append((uuid.uuid4(), ao, None, None, _instant(rng, MONTHS[0]), "corrected"))
    await connection.executemany(
        "INSERT INTO reporting.batch_facts (batch_id, ao_id, period, completed, records_total, records_accepted,"
        " records_rejected, failure_code, working_days, results_issued, abandoned, records_unchanged)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        facts,
    )
    await connection.executemany("INSERT INTO reporting.rejection_codes VALUES ($1, $2, $3, $4)", codes)
    await connection.executemany(
        "INSERT INTO reporting.plr_writes VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", writes
    )
    await connection.executemany(
        "INSERT INTO reporting.qualification_types VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(f"{600000 + n:08d}", TYPES[n % len(TYPES)]) for n in range(3)],  # the fourth is not catalogued
    )
    await connection.executemany(
        "INSERT INTO reporting.challenges (challenge_id, ao_id, raised_at, acknowledged_at, resolved_at, resolution)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        challenges,
    )
    return aos


class Folded:
    """The reports as the store answered them before: every fact of the months fetched and folded in Python."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def _months(
        self, first: str, last: str, ao_id: str | None
    ) -> tuple[dict[tuple[str, str], list[BatchFact]], defaultdict[tuple[str, str], list[ChunkCodes]]]:
        rows = await self._connection.fetch(
            "SELECT * FROM reporting.batch_facts WHERE period BETWEEN $1 AND $2 AND ($3::text IS NULL OR ao_id = $3)"
            " ORDER BY ao_id, period, batch_id",
            first,
            last,
            ao_id,
        )
        facts: defaultdict[tuple[str, str], list[BatchFact]] = defaultdict(list)
        for row in rows:
            fields = {name: row[name] for name in BatchFact.__dataclass_fields__}
            facts[(row["ao_id"], row["period"])].append(BatchFact(**fields))
        month_of = {row["batch_id"]: (row["ao_id"], row["period"]) for row in rows}
        codes: defaultdict[tuple[str, str], list[ChunkCodes]] = defaultdict(list)
        for row in await self._connection.fetch(
            "SELECT batch_id, code, sum(records)::int AS records FROM reporting.rejection_codes"
            " WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id, code",
            list(month_of),
        ):
            codes[month_of[row["batch_id"]]].append(ChunkCodes(row["batch_id"], row["code"], row["records"]))
        return dict(facts), codes

    async def aggregates(self, period: str, ao_id: str | None) -> list[tuple[BaseModel, BaseModel]]:
        facts, codes = await self._months(period, period, ao_id)
        return [
            (
                fold_submissions(ao, period, month_facts, [(each.code, each.records) for each in codes[(ao, month)]]),
                fold_timeliness(ao, period, month_facts),
            )
            for (ao, month), month_facts in sorted(facts.items())
        ]

    async def month(self, period: str, ao_id: str) -> tuple[BaseModel, BaseModel, BaseModel] | None:
        facts, codes = await self._months(period, period, ao_id)
        month_facts, month_codes = facts.get((ao_id, period)), codes[(ao_id, period)]
        if not month_facts:
            return None
        return (
            fold_submissions(ao_id, period, month_facts, [(each.code, each.records) for each in month_codes]),
            fold_timeliness(ao_id, period, month_facts),
            fold_rejections(ao_id, period, month_facts, month_codes),
        )

    async def rejections(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyRejections]:
        facts, codes = await self._months(first, last, ao_id)
        return [
            fold_rejections(ao, period, month_facts, codes[(ao, period)])
            for (ao, period), month_facts in sorted(facts.items())
        ]

    async def plr_timeliness(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyPlrTimeliness]:
        facts = {
            row["batch_id"]: row
            for row in await self._connection.fetch(
                "SELECT batch_id, ao_id, period, results_issued FROM reporting.batch_facts"
                " WHERE completed AND results_issued IS NOT NULL AND period BETWEEN $1 AND $2"
                " AND ($3::text IS NULL OR ao_id = $3)",
                first,
                last,
                ao_id,
            )
        }
        writes: defaultdict[tuple[str, str], list[PlrWrite]] = defaultdict(list)
        for row in await self._connection.fetch(
            "SELECT w.batch_id, t.qualification_type, max(w.last_written_at) AS last_written_at"
            " FROM reporting.plr_writes w LEFT JOIN reporting.qualification_types t USING (qualification_number)"
            " WHERE w.batch_id = ANY($1::uuid[]) GROUP BY w.batch_id, t.qualification_type",
            list(facts),
        ):
            fact = facts[row["batch_id"]]
            writes[(fact["ao_id"], fact["period"])].append(
                PlrWrite(row["batch_id"], fact["results_issued"], row["qualification_type"], row["last_written_at"])
            )
        return [fold_plr_timeliness(ao, period, each, LAG) for (ao, period), each in sorted(writes.items())]

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyChallenges]:
        start, end = periods_span(first, last)
        by_month: defaultdict[tuple[str, str], list[ChallengeFact]] = defaultdict(list)
        for row in await self._connection.fetch(
            "SELECT *, to_char(raised_at AT TIME ZONE 'Europe/London', 'YYYY-MM') AS period FROM reporting.challenges"
            " WHERE raised_at >= $1 AND raised_at < $2 AND ($3::text IS NULL OR ao_id = $3)",
            start,
            end,
            ao_id,
        ):
            by_month[(row["ao_id"], row["period"])].append(
                ChallengeFact(
                    row["challenge_id"], row["raised_at"], row["acknowledged_at"], row["resolved_at"], row["resolution"]
                )
            )
        return [fold_challenges(ao, period, month) for (ao, period), month in sorted(by_month.items())]


def _json(models: Sequence[BaseModel | tuple[BaseModel, ...]] | tuple[BaseModel, ...] | None) -> list[object]:
    """Each model as the API writes it (JSON, keys in order), so that equal means byte for byte."""
    if models is None:
        return [None]
    return [
        [each.model_dump_json() for each in model] if isinstance(model, tuple) else model.model_dump_json()
        for model in models
    ]


@pytest.fixture
async def connection(fresh_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(fresh_database_url)
    await apply_migrations(connection, "reporting", "reporting.migrations")
    yield connection
    await connection.close()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_reports_added_up_in_sql_answer_as_folding_every_fact_did(
    connection: asyncpg.Connection, seed: int
) -> None:
    aos = await _generate(connection, seed)
    store, folded = ReportingStore(connection), Folded(connection)  # a connection reads as a pool does
    ranges = [("2025-10", "2026-04"), ("2025-11", "2026-03"), ("2026-01", "2026-02"), ("2024-01", "2026-12")]
    ranges += [(month, month) for month in MONTHS + EMPTY_MONTHS]
    answered = 0
    for first, last in ranges:
        for ao_id in (None, *aos[:2], "RN0000"):
            rejections = await store.rejections(first, last, ao_id)
            assert _json(rejections) == _json(await folded.rejections(first, last, ao_id))
            timeliness = await store.plr_timeliness(first, last, ao_id, LAG)
            assert _json(timeliness) == _json(await folded.plr_timeliness(first, last, ao_id))
            challenges = await store.challenges(first, last, ao_id)
            assert _json(challenges) == _json(await folded.challenges(first, last, ao_id))
            answered += len(rejections) + len(timeliness) + len(challenges)
            if first == last:
                assert _json(await store.aggregates(first, ao_id)) == _json(await folded.aggregates(first, ao_id))
                if ao_id is not None:
                    assert _json(await store.month(first, ao_id)) == _json(await folded.month(first, ao_id))
    assert answered > 0  # the data reached the reports at all


async def test_working_days_counted_in_sql_are_those_counted_in_python(connection: asyncpg.Connection) -> None:
    # about Christmas, Easter and the ends of the years counted, each day to each (either way round)
    days = [date(2024, 12, 15) + timedelta(days=n) for n in range(30)]
    days += [date(2026, 3, 25) + timedelta(days=n) for n in range(30)]
    days += [date(1900, 1, 1), date(1900, 1, 2), date(2006, 9, 1), date(2100, 12, 30), date(2100, 12, 31)]
    rows = await connection.fetch(
        f"SELECT a, b, {_working_days('a', 'b', 1)} AS days FROM unnest($4::date[]) AS a, unnest($4::date[]) AS b",
        *_counted_years(1900, 2100),
        days,
    )
    assert [row["days"] for row in rows] == [working_days_between(row["a"], row["b"]) for row in rows]
    # a day outside the years counted is not counted (the store counts it again, in years that hold it)
    assert (
        await connection.fetchval(
            f"SELECT {_working_days('$4::date', '$5::date', 1)}",
            *_counted_years(2000, 2001),
            date(1999, 12, 1),
            date(2000, 1, 10),
        )
        is None
    )
