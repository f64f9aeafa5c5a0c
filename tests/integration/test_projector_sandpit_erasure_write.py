"""A poll that records an achievement, erases it in a Sandpit reset and changes another learner's stored
achievement of another AO writes: the stored row is merged, not inserted as new (a duplicate key that
failed the poll, and left a parked stream of this shape one that no retry or skip could drain)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest
from tests.support.databases import create_database, unique_name
from tests.support.projector import summary

from lrs_contracts.envelope import Contract
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementUpdated,
    Provenance,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.sandpit import SandpitAchievementsErased
from lrs_platform.database import apply_migrations
from plr_projector.projection import PLR_TOPIC, Decoded, Message, decode_message, needs_of, project_batch
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration

ULN = "1000000043"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
STORED = AchievementKey(ao_id="RN9093", uln=ULN, qualification_number="6001166X", award_date=date(2025, 2, 1))
RESET = AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="6001166X", award_date=date(2025, 2, 1))


def _decoded(payload: Contract, offset: int, uln: str = ULN) -> Decoded:
    value = encode(wrap(payload, source="tests", correlation_id="c", occurred_at=T0))
    return decode_message(Message(PLR_TOPIC, 0, offset, uln.encode(), value, int(T0.timestamp() * 1000)))


def _recorded(key: AchievementKey, achievement_id: uuid.UUID) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=achievement_id,
        key=key,
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        qualification=summary(),
        provenance=Provenance(batch_id=uuid.uuid4(), line=1),
    )


async def _write_poll(connection: asyncpg.Connection, model: ReadModel, poll: list[Decoded], end: int) -> None:
    async with connection.transaction():
        snapshot = await model.load_snapshot(connection, needs_of(poll), {})
        await model.write(connection, project_batch(snapshot, poll), {(PLR_TOPIC, 0): end}, publish_dead_letters=False)


async def test_a_reset_key_created_in_the_poll_does_not_turn_a_stored_row_into_a_new_one(database_url: str) -> None:
    connection = await asyncpg.connect(await create_database(database_url, unique_name("reset_write")))
    try:
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        model = ReadModel(LIVE_SCHEMA)
        stored_id = uuid.uuid4()
        await _write_poll(connection, model, [_decoded(_recorded(STORED, stored_id), 0)], 1)
        update = AchievementUpdated(
            achievement_id=stored_id,
            key=STORED,
            data=AchievementData(grade="8"),
            status=ResultStatus.FINAL,
            provenance=Provenance(batch_id=uuid.uuid4(), line=1),
        )
        poll = [
            _decoded(_recorded(RESET, uuid.uuid4()), 1),
            _decoded(SandpitAchievementsErased(reset_id=uuid.uuid4(), ao_id="RN5133", uln=ULN), 2),
            _decoded(update, 3),
        ]
        await _write_poll(connection, model, poll, 4)
        rows = await connection.fetch(f"SELECT ao_id, grade, version FROM {LIVE_SCHEMA}.achievements ORDER BY ao_id")
        assert [tuple(row) for row in rows] == [("RN9093", "8", 2)]
    finally:
        await connection.close()
