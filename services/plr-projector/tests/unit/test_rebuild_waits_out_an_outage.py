"""A PostgreSQL restart under a rebuild is waited out: the rebuild goes on once the database is back, its status saying
what it waits for meanwhile, rather than failing in memory while plr_ops.rebuilds goes on saying running. A failure
recorded during an outage is recorded once the database is back, and an abandon is never answered with an error the
supervisor met long before (a 503 "PostgreSQL is not accepting connections now" on every try, until a restart)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from lrs_platform.consumer import RetryPolicy
from plr_projector import rebuild_jobs
from plr_projector.rebuild_jobs import RebuildJob, Rebuilds

TARGETS = {("lrs.plr.events.v1", 0): 600}


def _shutting_down() -> asyncpg.CannotConnectNowError:
    return asyncpg.CannotConnectNowError("the database system is shutting down")


class _Runner:
    def __init__(self) -> None:
        self.positions: dict[tuple[str, int], int] = {}
        self.stats = SimpleNamespace(last_error=None)

    async def stop(self) -> None:
        return None

    def retire_metrics(self) -> None:
        return None


def _job(phase: str) -> RebuildJob:
    return RebuildJob(
        rebuild_id=6,
        schema="plr_rebuild_6",
        runner=_Runner(),  # type: ignore[arg-type]
        targets=TARGETS,
        started_by="operator:ops",
        started_at=datetime(2026, 12, 6, tzinfo=UTC),
        resumed_monotonic=0.0,
        resumed_done=0,
        workers=2,
        phase=phase,
    )


class _Pool:
    """Records the statements; `down` of the first ones fail as a PostgreSQL shutting down makes them fail."""

    def __init__(self, down: int = 0) -> None:
        self.down = down
        self.fetched: list[str] = []

    async def fetch(self, statement: str, *arguments: Any) -> list[dict[str, Any]]:
        if self.down:
            self.down -= 1
            raise _shutting_down()
        self.fetched.append(statement)
        return []


@pytest.fixture(autouse=True)
def _no_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild_jobs, "SUPERVISOR_RETRY", RetryPolicy(base_seconds=0, max_seconds=0))


async def test_a_database_restart_during_indexing_is_waited_out_and_the_rebuild_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = _Pool()
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = job = _job("indexing")
    seen: list[dict[str, Any]] = []
    followed: list[int] = []

    async def finish_load(self: Rebuilds, job: RebuildJob) -> None:
        if not seen:
            seen.append({})
            raise asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed")
        seen.append(self.status())  # as the operator sees it while the database comes back
        job.phase = "following"

    async def follow(self: Rebuilds, job: RebuildJob) -> None:
        followed.append(job.rebuild_id)

    monkeypatch.setattr(Rebuilds, "_finish_load", finish_load)
    monkeypatch.setattr(Rebuilds, "_follow", follow)

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)

    assert len(seen) == 2, rebuilds.status()  # done again once the database was back, not failed
    waiting = seen[1]
    assert (waiting["state"], waiting["phase"]) == ("running", "indexing")
    assert waiting["last_error"].startswith("waiting for the database or Kafka to come back (InterfaceError: ")
    assert followed == [6]
    assert not any(statement.startswith("WITH failed AS") for statement in pool.fetched)  # not failed in the database
    status = rebuilds.status()
    assert (status["state"], status["phase"], status["last_error"]) == ("running", "following", None)


async def test_a_failure_met_while_the_database_is_away_is_recorded_once_it_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = _Pool(down=2)
    rebuilds = Rebuilds(pool=pool, live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = job = _job("indexing")

    async def finish_load(self: Rebuilds, job: RebuildJob) -> None:
        raise ValueError("an index could not be built")

    monkeypatch.setattr(Rebuilds, "_finish_load", finish_load)

    await asyncio.wait_for(rebuilds._supervise(job), timeout=5)  # ends, and without an exception

    assert any(statement.startswith("WITH failed AS") for statement in pool.fetched)  # the row says failed too
    status = rebuilds.status()
    assert (status["state"], status["last_error"]) == ("failed", "ValueError: an index could not be built")


class _Connection:
    def __init__(self) -> None:
        self.statements: list[str] = []

    async def execute(self, statement: str, *arguments: Any) -> None:
        self.statements.append(statement)

    async def __aenter__(self) -> _Connection:
        return self

    async def __aexit__(self, *exception: object) -> None:
        return None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


async def test_an_abandon_is_not_answered_with_the_supervisors_old_database_error() -> None:
    connection = _Connection()
    rebuilds = Rebuilds(pool=SimpleNamespace(acquire=lambda: connection), live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = job = _job("loading")

    async def ended_in_the_outage() -> None:
        raise _shutting_down()

    job.supervisor = asyncio.create_task(ended_in_the_outage())
    with contextlib.suppress(asyncpg.CannotConnectNowError):
        await job.supervisor
    job.state, job.error = "failed", "CannotConnectNowError: the database system is shutting down"

    assert await rebuilds.abandon("operator:ops") == {"state": "abandoned", "rebuild_id": 6}

    assert any(statement.startswith('DROP SCHEMA IF EXISTS "plr_rebuild_6"') for statement in connection.statements)
    assert any("SET state = $2, finished_at" in statement for statement in connection.statements)
    assert rebuilds.status()["last"]["state"] == "abandoned"
