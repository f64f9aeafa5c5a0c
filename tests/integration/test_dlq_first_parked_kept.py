"""A retry that leaves a learner's events parked keeps when each was first parked (how long the learner has been
held: what `lrs dlq show` says), and says when it was last tried: a drain parks what fails again as new rows, which
took the retry's time (operator review, finding 6)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from tests.support.projector import (
    PLR,
    App,
    Events,
    Record,
    caught_up,
    ends_of,
    envelope_bytes,
    produce,
    record,
    uln_for,
)
from tests.support.waiting import eventually

from plr_projector.store import LIVE_SCHEMA

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
# as if parked well before the retry: a retry taking its own time for it cannot pass for keeping it
FIRST_PARKED = datetime(2026, 12, 6, 1, 17, 11, tzinfo=UTC)


def _malformed(valid: bytes) -> bytes:
    document = json.loads(valid)
    del document["data"]["data"]["grade"]  # an AchievementUpdated without its grade: the projection parks it again
    return json.dumps(document).encode()


async def _parked(app: App, uln: str) -> list[dict[str, Any]]:
    parked: list[dict[str, Any]] = (await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]
    return parked


@pytest.mark.parametrize("refusal", ["parked again by the projection", "refused by postgresql"])
async def test_a_failed_retry_keeps_when_the_events_were_first_parked_and_says_when_it_tried(
    projector: tuple[App, str], kafka_bootstrap: str, refusal: str
) -> None:
    app, prefix = projector
    suffix = uuid.uuid4().int % 1_000_000
    uln = uln_for(suffix)
    events = Events()
    poison = _malformed(envelope_bytes(events.updated(uln, grade="8"), sequence=2))
    if refusal == "refused by postgresql":  # valid, but the write fails: the retry's savepoint rolls back
        poison = envelope_bytes(events.recorded(uln, grade="6"), sequence=2)
        connection = await asyncpg.connect(app.database_url)
        try:
            await connection.execute(
                f"ALTER TABLE {LIVE_SCHEMA}.achievements ADD CONSTRAINT refused_{suffix} CHECK (uln <> '{uln}')"
            )
        finally:
            await connection.close()
    records = [Record(PLR, uln, poison, 0), record(events.withdrawn(uln), uln, sequence=3, partition=0)]
    ends = ends_of(await produce(kafka_bootstrap, prefix, records))

    async def projected() -> bool:
        return await caught_up(app.database_url, ends)

    await eventually(projected, within=30, what="projection")
    parked = await _parked(app, uln)
    assert [(item["reason"], item.get("last_tried_at")) for item in parked] == [("error", None), ("blocked", None)]
    connection = await asyncpg.connect(app.database_url)
    try:
        await connection.execute(
            f"UPDATE {LIVE_SCHEMA}.parked SET parked_at = $2 WHERE park_key = $1", uln, FIRST_PARKED
        )
    finally:
        await connection.close()

    before = datetime.now(UTC)
    retried = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["results"][0]["still_parked"] == 2

    still = await _parked(app, uln)
    assert [(item["offset"], item["reason"]) for item in still] == [(item["offset"], item["reason"]) for item in parked]
    assert [datetime.fromisoformat(item["parked_at"]) for item in still] == [FIRST_PARKED] * 2
    for item in still:
        tried = item.get("last_tried_at")
        assert isinstance(tried, str), item
        assert datetime.fromisoformat(tried) >= before.replace(microsecond=0), item
    assert still[0]["attempts"] == parked[0]["attempts"] + 1  # tries counted as before
