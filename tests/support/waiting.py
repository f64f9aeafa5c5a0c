"""Waiting on a condition with a deadline: the only way tests synchronise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = 60.0,
    what: str = "condition",
    every: float | None = None,
) -> T:
    """Polls `probe` until it returns something truthy; fails after `within` seconds. Polls back off up to
    0.5 s apart, or come `every` seconds when a state may last only a moment (a point in a batch's life)."""
    deadline = time.monotonic() + within
    delay = every or 0.05
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(delay)
        if every is None:
            delay = min(delay * 1.5, 0.5)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last value: {last!r}")
