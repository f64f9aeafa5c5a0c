"""A rebuild's rate is the rate at which it reached its target: it does not fall as a caught-up rebuild waits."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from plr_projector import metrics
from plr_projector.rebuild_jobs import RebuildJob, Rebuilds

TARGETS = {("lrs.plr.events.v1", 0): 600, ("lrs.plr.events.v1", 1): 400}


def _following(positions: dict[tuple[str, int], int]) -> RebuildJob:
    runner: Any = SimpleNamespace(positions=positions, stats=SimpleNamespace(last_error=None))
    return RebuildJob(
        rebuild_id=1,
        schema="plr_rebuild_1",
        runner=runner,
        targets=TARGETS,
        started_by="operator:ops",
        started_at=datetime(2026, 12, 3, tzinfo=UTC),
        resumed_monotonic=100.0,
        resumed_done=0,
    )


def test_the_rate_stops_at_the_moment_the_target_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    positions = {("lrs.plr.events.v1", 0): 300, ("lrs.plr.events.v1", 1): 200}
    rebuilds.job = _following(positions)
    clock = iter([110.0, 120.0, 500.0])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))

    halfway = rebuilds.status()
    assert (halfway["state"], halfway["events_per_second"], halfway["eta_seconds"]) == ("running", 50.0, 10.0)

    positions.update(TARGETS)
    reached = rebuilds.status()
    assert (reached["state"], reached["events_per_second"], reached["eta_seconds"]) == ("caught_up", 50.0, 0.0)

    later = rebuilds.status()  # 380 s later: still the rate of the rebuild, not of its wait
    assert (later["state"], later["events_per_second"]) == ("caught_up", 50.0)


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
        self.statements.append("BEGIN")
        yield
        self.statements.append("COMMIT")


class _Runner:
    def __init__(self) -> None:
        self.stopped = self.retired = False

    async def stop(self) -> None:
        self.stopped = True

    def retire_metrics(self) -> None:
        self.retired = True


async def test_an_abandoned_rebuild_drops_its_schema_and_leaves_no_progress_or_series_behind() -> None:
    connection, runner = _Connection(), _Runner()
    rebuilds = Rebuilds(pool=SimpleNamespace(acquire=lambda: connection), live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = _following(dict(TARGETS))
    rebuilds.job.runner = runner  # type: ignore[assignment]
    metrics.REBUILD_PROGRESS.set(0.75)

    assert await rebuilds.abandon("operator:ops") == {"state": "abandoned", "rebuild_id": 1}

    assert 'DROP SCHEMA IF EXISTS "plr_rebuild_1" CASCADE' in connection.statements
    # one transaction: a schema dropped under a rebuild still marked running would fail the next start
    assert [statement.split()[0] for statement in connection.statements] == [
        "BEGIN",
        "DROP",
        "UPDATE",
        "UPDATE",
        "COMMIT",
    ]
    # and its workers not done ended with it: no row of it looks alive
    assert connection.statements[3].startswith("UPDATE plr_ops.rebuild_workers SET state = 'failed'")
    assert (runner.stopped, runner.retired) == (True, True)
    assert rebuilds.status()["state"] == "idle"
    assert REGISTRY.get_sample_value("lrs_projector_rebuild_progress_ratio") == 0
