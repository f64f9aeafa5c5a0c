"""A stand-in for an asyncpg pool in tests of how many connections a change holds at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class BoundedPool:
    """As an asyncpg pool is for this: at most `size` connections out at once, and `acquire` waits for one."""

    def __init__(self, size: int) -> None:
        self._free = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        async with self._free:
            await asyncio.sleep(0)
            yield
