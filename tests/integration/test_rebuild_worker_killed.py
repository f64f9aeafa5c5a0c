"""A local rebuild worker killed by SIGKILL (what an out-of-memory kill looks like), at each of its starts: the rebuild
fails saying so and what bounds a worker's memory, and the worker's row is `failed` with that error, so that
`status.workers[].error` and `status.last_error` have something to read (docs/operations.md, Rebuild)."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
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
    registered,
    running_projector,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_cli.projector_commands import rebuild_line
from lrs_platform.database import advisory_lock_key

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
STARTS = 3  # rebuild_jobs.WORKER_STARTS


def _log(learners: int = 200) -> list[Record]:
    base = uuid.uuid4().int % 50_000_000
    events = Events()
    records: list[Record] = []
    for index in range(learners):
        uln = uln_for(base + index)
        records.append(Record(LEARNERS, uln, envelope_bytes(registered(uln), sequence=index * 10)))
        records.append(Record(PLR, uln, envelope_bytes(events.recorded(uln), sequence=index * 10 + 1)))
    return records


def _workers_one() -> list[int]:
    """The processes of rebuild worker 1 this test's projector started (its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        ours = parent == os.getpid() and b"plr_projector.rebuild" in command and b"--worker" in command
        if ours and command[command.index(b"--worker") + 1] == b"1":
            found.append(int(entry.name))
    return found


async def _status(app: App) -> dict[str, Any]:
    answer = await app.get(OPERATOR, "/v1/admin/rebuild")
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


async def test_a_worker_killed_by_sigkill_fails_the_rebuild_saying_so_in_its_row_too(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    records = _log()
    await produce(kafka_bootstrap, prefix, records)
    holder = await asyncpg.connect(fresh_database_url)
    try:
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix, rebuild_workers=2) as app:

            async def projected() -> bool:
                return sum((await stored_offsets(app.database_url)).values()) >= len(records)

            await eventually(projected, within=60, what="live projection")
            # Worker 1 of rebuild 1 (a fresh database) waits on its lock, held here, so that it is killed mid-way
            await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_key("plr-rebuild|1|1"))
            start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
            assert start.status_code == 202, start.text
            assert start.json()["rebuild_id"] == 1

            killed: set[int] = set()

            async def kill_worker_one() -> dict[str, Any] | None:
                for pid in set(_workers_one()) - killed:
                    os.kill(pid, signal.SIGKILL)  # a process this test's projector started
                    killed.add(pid)
                status = await _status(app)
                return status if status["state"] == "failed" else None

            failed = await eventually(kill_worker_one, within=120, what="the rebuild failed for its killed worker")
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
