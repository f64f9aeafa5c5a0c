"""A local rebuild worker that dies (SIGKILL, as an out-of-memory kill looks) fails the rebuild saying how it died
and what bounds a worker's memory, with its row marked failed with that error, so that the status has something to
read; during indexing the status gives no ETA (every event is loaded, the keys and indexes are still being built)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from plr_projector import rebuild_jobs
from plr_projector.rebuild_jobs import WORKER_STARTS, RebuildJob, Rebuilds, RebuildSettings

from .rebuild_rows import RebuildRowsPool

TARGETS = {("lrs.plr.events.v1", 0): 600, ("lrs.plr.events.v1", 1): 400}
LOCAL_TWO = RebuildSettings(workers=2, launch="process", events_per_pass=250_000)


def _row(worker: int, state: str, error: str | None = None) -> dict[str, Any]:
    return {
        "worker": worker,
        "state": state,
        "passes": 1,
        "passes_done": 1 if state == "done" else 0,
        "events_total": 500,
        "events_read": 500 if state == "done" else 200,
        "cpu_seconds": 1.0,
        "error": error,
        "unchanged_seconds": 0.0,
    }


class _Process:
    """A worker process that has already ended with `returncode` (-9: killed by SIGKILL)."""

    def __init__(self, returncode: int) -> None:
        self.returncode = returncode

    def terminate(self) -> None:
        raise AssertionError("an ended process is not terminated")

    async def wait(self) -> int:
        return self.returncode


class _Running:
    """A worker process still at work, until it is terminated."""

    def __init__(self) -> None:
        self.returncode: int | None = None
        self.terminated = False

    def terminate(self) -> None:
        self.terminated = True
        self.returncode = -signal.SIGTERM

    async def wait(self) -> int | None:
        return self.returncode


def _job(phase: str) -> RebuildJob:
    runner: Any = SimpleNamespace(positions={}, stats=SimpleNamespace(last_error=None))
    return RebuildJob(
        rebuild_id=10,
        schema="plr_rebuild_10",
        runner=runner,
        targets=TARGETS,
        started_by="operator:ops",
        started_at=datetime(2026, 12, 6, tzinfo=UTC),
        resumed_monotonic=0.0,
        resumed_done=0,
        workers=2,
        phase=phase,
    )


def _spawning(
    monkeypatch: pytest.MonkeyPatch, returncodes: dict[int, int], running: dict[int, _Running] | None = None
) -> list[int]:
    """Every worker started ends at once with its return code, but those `running`; the workers started, in turn."""
    started: list[int] = []

    async def spawn(self: Rebuilds, job: RebuildJob, worker: int) -> _Process | _Running:
        started.append(worker)
        if running is not None and worker in running:
            return running[worker]
        return _Process(returncodes[worker])

    monkeypatch.setattr(rebuild_jobs, "WORKER_POLL_SECONDS", 0)
    monkeypatch.setattr(Rebuilds, "_spawn", spawn)
    return started


async def test_a_worker_killed_by_sigkill_fails_the_rebuild_saying_so_and_its_row_says_it_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = _spawning(monkeypatch, {1: -signal.SIGKILL})
    pool = RebuildRowsPool(
        [[_row(0, "done"), _row(1, "running")]]
    )  # a killed worker wrote nothing: its row reads running
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _job("loading")

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    assert started == [1] * WORKER_STARTS
    status = rebuilds.status()
    assert (status["state"], status["phase"], status["eta_seconds"]) == ("failed", "loading", None)
    said = status["last_error"]
    assert said.startswith(
        f"RebuildFailed: worker 1 (started {WORKER_STARTS} times) was killed by SIGKILL (out of memory?"
    )
    assert "PROJECTOR_REBUILD_EVENTS_PER_PASS, now 250000" in said
    assert "PROJECTOR_REBUILD_MAX_WORKERS" in said
    assert len(said) <= 300  # whole: the supervisor keeps 300 characters of an error
    worker = status["workers"][1]
    assert worker["state"] == "failed"
    assert worker["error"].startswith("was killed by SIGKILL (out of memory?")
    # the row is marked as the worker marks it when it fails by itself (a finished worker's never), then the rebuild
    (row_update, row_arguments), (rebuild_update, rebuild_arguments) = pool.executed
    assert row_update.startswith("UPDATE plr_ops.rebuild_workers SET state = 'failed', error = $3, updated_at = now()")
    assert row_update.endswith("WHERE rebuild_id = $1 AND worker = $2 AND state <> 'done'")
    assert row_arguments == (10, 1, worker["error"])
    assert rebuild_update.startswith("WITH failed AS (UPDATE plr_ops.rebuilds SET state = 'failed'")
    assert rebuild_arguments == (10, said, "stopped: worker 1 failed")
    assert status["workers"][0]["state"] == "done"  # a finished worker's row stays as it is


async def test_a_worker_exiting_with_a_status_fails_the_rebuild_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _spawning(monkeypatch, {0: 3})
    pool = RebuildRowsPool([[_row(0, "running"), _row(1, "done")]])
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _job("loading")

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    status = rebuilds.status()
    assert status["last_error"] == f"RebuildFailed: worker 0 (started {WORKER_STARTS} times) exited with status 3"
    assert (status["workers"][0]["state"], status["workers"][0]["error"]) == ("failed", "exited with status 3")


@pytest.mark.parametrize("returncode", [-signal.SIGTERM, -signal.SIGSEGV])
def test_another_signal_is_named_without_the_memory_hint(returncode: int) -> None:
    said = Rebuilds(pool=None, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)._exit_said(returncode)  # type: ignore[arg-type]
    assert said == f"was killed by {signal.Signals(-returncode).name}"


async def test_a_worker_that_failed_by_itself_keeps_its_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _spawning(monkeypatch, {1: 1})
    pool = RebuildRowsPool([[_row(0, "done"), _row(1, "failed", error="OSError: disk full")]])
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _job("loading")

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    status = rebuilds.status()
    assert status["last_error"] == "RebuildFailed: worker 1: OSError: disk full"
    assert (status["workers"][1]["state"], status["workers"][1]["error"]) == ("failed", "OSError: disk full")
    [(statement, _)] = pool.executed  # its row is the worker's own: only the rebuild (and any unfinished one) marked
    assert statement.startswith("WITH failed AS (UPDATE plr_ops.rebuilds SET state = 'failed'")


async def test_the_other_workers_of_a_rebuild_failed_for_one_are_stopped_and_their_rows_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker_zero = _Running()
    started = _spawning(monkeypatch, {1: -signal.SIGKILL}, running={0: worker_zero})
    pool = RebuildRowsPool([[_row(0, "running"), _row(1, "running")]])
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _job("loading")

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    assert started.count(1) == WORKER_STARTS and started.count(0) == 1
    assert worker_zero.terminated  # its process stopped: it writes no more into the failed rebuild's schema
    (_, _), (fail_statement, fail_arguments) = pool.executed
    assert "UPDATE plr_ops.rebuild_workers AS w SET state = 'failed', error = $3" in fail_statement
    assert fail_statement.endswith("w.state IN ('pending', 'running') RETURNING w.worker")
    assert fail_arguments[2] == "stopped: worker 1 failed"
    status = rebuilds.status()
    assert [(worker["state"], worker["error"]) for worker in status["workers"]] == [
        ("failed", "stopped: worker 1 failed"),
        ("failed", status["workers"][1]["error"]),
    ]
    assert status["workers"][1]["error"].startswith("was killed by SIGKILL")


async def test_a_worker_that_finished_as_the_rebuild_failed_for_another_says_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker_zero = _Running()
    _spawning(monkeypatch, {1: -signal.SIGKILL}, running={0: worker_zero})
    # worker 0 writes `done` after the supervisor last read the rows, before the rebuild is failed
    pool = RebuildRowsPool([[_row(0, "running"), _row(1, "running")]], finishing=(0,))
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _job("loading")

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    status = rebuilds.status()
    assert status["state"] == "failed"
    assert (status["workers"][0]["state"], status["workers"][0]["error"]) == ("done", None)  # as its row says
    assert status["workers"][1]["state"] == "failed"


def test_indexing_gives_no_eta_though_every_event_is_loaded() -> None:
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = _job("indexing")
    rebuilds.job.worker_rows = [_row(0, "done"), _row(1, "done")]

    status = rebuilds.status()

    assert (status["state"], status["phase"], status["progress"]) == ("running", "indexing", 1.0)
    assert status["eta_seconds"] is None


async def test_a_worker_that_wrote_done_and_exited_after_the_rows_were_read_is_not_started_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = _spawning(monkeypatch, {1: 0})
    # read before it wrote `done` (twice: as it is started, and as its exit is seen), then after
    pool = RebuildRowsPool([[_row(0, "done"), _row(1, "running")]] * 2 + [[_row(0, "done"), _row(1, "done")]])
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=LOCAL_TWO)  # type: ignore[arg-type]

    await asyncio.wait_for(rebuilds._await_workers(_job("loading")), timeout=5)

    assert started == [1]
