"""A switch (and a compare) reads, in its own transaction, the offsets each schema stored, and is refused unless they are
the offsets both projections were paused and lined up at: a rebuilt schema whose stored offsets ran ahead of its rows
made live would have its live runner start past events no projection applied, losing them silently (report-rebuild
finding 1: one partition's 19,131 achievements, after a switch that said it had succeeded)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from plr_projector.operations import OperationError, Refusal
from plr_projector.rebuild_jobs import RebuildJob, Rebuilds

P0, P1 = ("lrs.plr.events.v1", 0), ("lrs.plr.events.v1", 1)
LINED_UP = {P0: 64_008, P1: 77_886}


class _Model:
    def __init__(self, schema: str, stored: dict[tuple[str, int], int]) -> None:
        self.schema = schema
        self.stored = stored

    async def offsets(self, connection: Any) -> dict[tuple[str, int], int]:
        return dict(self.stored)


class _Runner:
    """Paused at `positions` (as a runner lined up is), its schema's stored offsets `stored`."""

    def __init__(self, schema: str, positions: dict[tuple[str, int], int], stored: dict[tuple[str, int], int]) -> None:
        self.lock = asyncio.Lock()
        self.positions = dict(positions)
        self.model = _Model(schema, stored)
        self.stats = SimpleNamespace(last_error=None)
        self.stopped = self.reloaded = False

    async def catch_up(self, targets: Mapping[tuple[str, int], int]) -> None:
        self.positions.update({key: max(self.positions.get(key, 0), target) for key, target in targets.items()})

    async def stop(self) -> None:
        self.stopped = True

    def retire_metrics(self) -> None:
        return None

    async def reload(self) -> None:
        self.reloaded = True


class _Connection:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.rolled_back = False

    async def execute(self, statement: str, *arguments: Any) -> str:
        self.statements.append(statement)
        return "UPDATE 1"

    async def __aenter__(self) -> _Connection:
        return self

    async def __aexit__(self, *exception: object) -> None:
        return None

    @contextlib.asynccontextmanager
    async def transaction(self, **options: Any) -> AsyncIterator[None]:
        try:
            yield
        except BaseException:
            self.rolled_back = True
            raise


class _Pool:
    def __init__(self) -> None:
        self.connection = _Connection()

    def acquire(self) -> _Connection:
        return self.connection

    async def expire_connections(self) -> None:
        return None


def _rebuilds(rebuilt_stored: dict[tuple[str, int], int]) -> tuple[Rebuilds, _Pool, _Runner, _Runner]:
    pool = _Pool()
    live = _Runner("plr", LINED_UP, dict(LINED_UP))
    rebuilt = _Runner("plr_rebuild_2", LINED_UP, rebuilt_stored)
    rebuilds = Rebuilds(pool=pool, live=live, make_runner=None, probe=None)  # type: ignore[arg-type]
    rebuilds.job = RebuildJob(
        rebuild_id=2,
        schema="plr_rebuild_2",
        runner=rebuilt,  # type: ignore[arg-type]
        targets={P0: 60_000, P1: 70_000},
        started_by="operator:ops",
        started_at=datetime(2026, 12, 6, tzinfo=UTC),
        resumed_monotonic=0.0,
        resumed_done=0,
        state="caught_up",
    )
    return rebuilds, pool, live, rebuilt


async def test_a_switch_is_refused_where_the_rebuilt_schemas_stored_offsets_ran_ahead_of_the_line_up() -> None:
    # lined up (in memory) at partition 0: 64,008, but its schema stored 83,113: 64,008..83,112 never applied to it
    rebuilds, pool, live, rebuilt = _rebuilds({P0: 83_113, P1: 77_886})

    with pytest.raises(OperationError) as refused:
        await rebuilds.switch("operator:ops")

    assert refused.value.refusal is Refusal.NOT_NOW
    assert "rebuilt lrs.plr.events.v1:0 stored 83,113, lined up at 64,008" in refused.value.detail
    assert not any(statement.startswith("ALTER SCHEMA") for statement in pool.connection.statements)
    assert pool.connection.rolled_back  # nothing marked switched either
    assert rebuilds.job is not None and not rebuilt.stopped and not live.reloaded


async def test_a_compare_is_refused_too_where_a_schemas_stored_offsets_are_not_the_line_ups() -> None:
    rebuilds, _, _, _ = _rebuilds({P0: 83_113, P1: 77_886})

    with pytest.raises(OperationError) as refused:
        await rebuilds.compare()

    assert refused.value.title == "Projections not lined up"


async def test_a_switch_lined_up_with_both_schemas_stored_there_goes_ahead() -> None:
    rebuilds, pool, live, rebuilt = _rebuilds(dict(LINED_UP))

    assert (await rebuilds.switch("operator:ops"))["state"] == "switched"

    assert [statement for statement in pool.connection.statements if statement.startswith("ALTER SCHEMA")] == [
        'ALTER SCHEMA "plr" RENAME TO "plr_retired_2"',
        'ALTER SCHEMA "plr_rebuild_2" RENAME TO "plr"',
    ]
    assert rebuilt.stopped and live.reloaded
