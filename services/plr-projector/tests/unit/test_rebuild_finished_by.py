"""Who switched to or abandoned a rebuild is kept with it (plr_ops.rebuilds' `finished_by`, as `started_by` for who
started it) and shown by the rebuild status once it has ended; a switch asked too early names the command that
follows the rebuild's progress."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from plr_projector.operations import OperationError
from plr_projector.rebuild_jobs import RebuildJob, Rebuilds

TARGETS = {("lrs.plr.events.v1", 0): 600}


def _job(positions: dict[tuple[str, int], int]) -> RebuildJob:
    runner: Any = SimpleNamespace(positions=positions, stats=SimpleNamespace(last_error=None))
    return RebuildJob(
        rebuild_id=4,
        schema="plr_rebuild_4",
        runner=runner,
        targets=TARGETS,
        started_by="operator:starter",
        started_at=datetime(2026, 12, 3, tzinfo=UTC),
        resumed_monotonic=100.0,
        resumed_done=0,
    )


class _Connection:
    """Records each statement with its arguments."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, statement: str, *arguments: Any) -> None:
        self.statements.append((statement, arguments))

    async def __aenter__(self) -> _Connection:
        return self

    async def __aexit__(self, *exception: object) -> None:
        return None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


class _Runner:
    async def stop(self) -> None:
        return None

    def retire_metrics(self) -> None:
        return None


async def test_an_abandon_records_and_shows_who_abandoned_the_rebuild() -> None:
    connection = _Connection()
    rebuilds = Rebuilds(pool=SimpleNamespace(acquire=lambda: connection), live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = _job(dict(TARGETS))
    rebuilds.job.runner = _Runner()  # type: ignore[assignment]

    await rebuilds.abandon("operator:alex")

    (marked,) = [
        (statement, arguments)
        for statement, arguments in connection.statements
        if statement.startswith("UPDATE plr_ops.rebuilds")
    ]
    assert "finished_by = $4" in marked[0]
    assert (marked[1][0], marked[1][1], marked[1][3]) == (4, "abandoned", "operator:alex")
    status = rebuilds.status()
    assert status["state"] == "idle"
    assert {key: status["last"][key] for key in ("rebuild_id", "state", "finished_by")} == {
        "rebuild_id": 4,
        "state": "abandoned",
        "finished_by": "operator:alex",
    }
    assert status["last"]["finished_at"] == marked[1][2].isoformat()  # the time recorded, not another
    with pytest.raises(OperationError) as refused:
        await rebuilds.abandon("operator:sam")  # sent twice: says who ended it
    assert "Rebuild 4 was abandoned by operator:alex" in refused.value.detail


async def test_the_last_ended_rebuild_and_who_ended_it_are_read_back_at_start() -> None:
    finished_at = datetime(2026, 12, 6, 6, 29, tzinfo=UTC)
    rows = iter(
        [{"rebuild_id": 8, "state": "switched", "finished_by": "operator:alex", "finished_at": finished_at}, None]
    )

    async def fetchrow(statement: str, *arguments: Any) -> dict[str, Any] | None:
        return next(rows)

    rebuilds = Rebuilds(pool=SimpleNamespace(fetchrow=fetchrow), live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    await rebuilds.resume()

    assert rebuilds.status() == {
        "state": "idle",
        "last": {
            "rebuild_id": 8,
            "state": "switched",
            "finished_by": "operator:alex",
            "finished_at": "2026-12-06T06:29:00+00:00",
        },
    }


async def test_a_switch_before_the_rebuild_caught_up_names_the_command_to_follow_it() -> None:
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = _job({("lrs.plr.events.v1", 0): 100})

    with pytest.raises(OperationError) as refused:
        await rebuilds.switch("operator:alex")

    assert refused.value.detail.endswith(
        "It is still reading the log: follow its progress with `lrs projector rebuild status --follow`."
    )
