"""A process holding an advisory lock with `advisory_locked`'s bounds, to be frozen (SIGSTOP) as a replica is by a VM
stall: its kernel keeps its PostgreSQL session, as a frozen replica's does. It prints `held`, waits for a line on its
standard input, then ends its block (printing what its logs say) and prints `released`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

_HOLDER = """
import asyncio, sys
from lrs_platform.database import advisory_locked, create_pool

async def main(url, name, idle):
    pool = await create_pool(url, min_size=1, max_size=1)
    async with advisory_locked(pool, name, wait_seconds=30, idle_seconds=idle):
        print("held", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print("released", flush=True)
    await pool.close()

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


@dataclass
class Holder:
    process: asyncio.subprocess.Process

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def wake(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    async def end_its_block(self) -> str:
        """Lets the (woken) holder end its block; what it printed since it held the lock, its logs included."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()
        out = await asyncio.wait_for(self.process.stdout.read(), 30)
        assert await asyncio.wait_for(self.process.wait(), 30) == 0, out
        return out.decode()


@asynccontextmanager
async def holding(database_url: str, name: str, *, idle_seconds: float) -> AsyncIterator[Holder]:
    """A process holding the lock `name` (`advisory_locked` with `idle_seconds`), until the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLDER,
        database_url,
        name,
        str(idle_seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 60)
        assert first == b"held\n", first + await asyncio.wait_for(process.stdout.read(), 30)
        yield Holder(process)
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
            await process.wait()
