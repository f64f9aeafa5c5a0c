"""A local rebuild worker killed by SIGKILL (what an out-of-memory kill looks like), at each of its starts: the rebuild
fails saying so and what bounds a worker's memory, and the worker's row is `failed` with that error, so that
`status.workers[].error` and `status.last_error` have something to read (docs/operations.md, Rebuild)."""

from __future__ import annotations

import asyncpg
import pytest
from tests.support.projector import running_projector
from tests.support.rebuilds import (
    OPERATOR,
    killed_until_the_rebuild_fails,
    learners_log,
    new_ulns,
    projected_live,
    topics_holding,
)

from lrs_cli.projector_commands import rebuild_line
from lrs_platform.database import advisory_lock_key

pytestmark = pytest.mark.integration

STARTS = 3  # rebuild_jobs.WORKER_STARTS


async def test_a_worker_killed_by_sigkill_fails_the_rebuild_saying_so_in_its_row_too(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    records = learners_log(new_ulns(200))
    prefix = await topics_holding(kafka_bootstrap, records)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix, rebuild_workers=2) as app:
            await projected_live(app, records)
            # Worker 1 of rebuild 1 (a fresh database) waits on its lock, held here, so that it is killed mid-way
            await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_key("plr-rebuild|1|1"))
            start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
            assert start.status_code == 202, start.text
            assert start.json()["rebuild_id"] == 1
            failed, killed = await killed_until_the_rebuild_fails(app, worker=1)
    finally:
        await holder.close()

    assert len(killed) == STARTS
    assert failed["phase"] == "loading"
    assert failed["eta_seconds"] is None
    why = failed["last_error"]
    assert why.startswith(f"RebuildFailed: worker 1 (started {STARTS} times) was killed by SIGKILL (out of memory?")
    assert "PROJECTOR_REBUILD_EVENTS_PER_PASS" in why
    # worker 0 is done, or stopped as the rebuild fails and its row says so (test_rebuild_stops_its_workers.py)
    assert failed["workers"][0]["state"] == "done" or failed["workers"][0]["error"] == "stopped: worker 1 failed"
    assert failed["workers"][1]["state"] == "failed"
    assert failed["workers"][1]["error"].startswith("was killed by SIGKILL (out of memory?")
    connection = await asyncpg.connect(fresh_database_url)
    try:
        row = await connection.fetchrow("SELECT state, error FROM plr_ops.rebuild_workers WHERE worker = 1")
    finally:
        await connection.close()
    assert (row["state"], row["error"]) == ("failed", failed["workers"][1]["error"])  # as the projector restarts
    line = rebuild_line(failed)  # what `lrs projector rebuild status` prints
    assert "[failed: loading, 2 workers]" in line
    assert "was killed by SIGKILL" in line
