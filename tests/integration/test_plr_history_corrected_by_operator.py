"""A PLR version made from an operator's corrected copy of a parked event (`lrs dlq retry --replacement`) says so in
the history (`corrected_by_operator`): the copy, kept for good in `plr_ops.operator_actions`, carries the parked
event's id, and the version the projector made from it that id. An auditor following "by batch X" otherwise took what
the copy said for what the AO's batch sent (regulator walk, finding 1). Read from the stored copies, with no
migration: a skipped event, another learner's copy and a copy that is not JSON mark nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from lrs_platform.database import apply_migrations
from plr_projector.projection import OperatorAction
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, OPS_MIGRATIONS, OPS_SCHEMA, ReadModel, record_operator_action
from plr_projector.views import history_view

pytestmark = pytest.mark.integration

ULN, OTHER_ULN = "1000000043", "1000000051"
AO, QAN, AWARDED = "RN9093", "60011667", date(2024, 6, 30)
BATCH = uuid.UUID("2d2fbbfa-5a2d-4c8e-9f3a-7d1e2b4c6a80")
TOPIC = "lrs.plr.events.v1"


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in text)


def _copy(event_id: uuid.UUID, uln: str) -> bytes:
    """An operator's corrected copy of a parked update of `uln`'s achievement, as `record_operator_action` keeps it."""
    key = {"ao_id": AO, "uln": uln, "qualification_number": QAN, "award_date": AWARDED.isoformat()}
    data = {"event_type": "lrs.achievement.updated.v1", "key": key, "grade": "Merit"}
    envelope = {"event_id": str(event_id), "event_type": "lrs.achievement.updated.v1", "data": data}
    return json.dumps(envelope).encode()


async def _version(connection: asyncpg.Connection, uln: str, number: int, event_id: uuid.UUID) -> None:
    await connection.execute(
        f'INSERT INTO "{LIVE_SCHEMA}".achievement_history (uln, ao_id, qualification_number, award_date, version,'
        " change, event_id, occurred_at, batch_id, line, achievement_id, status, withdrawn, grade, ukprn,"
        " language_for_assessment, credits, pathway)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'F', false, 'Pass', NULL, NULL, NULL, NULL)",
        uln,
        AO,
        QAN,
        AWARDED,
        number,
        "recorded" if number == 1 else "updated",
        event_id,
        datetime(2026, 12, 7, 2, number, tzinfo=UTC),
        BATCH,
        number + 3,
        uuid.UUID(int=number),
    )


async def _keep(connection: asyncpg.Connection, offset: int, action: OperatorAction) -> None:
    async with connection.transaction():
        await record_operator_action(connection, (TOPIC, 0, offset), action, "operator:desk", "mended")


@pytest.fixture
async def connection(fresh_database_url: str) -> Any:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
        yield connection
    finally:
        await connection.close()


async def test_the_versions_made_from_an_operators_corrected_copy_say_so(connection: asyncpg.Connection) -> None:
    as_sent, corrected, escaped, beside_a_skip, unreadable = (uuid.uuid4() for _ in range(5))
    for number, event_id in enumerate((as_sent, corrected, escaped, beside_a_skip, unreadable), start=1):
        await _version(connection, ULN, number, event_id)
    other_learners = uuid.uuid4()
    await _version(connection, OTHER_ULN, 1, other_learners)
    await _keep(connection, 1, OperatorAction("replace", _copy(corrected, ULN)))
    # its ULN and id spelt in JSON escapes, the id in capitals: the same event, and the same learner's
    text = _copy(escaped, ULN).decode().replace(str(escaped), _escaped(str(escaped).upper()))
    await _keep(connection, 2, OperatorAction("replace", text.replace(ULN, _escaped(ULN)).encode()))
    await _keep(connection, 3, OperatorAction("skip"))  # a skip names no event
    await _keep(connection, 4, OperatorAction("replace", b"\xff not json " + str(unreadable).encode() + ULN.encode()))
    await _keep(connection, 5, OperatorAction("replace", _copy(other_learners, OTHER_ULN)))

    history = await ReadModel(LIVE_SCHEMA).history(connection, [ULN])

    (versions,) = history.values()
    shown = {
        entry["version"]: entry["corrected_by_operator"]
        for entry in history_view(versions, history.corrected_by_operator)
    }
    assert shown == {1: False, 2: True, 3: True, 4: False, 5: False}
    others = await ReadModel(LIVE_SCHEMA).history(connection, [OTHER_ULN])
    assert others.corrected_by_operator == {other_learners}
