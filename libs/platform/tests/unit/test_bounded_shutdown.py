"""Shutdown ends even when a loop or a client will not: a service must not outlive its grace period."""

from __future__ import annotations

import asyncio

import pytest
import structlog.testing

from lrs_platform.kafka import stop_within
from lrs_platform.service import BackgroundTasks


async def _ignores_cancellation(release: asyncio.Event) -> None:
    """A loop stuck where cancellation does not reach it (as a client's stop awaiting a broker can be)."""
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


async def test_stopping_background_tasks_leaves_a_loop_behind_that_ignores_cancellation() -> None:
    release = asyncio.Event()
    tasks = BackgroundTasks(stop_process_on_failure=False)
    stuck = tasks.start(_ignores_cancellation(release), "stuck")
    obedient = tasks.start(asyncio.sleep(3600), "obedient")
    await asyncio.sleep(0)  # both loops are running

    with structlog.testing.capture_logs() as logs:
        await tasks.stop(within=0.05)

    assert obedient.cancelled()
    assert not stuck.done()
    assert [entry["task"] for entry in logs if entry["event"] == "background_task_did_not_stop"] == ["stuck"]
    release.set()
    await stuck


async def test_a_loop_that_failed_is_stopped_without_raising_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("broken")

    tasks = BackgroundTasks(stop_process_on_failure=False)
    failed = tasks.start(fails(), "fails")
    await asyncio.sleep(0)

    await tasks.stop()

    assert isinstance(failed.exception(), RuntimeError)


async def test_a_client_whose_stop_hangs_is_abandoned_after_the_bound() -> None:
    release = asyncio.Event()

    with structlog.testing.capture_logs() as logs:
        await stop_within(_ignores_cancellation(release), "stuck consumer", seconds=0.05)

    assert [entry["client"] for entry in logs if entry["event"] == "client_stop_abandoned"] == ["stuck consumer"]
    release.set()


async def test_a_client_that_stops_in_time_has_its_error_raised() -> None:
    async def refuses() -> None:
        raise ConnectionError("broker gone")

    with pytest.raises(ConnectionError):
        await stop_within(refuses(), "consumer", seconds=5)
