"""A rebuild whose workers an indexed Job runs (PROJECTOR_REBUILD_LAUNCH=external) plans the Job's workers and
no others, and fails once the Job has given up on a worker, instead of loading for ever."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector import rebuild_jobs
from plr_projector.api import admin_router, operation_problem
from plr_projector.config import ProjectorSettings
from plr_projector.endpoints import projector_of
from plr_projector.operations import OperationError, Refusal
from plr_projector.rebuild_jobs import RebuildJob, Rebuilds, RebuildSettings, given_up

from .rebuild_rows import RebuildRowsPool

TARGETS = {("lrs.plr.events.v1", 0): 600, ("lrs.plr.events.v1", 1): 400}
JOB_OF_TWO = RebuildSettings(workers=2, launch="external", job_workers=2, worker_retry_seconds=300)


def _worker(worker: int, state: str, unchanged_seconds: float = 0.0, error: str | None = None) -> dict[str, Any]:
    return {
        "worker": worker,
        "state": state,
        "passes": 1,
        "passes_done": 1 if state == "done" else 0,
        "events_total": 500,
        "events_read": 500 if state == "done" else 200,
        "cpu_seconds": 1.0,
        "error": error,
        "unchanged_seconds": unchanged_seconds,
    }


# --- the workers a Job's rebuild plans -----------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3, 4])
async def test_a_job_rebuild_refuses_a_worker_count_the_job_does_not_run(workers: int) -> None:
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None, settings=JOB_OF_TWO)  # type: ignore[arg-type]
    with pytest.raises(OperationError) as refused:
        await rebuilds.start("operator:ops", workers)
    assert refused.value.refusal is Refusal.INVALID
    assert "PROJECTOR_REBUILD_WORKERS=2" in refused.value.detail
    assert "parallelism and completions" in refused.value.detail
    assert rebuilds.job is None


def test_a_job_rebuild_plans_the_jobs_workers_unless_told_to_load_none() -> None:
    assert JOB_OF_TWO.planned_workers(None) == 2  # `lrs projector rebuild start` without --workers
    assert JOB_OF_TWO.planned_workers(2) == 2
    assert JOB_OF_TWO.planned_workers(0) == 0  # the live code path: no Job needed


def test_workers_started_here_or_by_whoever_asks_are_as_many_as_asked_for() -> None:
    assert RebuildSettings(workers=2, launch="process").planned_workers(3) == 3
    assert RebuildSettings(workers=2, launch="external").planned_workers(3) == 3  # no Job size given: a benchmark


def test_the_job_size_is_the_projectors_worker_setting_where_a_job_runs_them() -> None:
    external = ProjectorSettings(rebuild_launch="external", rebuild_workers=4, rebuild_worker_retry_seconds=90)
    assert (RebuildSettings.of(external).job_workers, RebuildSettings.of(external).worker_retry_seconds) == (4, 90)
    assert RebuildSettings.of(ProjectorSettings(rebuild_workers=4)).job_workers is None


async def test_the_refusal_is_422_problem_json_at_the_edge() -> None:
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None, settings=JOB_OF_TWO)  # type: ignore[arg-type]
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(admin_router)
    app.add_exception_handler(OperationError, operation_problem)  # as the projector's app has it
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    app.dependency_overrides[projector_of] = lambda: SimpleNamespace(takes_operator_actions=True, rebuilds=rebuilds)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr") as client:
        answer = await client.post("/v1/admin/rebuild", params={"workers": 3})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "PROJECTOR_REBUILD_WORKERS=2" in answer.json()["detail"]


# --- a worker the Job has given up on ------------------------------------------------------------


def test_a_worker_failed_for_longer_than_any_retry_takes_is_given_up() -> None:
    failed_for_good = _worker(1, "failed", unchanged_seconds=301, error="RuntimeError: disk full")
    assert given_up([_worker(0, "done", 900), failed_for_good], 300) == failed_for_good


@pytest.mark.parametrize(
    "row",
    [
        _worker(1, "failed", unchanged_seconds=12),  # the Job's retry has not started yet
        _worker(1, "running", unchanged_seconds=900),  # a retry is loading (its progress is slow to show)
        _worker(1, "pending", unchanged_seconds=900),  # the Job is not applied yet
        _worker(1, "done", unchanged_seconds=900),
    ],
)
def test_a_worker_retried_or_still_to_be_retried_is_not_given_up(row: dict[str, Any]) -> None:
    assert given_up([_worker(0, "done"), row], 300) is None


def _loading() -> RebuildJob:
    runner: Any = SimpleNamespace(positions={}, stats=SimpleNamespace(last_error=None))
    return RebuildJob(
        rebuild_id=7,
        schema="plr_rebuild_7",
        runner=runner,
        targets=TARGETS,
        started_by="operator:ops",
        started_at=datetime(2026, 12, 5, tzinfo=UTC),
        resumed_monotonic=0.0,
        resumed_done=0,
        workers=2,
        phase="loading",
    )


async def test_a_job_rebuild_fails_naming_the_worker_the_job_gave_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild_jobs, "WORKER_POLL_SECONDS", 0)
    pool = RebuildRowsPool(
        [[_worker(0, "done"), _worker(1, "failed", unchanged_seconds=301, error="RuntimeError: disk full")]]
    )
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=JOB_OF_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _loading()

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)  # not loading for ever

    status = rebuilds.status()
    assert (status["state"], status["phase"], status["eta_seconds"]) == ("failed", "loading", None)
    assert status["last_error"].startswith("RebuildFailed: worker 1 failed and was not retried within 300 s")
    assert status["last_error"].endswith("RuntimeError: disk full")
    [(statement, arguments)] = pool.executed
    assert statement.startswith("WITH failed AS (UPDATE plr_ops.rebuilds SET state = 'failed'")
    assert arguments == (7, status["last_error"], "stopped: worker 1 failed")
    assert [worker["state"] for worker in status["workers"]] == ["done", "failed"]


async def test_the_other_workers_of_a_job_rebuild_failed_for_one_are_ended_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rebuild_jobs, "WORKER_POLL_SECONDS", 0)
    lost = _worker(1, "failed", unchanged_seconds=301, error="RuntimeError: disk full")
    pool = RebuildRowsPool([[_worker(0, "running"), lost]])
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=JOB_OF_TWO)  # type: ignore[arg-type]
    rebuilds.job = job = _loading()

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    status = rebuilds.status()
    # worker 0's pod finds its row ended at its next report, and stops (`rebuild._report`)
    assert [(worker["state"], worker["error"]) for worker in status["workers"]] == [
        ("failed", "stopped: worker 1 failed"),
        ("failed", "RuntimeError: disk full"),
    ]


async def test_a_worker_the_job_retries_after_a_failure_does_not_fail_the_rebuild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rebuild_jobs, "WORKER_POLL_SECONDS", 0)
    pool = RebuildRowsPool(
        [
            [_worker(0, "done"), _worker(1, "failed", unchanged_seconds=0.5, error="OSError: connection reset")],
            [_worker(0, "done"), _worker(1, "failed", unchanged_seconds=45, error="OSError: connection reset")],
            [_worker(0, "done"), _worker(1, "running", unchanged_seconds=0.1)],  # the Job's retry has begun
            [_worker(0, "done"), _worker(1, "done")],
        ]
    )
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None, settings=JOB_OF_TWO)  # type: ignore[arg-type]
    job = _loading()

    await asyncio.wait_for(rebuilds._await_workers(job), timeout=5)  # returns once every worker is done

    assert [row["state"] for row in job.worker_rows] == ["done", "done"]
    assert pool.executed == []


# --- a pod that holds one worker -----------------------------------------------------------------


def test_a_projector_refuses_more_workers_than_its_pod_holds() -> None:
    settings = RebuildSettings.of(ProjectorSettings(rebuild_workers=1, rebuild_max_workers=1))
    assert settings.planned_workers(None) == 1
    assert settings.planned_workers(1) == 1
    assert settings.planned_workers(0) == 0
    with pytest.raises(OperationError) as refused:
        settings.planned_workers(4)
    assert refused.value.refusal is Refusal.INVALID
    assert "PROJECTOR_REBUILD_MAX_WORKERS=1" in refused.value.detail
    assert "a rebuild of 4 was not started" in refused.value.detail


def test_the_default_workers_are_bounded_by_the_pod_too() -> None:
    settings = RebuildSettings.of(ProjectorSettings(rebuild_max_workers=1))
    assert settings.planned_workers(None) == 1


@pytest.mark.parametrize("ceiling", [0, -1])
def test_a_ceiling_of_no_workers_is_refused_at_start(ceiling: int) -> None:
    with pytest.raises(ValueError, match="rebuild_max_workers"):
        ProjectorSettings(rebuild_max_workers=ceiling)
