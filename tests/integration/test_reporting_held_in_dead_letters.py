"""A decided batch's outcome held in reporting's dead letters behind junk under its key (tracer walk, finding 10, the
drill of docs/operations.md on a real key): the MI leaves the batch out, and said so nowhere (`complete` true). Now
every report read from the outcomes answers `complete` false, `held_in_dead_letters` and the headers, until an operator
skips the junk; then the batch is counted and the figures are complete. Real Kafka, PostgreSQL and reporting."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from scripts.dev import kafka_drill
from tests.integration.test_notifier import bearer
from tests.integration.test_reporting import PERIOD, completed, envelope, produce, random_ao
from tests.support.waiting import eventually

from lrs_contracts.topics import BATCH_OUTCOMES

pytestmark = pytest.mark.integration


async def test_a_batch_outcome_held_behind_junk_leaves_the_reports_incomplete_until_the_junk_is_skipped(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    ao = random_ao()
    counted, held = completed(ao, "2023-05-10", accepted=3, rejected=0), completed(ao, "2023-05-10", 5, 0)
    operator = await bearer(pool, "operator:mi")
    month = {"period": PERIOD, "ao_id": ao}

    await kafka_drill.produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(held.batch_id), b"drill: not an event")
    await produce(kafka_bootstrap, (held.batch_id, envelope(held)), (counted.batch_id, envelope(counted)))

    async def parked_and_counted() -> list[asyncpg.Record] | None:
        parked = await pool.fetch(
            'SELECT id, reason, parked_at FROM reporting_parked.parked_messages WHERE message_key = $1 ORDER BY "offset"',
            str(held.batch_id).encode(),
        )
        facts = await pool.fetchval("SELECT count(*) FROM reporting.batch_facts WHERE ao_id = $1", ao)
        return parked if [row["reason"] for row in parked] == ["error", "blocked"] and facts == 1 else None

    junk, outcome = await eventually(parked_and_counted, within=60, what="the outcome parked behind the junk")

    answer = await reporting.get("/v1/reports/submissions", params=month, headers=operator)
    download = await reporting.get("/v1/reports/submissions", params={**month, "format": "csv"}, headers=operator)
    rejections = await reporting.get("/v1/reports/rejections", params={"from": PERIOD, "ao_id": ao}, headers=operator)
    challenges = await reporting.get("/v1/reports/challenges", params={"from": PERIOD, "ao_id": ao}, headers=operator)

    report: dict[str, Any] = answer.json()
    assert [item["batches_completed"] for item in report["items"]] == [1]  # the held batch is not counted
    assert report["complete"] is False
    assert report["held_in_dead_letters"]["count"] == 2
    assert report["held_in_dead_letters"]["since"] == junk["parked_at"].isoformat().replace("+00:00", "Z")
    assert (answer.headers["X-LRS-Figures"], answer.headers["X-LRS-Held-In-Dead-Letters"]) == ("partial", "2")
    assert (download.headers["X-LRS-Figures"], download.headers["X-LRS-Held-In-Dead-Letters"]) == ("partial", "2")
    assert rejections.json()["complete"] is False
    # the challenges are not read from the outcomes: nothing they count is held
    assert challenges.json()["complete"] is True and challenges.json()["held_in_dead_letters"] is None

    skipped = await reporting.post(
        f"/v1/admin/dlq/{junk['id']}/skip", json={"reason": "the drill's junk"}, headers=operator
    )
    assert skipped.status_code == 200, skipped.text

    async def both_counted() -> dict[str, Any] | None:
        again = await reporting.get("/v1/reports/submissions", params=month, headers=operator)
        body: dict[str, Any] = again.json()
        return body if [item["batches_completed"] for item in body["items"]] == [2] else None

    whole = await eventually(both_counted, within=30, what="the held batch counted")
    assert whole["complete"] is True and whole["held_in_dead_letters"] is None
    assert not await pool.fetchval("SELECT count(*) FROM reporting_parked.parked_messages WHERE id = $1", outcome["id"])
    after = await reporting.get("/v1/reports/submissions", params=month, headers=operator)
    assert after.headers["X-LRS-Figures"] == "complete" and "X-LRS-Held-In-Dead-Letters" not in after.headers
