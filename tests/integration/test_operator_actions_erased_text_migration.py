"""Ops migration 0012: the corrected copies an operator stored (`plr_ops.operator_actions.replacement`) for learners
erased before this release lose the free text that may name them: a centre report's `subject` and `provider_name`,
an achievement event's `provenance.mis_identifier`. From this release the live projection empties them as it
projects the erasure; the copies of learners not erased, and a copy that is not JSON, are left as they were."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from lrs_platform.database import apply_migrations
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, OPS_MIGRATIONS, OPS_SCHEMA

pytestmark = pytest.mark.integration

ERASED, KEPT = "1000000043", "1000000051"


def _copy(event_type: str, uln: str, **fields: Any) -> bytes:
    return json.dumps({"event_id": "e", "data": {"event_type": event_type, "uln": uln, **fields}}).encode()


def _centre_report(uln: str) -> bytes:
    return _copy(
        "lrs.centre.achievement.reported.v1", uln, subject="Physics for Perpetua", provider_name="Glimmer Tutoring"
    )


def _recorded(uln: str) -> bytes:
    """An achievement event names its learner in its key, as the log has it."""
    data = {
        "event_type": "lrs.achievement.recorded.v1",
        "key": {"ao_id": "RN9093", "uln": uln, "qualification_number": "60011667", "award_date": "2024-06-30"},
        "provenance": {"batch_id": "b", "line": 2, "mis_identifier": "Perpetua 1993"},
    }
    return json.dumps({"event_id": "e", "data": data}).encode()


def _centre_report_emptied_already(uln: str) -> bytes:
    return _copy("lrs.centre.achievement.reported.v1", uln, grade="A", subject=None, provider_name=None)


async def test_the_copies_of_learners_erased_before_lose_their_free_text_and_no_other_copy_changes(
    fresh_database_url: str,
) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
        await connection.execute(f"DELETE FROM {OPS_SCHEMA}.schema_migrations WHERE version = 12")
        await connection.execute(f"INSERT INTO {LIVE_SCHEMA}.erased_learners (uln) VALUES ($1)", ERASED)
        copies = {
            0: _centre_report(ERASED),
            1: _recorded(ERASED),
            2: _centre_report(KEPT),
            3: _recorded(KEPT),
            4: b"\xff not json",
            # nothing to empty: kept byte for byte, as the projector keeps it
            5: _centre_report_emptied_already(ERASED),
        }
        await connection.executemany(
            f'INSERT INTO {OPS_SCHEMA}.operator_actions (topic, partition, "offset", action, replacement, operator)'
            " VALUES ('lrs.plr.events.v1', 1, $1, 'replace', $2, 'operator:ops')",
            list(copies.items()),
        )

        applied = await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)

        assert applied[0] == "0012_operator_actions_erased_text.sql", applied
        rows = await connection.fetch(f'SELECT "offset", replacement FROM {OPS_SCHEMA}.operator_actions')
        stored = {row["offset"]: row["replacement"] for row in rows}
        report, recorded = json.loads(stored[0])["data"], json.loads(stored[1])["data"]
        assert (report["subject"], report["provider_name"]) == (None, None)
        assert report["uln"] == ERASED and report["event_type"] == "lrs.centre.achievement.reported.v1"
        assert recorded["provenance"] == {"batch_id": "b", "line": 2, "mis_identifier": None}
        assert recorded["key"]["uln"] == ERASED
        kept = (2, 3, 4, 5)
        assert {offset: stored[offset] for offset in kept} == {offset: copies[offset] for offset in kept}
    finally:
        await connection.close()
