"""A rebuild failed for one worker, or abandoned, ends its other workers too: their rows in plr_ops.rebuild_workers
(what `GET /v1/admin/rebuild` and `lrs projector rebuild --follow` show) say `failed`, stopped and why, rather than
`pending` or `running` for ever, and no worker process goes on writing into the rebuild's schema: the projector stops
its own, and a worker it did not start (an indexed Job's pod) finds its row ended and commits nothing more."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.support.projector import projector_settings, running_projector
from tests.support.rebuilds import (
    OPERATOR,
    job_pod,
    killed_until_the_rebuild_fails,
    learners_log,
    new_ulns,
    projected_live,
    rebuild_in_state,
    rebuild_status,
    topics_holding,
    worker_processes,
)
from tests.support.waiting import eventually

from lrs_platform.database import advisory_lock_key

pytestmark = pytest.mark.integration

STARTS = 3  # rebuild_jobs.WORKER_STARTS
SCHEMA = "plr_rebuild_1"  # the first rebuild of a fresh database
HOLD = 7_270_417  # the advisory lock this test holds while worker 0 must wait in the middle of its pass
JOB_RETRY_SECONDS = 8.0
JOB_ATTEMPTS = 4  # the first run of an index and the Job's backoffLimitPerIndex: 3 retries
JOB_PROJECTOR = {"rebuild_launch": "external", "rebuild_workers": 2, "rebuild_worker_retry_seconds": JOB_RETRY_SECONDS}


async def _rows(connection: asyncpg.Connection) -> list[tuple[str, str | None]]:
    rows = await connection.fetch(
        "SELECT state, error FROM plr_ops.rebuild_workers WHERE rebuild_id = 1 ORDER BY worker"
    )
    return [(row["state"], row["error"]) for row in rows]


async def _hold_worker_zero_mid_pass(connection: asyncpg.Connection) -> None:
    """Worker 0 (the only one reading the learner topic) stops where its pass writes the learners, until this
    connection lets go of HOLD: in the middle of a pass, nothing of it committed."""
    await connection.execute("SELECT pg_advisory_lock($1)", HOLD)
    await connection.execute(
        f"""
        CREATE FUNCTION public.hold_learners() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock({HOLD}); RETURN NEW; END $$;
        CREATE TRIGGER hold_learners BEFORE INSERT ON {SCHEMA}.learners FOR EACH ROW
            EXECUTE FUNCTION public.hold_learners();
        """
    )


async def _waiting_mid_pass(connection: asyncpg.Connection) -> bool:
    waiting = await connection.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", HOLD
    )
    return bool(waiting)


async def test_a_rebuild_failed_for_a_killed_worker_stops_the_others_and_ends_their_rows(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    records = learners_log(new_ulns(200))
    prefix = await topics_holding(kafka_bootstrap, records)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix, rebuild_workers=2) as app:
            await projected_live(app, records)
            # worker 1 waits on its lock, to be killed there; worker 0 on its own until it can be held mid-pass
            await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_key("plr-rebuild|1|1"))
            await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_key("plr-rebuild|1|0"))
            start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
            assert start.status_code == 202, start.text
            await _hold_worker_zero_mid_pass(holder)
            await holder.execute("SELECT pg_advisory_unlock($1)", advisory_lock_key("plr-rebuild|1|0"))
            await eventually(lambda: _waiting_mid_pass(holder), within=60, what="worker 0 in the middle of its pass")
            assert await _rows(holder) == [("running", None), ("pending", None)]

            failed, killed = await killed_until_the_rebuild_fails(app, worker=1)
            assert len(killed) == STARTS
            said = failed["workers"][0]  # as `GET /v1/admin/rebuild` shows it
            assert (said["state"], said["error"]) == ("failed", "stopped: worker 1 failed")
            rows = await _rows(holder)
            assert rows[0] == ("failed", "stopped: worker 1 failed")
            assert rows[1][0] == "failed" and (rows[1][1] or "").startswith("was killed by SIGKILL")
            assert worker_processes(0) == []  # stopped, not left loading into the failed rebuild's schema

            await holder.execute("SELECT pg_advisory_unlock($1)", HOLD)
            assert await holder.fetchval(f"SELECT count(*) FROM {SCHEMA}.learners") == 0  # its pass never committed
            assert (await rebuild_status(app))["workers"][0]["state"] == "failed"
    finally:
        await holder.close()


async def _fail_worker_one(connection: asyncpg.Connection) -> None:
    """Worker 1's passes never commit: each attempt the Job makes fails."""
    await connection.execute(
        """
        CREATE FUNCTION public.fail_worker_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no space left on the spill volume (test)'; END $$;
        CREATE TRIGGER fail_worker_one BEFORE UPDATE OF passes_done ON plr_ops.rebuild_workers FOR EACH ROW
            WHEN (NEW.worker = 1) EXECUTE FUNCTION public.fail_worker_one();
        """
    )


async def test_a_job_worker_still_loading_when_the_rebuild_fails_stops_without_committing_its_pass(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    records = learners_log(new_ulns(200))
    prefix = await topics_holding(kafka_bootstrap, records)
    settings = projector_settings(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR) as app:
            await projected_live(app, records)
            start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
            assert start.status_code == 202, start.text
            await _hold_worker_zero_mid_pass(holder)
            await _fail_worker_one(holder)
            worker_zero = asyncio.create_task(job_pod(settings, 0))
            try:
                await eventually(lambda: _waiting_mid_pass(holder), within=60, what="worker 0 mid-pass")
                exits = await asyncio.gather(*(job_pod(settings, 1) for _ in range(JOB_ATTEMPTS)))
                assert exits == [1] * JOB_ATTEMPTS
                failed = await eventually(
                    lambda: rebuild_in_state(app, "failed"),
                    within=JOB_RETRY_SECONDS + 30,
                    what="the rebuild failed for its worker",
                )
                assert failed["workers"][0]["state"] == "failed"
                assert failed["workers"][0]["error"] == "stopped: worker 1 failed"
                assert (await _rows(holder))[0] == ("failed", "stopped: worker 1 failed")
            finally:
                await holder.execute("SELECT pg_advisory_unlock($1)", HOLD)
                exit_zero = await worker_zero
            # let go, worker 0's pod finds its row ended where its pass would commit: it rolls the pass back, and
            # ends without a failure of its own for the Job to retry
            assert exit_zero == 0
            assert (await _rows(holder))[0] == ("failed", "stopped: worker 1 failed")
            assert await holder.fetchval(f"SELECT count(*) FROM {SCHEMA}.learners") == 0
    finally:
        await holder.close()


async def test_an_abandoned_rebuild_stops_its_workers_and_ends_their_rows(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    records = learners_log(new_ulns(50))
    prefix = await topics_holding(kafka_bootstrap, records)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix, rebuild_workers=2) as app:
            await projected_live(app, records)
            for worker in (0, 1):  # both wait on their locks: neither has begun
                await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_key(f"plr-rebuild|1|{worker}"))
            start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
            assert start.status_code == 202, start.text

            async def both_started() -> bool:
                return bool(worker_processes(0) and worker_processes(1))

            await eventually(both_started, within=60, what="both worker processes started")
            async with await app.client(OPERATOR) as client:
                abandoned = await client.delete("/v1/admin/rebuild")
            assert abandoned.status_code == 200, abandoned.text

            stopped = "stopped: the rebuild was abandoned"
            assert await _rows(holder) == [("failed", stopped), ("failed", stopped)]
            assert (worker_processes(0), worker_processes(1)) == ([], [])
    finally:
        await holder.close()
