"""The projector encodes its COPY rows itself (decision 0102): the rows PostgreSQL stores from them
are the rows asyncpg's `copy_records_to_table` stores from the same values."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from lrs_platform.database import apply_migrations
from plr_projector.copy_format import CopyFormat
from plr_projector.projection import AchievementRow, HistoryEntry
from plr_projector.store import _ACHIEVEMENT_COPY, _HISTORY_COPY, LIVE_SCHEMA, MIGRATIONS

pytestmark = pytest.mark.integration

_PARIS = timezone(timedelta(hours=2))


def _achievement(number: int, **changes: Any) -> AchievementRow:
    row = AchievementRow(
        uln=f"{1000000000 + number}",
        ao_id="RN5133",
        qualification_number="6003125X",
        award_date=date(1999, 12, 31) + timedelta(days=number),
        achievement_id=uuid.uuid4(),
        status="F",
        withdrawn=number % 2 == 0,
        version=number,
        pathway=None,
        grade="Distinction*",
        ukprn="10001234",
        language_for_assessment="Cymraeg \u2013 Welsh",
        credits=None,
        title="Level 3 Diploma in Ŵelsh ☃",
        qualification_type="Vocationally-Related Qualification",
        level=None,
        framework="RQF",
        kind="qualification",
        awarding_organisation_name="Pearson Education Ltd",
        date_loaded=datetime(2024, 8, 22, 8, 0, 0, 123456, tzinfo=UTC),
        last_changed_at=datetime(1970, 1, 1, tzinfo=_PARIS) + timedelta(microseconds=number),
    )
    return row._replace(**changes)


def _history(row: AchievementRow, line: int) -> HistoryEntry:
    return HistoryEntry(
        uln=row.uln,
        ao_id=row.ao_id,
        qualification_number=row.qualification_number,
        award_date=row.award_date,
        version=row.version,
        change="created",
        event_id=uuid.uuid4(),
        occurred_at=row.last_changed_at,
        batch_id=uuid.UUID(int=7),
        line=line,
        achievement_id=row.achievement_id,
        status=row.status,
        withdrawn=row.withdrawn,
        grade=row.grade,
        ukprn=row.ukprn,
        language_for_assessment=row.language_for_assessment,
        credits=row.credits,
        pathway=row.pathway,
    )


async def _stored(connection: asyncpg.Connection, table: str) -> bytes:
    output = io.BytesIO()
    await connection.copy_from_query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5", output=output, format="binary")
    return output.getvalue()


@pytest.mark.parametrize(
    ("table", "copy_format"), [("achievements", _ACHIEVEMENT_COPY), ("achievement_history", _HISTORY_COPY)]
)
async def test_the_projector_stores_what_asyncpg_stores(
    fresh_database_url: str, table: str, copy_format: CopyFormat
) -> None:
    achievements = [
        _achievement(0),
        _achievement(1, pathway="Pathway 1", credits=-5, level="Level 3", ukprn=None, status="P"),
        _achievement(2, version=2**31 - 1, credits=2**31 - 1, grade="", language_for_assessment=None),
        *(_achievement(number) for number in range(3, 40)),
    ]
    rows: list[Any] = (
        achievements
        if table == "achievements"
        else [_history(row, line) for line, row in enumerate(achievements, start=1)]
    )
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        await connection.execute(f"CREATE TABLE plr.by_asyncpg (LIKE plr.{table} INCLUDING ALL)")
        await connection.copy_records_to_table(
            "by_asyncpg", schema_name=LIVE_SCHEMA, records=rows, columns=copy_format.columns
        )
        await connection.copy_to_table(
            table,
            schema_name=LIVE_SCHEMA,
            source=memoryview(copy_format.encode(rows)),
            columns=copy_format.columns,
            format="binary",
        )
        assert await connection.fetchval(f"SELECT count(*) FROM plr.{table}") == len(rows)
        assert await _stored(connection, f"plr.{table}") == await _stored(connection, "plr.by_asyncpg")
    finally:
        await connection.close()
