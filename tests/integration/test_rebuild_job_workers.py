"""A rebuild whose workers run as an indexed Job (`PROJECTOR_REBUILD_LAUNCH=external`, each worker
`python -m plr_projector.rebuild` with `JOB_COMPLETION_INDEX`, as on Kubernetes): it plans the Job's workers and
refuses another count; a worker the Job retries after a failure finishes it; one the Job gives up on fails it,
with the worker and its error, instead of leaving it loading for ever."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.support.projector import projector_settings, running_projector
from tests.support.rebuilds import (
    OPERATOR,
    job_pod,
    learners_log,
    new_ulns,
    projected_live,
    rebuild_in_state,
    rebuild_status,
    topics_holding,
)
from tests.support.waiting import eventually

from lrs_cli.projector_commands import rebuild_line

pytestmark = pytest.mark.integration

JOB_WORKERS = 2
RETRY_SECONDS = 8.0  # PROJECTOR_REBUILD_WORKER_RETRY_SECONDS: the Job's retries here start at once
ATTEMPTS = 4  # the first run of an index and the Job's backoffLimitPerIndex: 3 retries
DISK_FULL = "no space left on the spill volume (test)"
# the projector as the Kubernetes overlays set it, the Job's workers counted in PROJECTOR_REBUILD_WORKERS
JOB_PROJECTOR = {
    "rebuild_launch": "external",
    "rebuild_workers": JOB_WORKERS,
    "rebuild_worker_retry_seconds": RETRY_SECONDS,
}


async def _fail_worker_one(database_url: str, times: int) -> None:
    """Worker 1's passes fail to commit `times` times (a sequence counts across the attempts' rollbacks)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f"""
            CREATE SEQUENCE public.worker_one_failures;
            CREATE FUNCTION public.fail_worker_one() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('public.worker_one_failures') <= {times} THEN
                    RAISE EXCEPTION '{DISK_FULL}';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER fail_worker_one BEFORE UPDATE OF passes_done ON plr_ops.rebuild_workers FOR EACH ROW
            WHEN (NEW.worker = 1) EXECUTE FUNCTION public.fail_worker_one();
            """
        )
    finally:
        await connection.close()


async def _unchanged_seconds(database_url: str, worker: int) -> float:
    """How long ago the only rebuild's `worker` row last changed, by the database's clock (as the supervisor reads it)."""
    connection = await asyncpg.connect(database_url)
    try:
        seconds: float = await connection.fetchval(
            "SELECT extract(epoch FROM now() - updated_at)::float8 FROM plr_ops.rebuild_workers"
            " WHERE rebuild_id = 1 AND worker = $1",
            worker,
        )
    finally:
        await connection.close()
    return seconds


async def test_a_job_rebuild_refuses_another_worker_count_and_finishes_with_a_worker_retried_after_a_failure(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    records = learners_log(new_ulns(300), regraded=True)
    prefix = await topics_holding(kafka_bootstrap, records)
    settings = projector_settings(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR) as app:
        await projected_live(app, records)

        refused = await app.post(OPERATOR, "/v1/admin/rebuild", workers=3)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert f"PROJECTOR_REBUILD_WORKERS={JOB_WORKERS}" in refused.json()["detail"]
        assert (await rebuild_status(app)) == {"state": "idle"}  # nothing planned, nothing to abandon

        await _fail_worker_one(fresh_database_url, times=1)
        start = await app.post(OPERATOR, "/v1/admin/rebuild")  # `lrs projector rebuild start`, no --workers
        assert start.status_code == 202, start.text
        assert [worker["worker"] for worker in start.json()["workers"]] == [0, 1]

        # Index 1's pod fails once; the Job's retry (already waiting on the worker's lock) finishes its slice.
        exits = await asyncio.gather(job_pod(settings, 0), job_pod(settings, 1), job_pod(settings, 1))
        assert sorted(exits) == [0, 0, 1]
        caught_up = await eventually(lambda: rebuild_in_state(app, "caught_up"), within=120, what="rebuild caught up")
        assert [worker["state"] for worker in caught_up["workers"]] == ["done", "done"]
        comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison


async def test_a_worker_the_job_gives_up_on_fails_the_rebuild_with_its_error(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    records = learners_log(new_ulns(300), regraded=True)
    prefix = await topics_holding(kafka_bootstrap, records)
    settings = projector_settings(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR) as app:
        await projected_live(app, records)
        await _fail_worker_one(fresh_database_url, times=ATTEMPTS)
        start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=JOB_WORKERS)
        assert start.status_code == 202, start.text

        # Index 1 fails on every attempt the Job makes (they queue on the worker's lock, as retries follow).
        exits = await asyncio.gather(job_pod(settings, 0), *(job_pod(settings, 1) for _ in range(ATTEMPTS)))
        assert exits == [0] + [1] * ATTEMPTS
        status = await rebuild_status(app)
        # read after the status: the supervisor gives up once the failed row is older than the retry window (by the
        # database's clock), so a row younger than it now was younger when the status was read, however slowly the
        # last pod's process ended on a loaded machine
        failed_for = await _unchanged_seconds(fresh_database_url, worker=1)
        assert status["state"] == "running" or failed_for > RETRY_SECONDS, (status, failed_for)

        failed = await eventually(
            lambda: rebuild_in_state(app, "failed"), within=RETRY_SECONDS + 30, what="the rebuild failed for its worker"
        )
        assert failed["phase"] == "loading"
        assert failed["last_error"].startswith("RebuildFailed: worker 1 failed and was not retried within 8 s")
        assert DISK_FULL in failed["last_error"]
        assert failed["eta_seconds"] is None
        assert [worker["state"] for worker in failed["workers"]] == ["done", "failed"]
        line = rebuild_line(failed)  # what `lrs projector rebuild status` prints
        assert "[failed: loading, 2 workers]" in line
        assert DISK_FULL in line
        assert "ETA" not in line
