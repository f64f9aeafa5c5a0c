"""Reporting's faust app is stopped for at most its bound: faust's own stop, with the broker away, swallows the
cancellation `asyncio.wait_for` sends it, and `faust_app_running(stop_timeout=30)` then waited for ever."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from reporting import bootstrap


class _AppWhoseStopIgnoresCancellation:
    conf = type("Conf", (), {"autodiscover": False})()

    def __init__(self) -> None:
        self.stopping = False

    def finalize(self) -> None:
        pass

    async def maybe_start(self) -> bool:
        return True

    async def stop(self) -> None:
        self.stopping = True
        never = asyncio.Event()
        # as faust's stop does while its consumer waits for the broker (the loop's end cancels it again)
        with contextlib.suppress(asyncio.CancelledError):
            await never.wait()
        await never.wait()


async def test_a_stop_that_ignores_its_cancellation_is_abandoned_after_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bootstrap, "bind_to_running_loop", lambda app: None)
    app: Any = _AppWhoseStopIgnoresCancellation()

    async def run() -> None:
        async with bootstrap.faust_running(app, stop_seconds=0.2):
            pass

    await asyncio.wait_for(run(), timeout=5)

    assert app.stopping
