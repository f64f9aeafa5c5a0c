"""A rebuild's rate is the rate at which it reached its target: it does not fall as a caught-up rebuild waits."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from plr_projector.operations import RebuildJob, Rebuilds

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
