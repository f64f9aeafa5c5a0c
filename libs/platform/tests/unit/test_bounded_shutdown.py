"""Shutdown ends even when a loop or a client will not: a service must not outlive its grace period."""

from __future__ import annotations

import asyncio
import contextlib

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


class HangingClient:
    """A Kafka client whose `stop()` never ends: a consumer waiting on its coordinator through a long rebalance."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.stopping = False

    async def stop(self) -> None:
        self.stopping = True
        await _ignores_cancellation(self.release)


class Client:
    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


async def test_a_lifespans_stops_go_on_past_a_client_that_hangs() -> None:
    """As a service's lifespan stops its clients (the PLR projector's exit stack): one whose stop hangs is left
    behind after the bound, and the next is stopped."""
    hanging, after = HangingClient(), Client()

    with structlog.testing.capture_logs() as logs:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(stop_within, after, "producer", 5)
            stack.push_async_callback(stop_within, hanging, "live runner", 0.05)

    assert hanging.stopping and after.stopped
    assert [entry["client"] for entry in logs if entry["event"] == "client_stop_abandoned"] == ["live runner"]
    hanging.release.set()


async def test_a_shutdown_cancelled_while_a_client_stops_cancels_the_stop() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    class Slow:
        async def stop(self) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

    stopping = asyncio.create_task(stop_within(Slow(), "consumer", seconds=3600))
    await asyncio.wait_for(started.wait(), 5)
    stopping.cancel()

    with pytest.raises(asyncio.CancelledError):
        await stopping
    await asyncio.wait_for(cancelled.wait(), 5)
