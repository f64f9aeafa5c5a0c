"""A rebuild whose workers run as an indexed Job (`PROJECTOR_REBUILD_LAUNCH=external`, each worker
`python -m plr_projector.rebuild` with `JOB_COMPLETION_INDEX`, as on Kubernetes): it plans the Job's workers and
refuses another count; a worker the Job retries after a failure finishes it; one the Job gives up on fails it,
with the worker and its error, instead of leaving it loading for ever."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import asyncpg
import pytest
from tests.support.projector import (
    LEARNERS,
    PLR,
    App,
    Events,
    Record,
    create_topics,
    envelope_bytes,
    new_prefix,
    produce,
    projector_settings,
    registered,
    running_projector,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_cli.projector_commands import rebuild_line
from plr_projector.rebuild import worker_environment

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
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


def _log(learners: int = 300) -> list[Record]:
    base = uuid.uuid4().int % 50_000_000
    events = Events()
    records: list[Record] = []
    for index in range(learners):
        uln = uln_for(base + index)
        records.append(Record(LEARNERS, uln, envelope_bytes(registered(uln), sequence=index * 10)))
        records.append(Record(PLR, uln, envelope_bytes(events.recorded(uln), sequence=index * 10 + 1)))
        records.append(Record(PLR, uln, envelope_bytes(events.updated(uln, grade="8"), sequence=index * 10 + 2)))
    return records


async def _job_index(settings: Any, index: int) -> int:
    """One pod of the rebuild Job: the image's command, its index in JOB_COMPLETION_INDEX; its exit status."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plr_projector.rebuild",
        env={**worker_environment(settings), "JOB_COMPLETION_INDEX": str(index)},
    )
    return await asyncio.wait_for(process.wait(), timeout=180)


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


async def _projected(app: App, records: list[Record]) -> None:
    async def all_stored() -> bool:
        return sum((await stored_offsets(app.database_url)).values()) >= len(records)

    await eventually(all_stored, within=60, what="live projection")


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


async def _status(app: App) -> dict[str, Any]:
    answer = await app.get(OPERATOR, "/v1/admin/rebuild")
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


async def _state(app: App, state: str) -> dict[str, Any] | None:
    status = await _status(app)
    return status if status["state"] == state else None


async def test_a_job_rebuild_refuses_another_worker_count_and_finishes_with_a_worker_retried_after_a_failure(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    records = _log()
    await produce(kafka_bootstrap, prefix, records)
    settings = projector_settings(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR) as app:
        await _projected(app, records)

        refused = await app.post(OPERATOR, "/v1/admin/rebuild", workers=3)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert f"PROJECTOR_REBUILD_WORKERS={JOB_WORKERS}" in refused.json()["detail"]
        assert (await _status(app)) == {"state": "idle"}  # nothing planned, nothing to abandon

        await _fail_worker_one(fresh_database_url, times=1)
        start = await app.post(OPERATOR, "/v1/admin/rebuild")  # `lrs projector rebuild start`, no --workers
        assert start.status_code == 202, start.text
        assert [worker["worker"] for worker in start.json()["workers"]] == [0, 1]

        # Index 1's pod fails once; the Job's retry (already waiting on the worker's lock) finishes its slice.
        exits = await asyncio.gather(_job_index(settings, 0), _job_index(settings, 1), _job_index(settings, 1))
        assert sorted(exits) == [0, 0, 1]
        caught_up = await eventually(lambda: _state(app, "caught_up"), within=120, what="rebuild caught up")
        assert [worker["state"] for worker in caught_up["workers"]] == ["done", "done"]
        comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison


async def test_a_worker_the_job_gives_up_on_fails_the_rebuild_with_its_error(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    records = _log()
    await produce(kafka_bootstrap, prefix, records)
    settings = projector_settings(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **JOB_PROJECTOR) as app:
        await _projected(app, records)
        await _fail_worker_one(fresh_database_url, times=ATTEMPTS)
        start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=JOB_WORKERS)
        assert start.status_code == 202, start.text

        # Index 1 fails on every attempt the Job makes (they queue on the worker's lock, as retries follow).
        exits = await asyncio.gather(_job_index(settings, 0), *(_job_index(settings, 1) for _ in range(ATTEMPTS)))
        assert exits == [0] + [1] * ATTEMPTS
        status = await _status(app)
        # read after the status: the supervisor gives up once the failed row is older than the retry window (by the
        # database's clock), so a row younger than it now was younger when the status was read, however slowly the
        # last pod's process ended on a loaded machine
        failed_for = await _unchanged_seconds(fresh_database_url, worker=1)
        assert status["state"] == "running" or failed_for > RETRY_SECONDS, (status, failed_for)

        failed = await eventually(
            lambda: _state(app, "failed"), within=RETRY_SECONDS + 30, what="the rebuild failed for its worker"
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
