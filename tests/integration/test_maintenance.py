"""Maintenance windows and unplanned pauses on real Kafka, PostgreSQL and processes (issue #15, FAQ §7).

Batches from two AOs submitted while decisions are held are all answered 202 `queued` with when they
will be processed, and stay `queued` while the decider waits at a batch boundary (a decider restarted
during the window too); once the window ends (cancelled, so the test drives time) or the operator
resumes, each is decided once, in its AO's order.
The system here is ingest and validation only, on a broker of their own: a window must not hold the
shared system's batches.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import decided_view, log_events_of, register
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.mail import Inbox
from tests.support.system import build_system, isolation_env
from tests.support.waiting import eventually

from lrs_contracts.envelope import utc_now
from lrs_contracts.outcomes import BatchCompleted, BatchFailed
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.database import create_pool
from lrs_platform.kafka import make_consumer

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")
OPERATOR = "operator:maintenance-tests"
AO_QUALIFICATIONS = {"RN9008": "100/5001/2", "RN9901": "100/5008/5"}  # AQA and another AO, GCSE grades
GRADES = ("G", "F", "E")  # Create, then Updates: an Update decided before its Create would be rejected


@pytest.fixture(scope="module")
async def held_system(
    database_url: str, smtp_inbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SystemUnderTest]:
    name = unique_name("maint")
    database = await create_database(database_url, name)
    log_dir: Path = tmp_path_factory.mktemp("maintenance-logs")
    with private_kafka() as bootstrap:
        processes = build_system(bootstrap, database, log_dir, isolation_env(name, log_dir))
        try:
            await processes.start("ingest", "validation")
            yield SystemUnderTest(processes, database, bootstrap, smtp_inbox)
        finally:
            processes.stop()


async def lrs(system: SystemUnderTest, *args: str) -> str:
    env = {**os.environ, "LRS_API_KEY": await system.key_for(OPERATOR), "LRS_INGEST_URL": system.url("ingest")}
    done = await asyncio.to_thread(
        subprocess.run, [LRS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def decider_says(system: SystemUnderTest, words: str) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        checks = (await client.get(f"{system.url('validation')}/readyz")).json()["checks"]
    return words in checks["consumer validation.decider"]


async def submit_chains(system: SystemUnderTest) -> dict[str, list[str]]:
    """Three batches per AO, interleaved between the AOs; each must be answered 202 `queued`."""
    learners = {ao_id: new_learner() for ao_id in AO_QUALIFICATIONS}
    await register(system, list(learners.values()))
    chains: dict[str, list[str]] = {ao_id: [] for ao_id in AO_QUALIFICATIONS}
    for index, grade in enumerate(GRADES):
        for ao_id, qualification in AO_QUALIFICATIONS.items():
            record = json_record(learners[ao_id], qualification, grade, action="Create" if index == 0 else "Update")
            async with await system.client("ingest", f"ao:{ao_id}") as client:
                response = await client.post("/v1/batches", json=json_batch(ao_id, [record]))
            assert response.status_code == 202, response.text
            answer = response.json()
            assert answer["status"] == "queued", answer
            assert answer["maintenance"]["message"].startswith("will be"), answer
            chains[ao_id].append(answer["batch_id"])
    return chains


async def views(system: SystemUnderTest, chains: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    found = {}
    for ao_id, batch_ids in chains.items():
        async with await system.client("ingest", f"ao:{ao_id}") as client:
            for batch_id in batch_ids:
                response = await client.get(f"/v1/batches/{batch_id}")
                assert response.status_code == 200, response.text
                found[batch_id] = response.json()
    return found


async def all_decided(system: SystemUnderTest, chains: dict[str, list[str]]) -> dict[str, dict[str, Any]] | None:
    seen = await views(system, chains)
    return seen if all(decided_view(view) for view in seen.values()) else None


async def decision_order(system: SystemUnderTest, batch_ids: list[str]) -> list[str]:
    pool = await create_pool(system.database_url, max_size=1)
    try:
        rows = await pool.fetch(
            "SELECT batch_id::text FROM validation.decisions WHERE batch_id = ANY($1::uuid[]) ORDER BY decided_at",
            batch_ids,
        )
    finally:
        await pool.close()
    return [row["batch_id"] for row in rows]


async def final_outcomes(system: SystemUnderTest) -> Counter[str]:
    """How many times each batch was completed or failed on the outcomes topic, up to its end now."""
    consumer = make_consumer(system.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(BATCH_OUTCOMES.name, number) for number in range(BATCH_OUTCOMES.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        counts: Counter[str] = Counter()
        while any([await consumer.position(partition) < offset for partition, offset in end.items()]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    _, payload = decode(record.value)
                    if isinstance(payload, BatchCompleted | BatchFailed):
                        counts[str(payload.batch_id)] += 1
        return counts
    finally:
        await consumer.stop()


async def held(system: SystemUnderTest, chains: dict[str, list[str]]) -> None:
    """While held: every batch `queued` and the decider waiting at a batch boundary."""
    await eventually(lambda: decider_says(system, "waiting at a batch boundary"), what="the decider holding")
    for view in (await views(system, chains)).values():
        assert view["status"] == "queued", view
        assert view["maintenance"]["message"].startswith("will be"), view


async def decided_in_order_once(system: SystemUnderTest, chains: dict[str, list[str]]) -> None:
    decided = await eventually(lambda: all_decided(system, chains), within=120, what="every held batch decided")
    for view in decided.values():
        assert (view["status"], view["counts"]["accepted"], view["maintenance"]) == ("completed", 1, None), view
    for batch_ids in chains.values():
        assert await decision_order(system, batch_ids) == batch_ids
    outcomes = await final_outcomes(system)
    every = [batch_id for batch_ids in chains.values() for batch_id in batch_ids]
    assert {batch_id: outcomes[batch_id] for batch_id in every} == dict.fromkeys(every, 1)
    for batch_id in every:
        assert len(await log_events_of(system, batch_id)) == 1


async def test_batches_sent_during_a_window_wait_queued_then_are_decided_in_each_aos_order_once(
    held_system: SystemUnderTest,
) -> None:
    now = utc_now()
    window_id = await lrs(
        held_system,
        "maintenance",
        "schedule",
        "--from",
        (now - timedelta(minutes=1)).isoformat(),
        "--to",
        (now + timedelta(hours=2)).isoformat(),
        "--reason",
        "database upgrade",
    )
    await eventually(lambda: decider_says(held_system, "paused for maintenance"), what="the decider told")
    shown = await lrs(held_system, "maintenance", "show")
    assert shown.startswith("PAUSED (maintenance window: database upgrade)"), shown
    assert window_id in shown

    chains = await submit_chains(held_system)
    await held(held_system, chains)
    validation = held_system.processes["validation"]
    validation.kill()  # a decider that starts during the window reads the schedule before any batch
    validation.start()
    await validation.wait_ready()
    await held(held_system, chains)

    cancelled = await lrs(held_system, "maintenance", "cancel", window_id)
    assert "it was under way and ended at" in cancelled  # now, not at its planned end
    await decided_in_order_once(held_system, chains)
    history = await lrs(held_system, "maintenance", "list")
    assert f"cancelled by {OPERATOR}" in history and f"scheduled by {OPERATOR}" in history


async def test_batches_sent_during_an_unplanned_pause_wait_queued_then_are_decided_in_order_once(
    held_system: SystemUnderTest,
) -> None:
    assert await lrs(held_system, "maintenance", "pause", "--reason", "broker incident") == (
        "paused: batches are accepted and queued until `lrs maintenance resume`"
    )
    await eventually(lambda: decider_says(held_system, "until an operator resumes"), what="the decider told")

    chains = await submit_chains(held_system)
    await held(held_system, chains)

    await lrs(held_system, "maintenance", "resume")
    await decided_in_order_once(held_system, chains)
    assert "batches are being decided" in await lrs(held_system, "maintenance", "show")


async def test_only_operators_change_the_schedule_anyone_reads_it_and_nonsense_is_refused(
    held_system: SystemUnderTest,
) -> None:
    now = utc_now()
    later = {
        "starts_at": (now + timedelta(days=2)).isoformat(),
        "ends_at": (now + timedelta(days=2, hours=1)).isoformat(),
    }
    async with (
        await held_system.client("ingest", "ao:RN9008") as ao,
        await held_system.client("ingest", OPERATOR) as operator,
    ):
        assert (await ao.post("/v1/admin/maintenance/windows", json={**later, "reason": "x"})).status_code == 403
        assert (await ao.post("/v1/admin/maintenance/pause", json={"reason": "x"})).status_code == 403
        history = await ao.get("/v1/admin/maintenance")
        assert history.status_code == 403
        assert (
            history.json()["detail"] == "Only operators schedule maintenance, pause processing and read their history."
        )

        backwards = {"starts_at": later["ends_at"], "ends_at": later["starts_at"], "reason": "x"}
        assert (await operator.post("/v1/admin/maintenance/windows", json=backwards)).status_code == 422
        over = {"starts_at": (now - timedelta(hours=2)).isoformat(), "ends_at": (now - timedelta(hours=1)).isoformat()}
        assert (await operator.post("/v1/admin/maintenance/windows", json={**over, "reason": "x"})).status_code == 422
        too_long = {**later, "ends_at": (now + timedelta(days=5)).isoformat(), "reason": "x"}
        assert (await operator.post("/v1/admin/maintenance/windows", json=too_long)).status_code == 422
        no_zone = {"starts_at": "2030-01-01T10:00:00", "ends_at": "2030-01-01T11:00:00", "reason": "x"}
        assert (await operator.post("/v1/admin/maintenance/windows", json=no_zone)).status_code == 422
        assert (await operator.post("/v1/admin/maintenance/resume")).status_code == 409
        unknown = await operator.delete(f"/v1/admin/maintenance/windows/{uuid.uuid4()}")
        assert unknown.status_code == 404, unknown.text

        scheduled = await operator.post("/v1/admin/maintenance/windows", json={**later, "reason": "reload"})
        assert scheduled.status_code == 201, scheduled.text
        assert scheduled.json()["published"] is True
        window_id = scheduled.json()["window"]["window"]["window_id"]
        sent_again = await operator.post("/v1/admin/maintenance/windows", json={**later, "reason": "reload"})
        assert sent_again.status_code == 200, sent_again.text  # the same window, not a second one
        assert sent_again.json()["window"]["window"]["window_id"] == window_id
        seen = (await ao.get("/v1/maintenance")).json()
        assert seen["active"] is None
        assert [window["window_id"] for window in seen["windows"]] == [window_id]

        assert (await operator.delete(f"/v1/admin/maintenance/windows/{window_id}")).status_code == 200
        again = await operator.delete(f"/v1/admin/maintenance/windows/{window_id}")
        assert again.status_code == 409, again.text
        assert (await ao.get("/v1/maintenance")).json()["windows"] == []
        after_cancel = await operator.post("/v1/admin/maintenance/windows", json={**later, "reason": "reload"})
        assert after_cancel.status_code == 201, after_cancel.text  # a cancelled window is not asked for again
        assert after_cancel.json()["window"]["window"]["window_id"] != window_id
        cancelled = await operator.delete(
            f"/v1/admin/maintenance/windows/{after_cancel.json()['window']['window']['window_id']}"
        )
        assert cancelled.status_code == 200
