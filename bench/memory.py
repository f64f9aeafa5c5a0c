"""Peak resident memory of each service process (and its children), sampled every half second, and
the CPU time each used in the same span."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import psutil

INTERVAL_SECONDS = 0.5


def rss_bytes(pid: int) -> int:
    """RSS of a process and all its descendants; 0 once it is gone."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)
    except psutil.Error:
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants; 0 once it is gone."""
    try:
        processes = [psutil.Process(pid)]
        processes += processes[0].children(recursive=True)
        total = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + getattr(times, "nice", 0.0) + getattr(times, "steal", 0.0))


class PeakMemory:
    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self.peak: dict[str, int] = dict.fromkeys(self.pids, 0)
        self.samples = 0
        self._cpu_start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine_start = _machine_busy_seconds()
        self.cpu: dict[str, float] = {}

    def stop(self) -> None:
        self.sample()
        self.cpu = {name: round(cpu_seconds(pid) - self._cpu_start[name], 1) for name, pid in self.pids.items()}
        # Everything the machine did meanwhile (the services, Kafka, PostgreSQL, the benchmark itself
        # and whatever else runs there): much more than the parts named means a contended run.
        self.cpu["machine"] = round(_machine_busy_seconds() - self._machine_start, 1)

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], rss_bytes(pid))
        self.samples += 1

    def peak_mb(self) -> dict[str, float]:
        return {name: round(value / 1_048_576, 1) for name, value in self.peak.items()}


@contextlib.asynccontextmanager
async def sampling(pids: Mapping[str, int | None]) -> AsyncIterator[PeakMemory]:
    """Samples in the background while the block runs (and once at each end)."""
    memory = PeakMemory(pids)

    async def loop() -> None:
        while True:
            await asyncio.to_thread(memory.sample)
            await asyncio.sleep(INTERVAL_SECONDS)

    memory.sample()
    task = asyncio.create_task(loop())
    try:
        yield memory
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        memory.stop()
