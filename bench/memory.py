"""Peak resident memory of each service process (and its children), sampled every half second, and
the CPU time each used in the same span, beside that of Kafka, PostgreSQL and the benchmark's own client."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import urlsplit

import psutil

INTERVAL_SECONDS = 0.5


def rss_bytes(pid: int) -> int:
    """RSS of a process and all its descendants; 0 once it is gone."""
    return sum(each_rss_bytes(pid))


def each_rss_bytes(pid: int, children: Mapping[int, list[int]] | None = None) -> list[int]:
    """RSS of a process and of each of its descendants, one by one; empty once it is gone. `children`:
    the machine's processes by parent (`children_by_parent`), read once for many calls."""
    children = children_by_parent() if children is None else children
    try:
        sizes = [int(psutil.Process(pid).memory_info().rss)]
    except psutil.Error:
        return []
    waiting = list(children.get(pid, ()))
    while waiting:
        child = waiting.pop()
        waiting += children.get(child, ())
        with contextlib.suppress(psutil.Error):
            sizes.append(int(psutil.Process(child).memory_info().rss))
    return sizes


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over the process table: `Process.children` reads the
    whole table for each call, which for six services every half second was a fifth of the
    benchmark client's own CPU during the sustained run (CPU the measured machine then lacked)."""
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        parent = process.info["ppid"]
        if parent is not None:
            children.setdefault(int(parent), []).append(process.pid)
    return children


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


def _server_cpu_seconds(pid: int) -> float:
    """A server's CPU time with its children's, the live ones and those already ended and reaped
    (PostgreSQL's backends come and go with the pools' connections)."""
    try:
        times = psutil.Process(pid).cpu_times()
        return cpu_seconds(pid) + float(times.children_user + times.children_system)
    except psutil.Error:
        return 0.0


def _own_cpu_seconds() -> float:
    """The benchmark's client alone: its services are its children and counted apart."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def _listening_pid(port: int) -> int | None:
    with contextlib.suppress(psutil.Error):
        for connection in psutil.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
                return int(connection.pid)
    return None


def infrastructure(kafka_bootstrap: str, database_url: str) -> dict[str, Callable[[], float]]:
    """How to read the CPU time of the broker and the database server the system uses (found by the port
    they listen on, when they run on this machine) and of the benchmark's own process."""
    readers: dict[str, Callable[[], float]] = {"benchmark client": _own_cpu_seconds}
    ports = {
        "kafka": int(kafka_bootstrap.split(",")[0].rsplit(":", 1)[1]),
        "postgresql": urlsplit(database_url).port or 5432,
    }
    for name, port in ports.items():
        pid = _listening_pid(port)
        if pid is not None and pid != os.getpid():
            readers[name] = lambda pid=pid: _server_cpu_seconds(pid)  # type: ignore[misc]
    return readers


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + getattr(times, "nice", 0.0) + getattr(times, "steal", 0.0))


class PeakMemory:
    def __init__(self, pids: Mapping[str, int | None], others: Mapping[str, Callable[[], float]] | None = None) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self.peak: dict[str, int] = dict.fromkeys(self.pids, 0)
        self.largest: dict[str, int] = dict.fromkeys(self.pids, 0)  # the largest single process of each
        self.samples = 0
        self._cpu_start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._others = dict(others or {})
        self._others_start = {name: read() for name, read in self._others.items()}
        self._machine_start = _machine_busy_seconds()
        self.cpu: dict[str, float] = {}

    def stop(self) -> None:
        self.sample()
        self.cpu = {name: round(cpu_seconds(pid) - self._cpu_start[name], 1) for name, pid in self.pids.items()}
        for name, read in self._others.items():
            self.cpu[name] = round(read() - self._others_start[name], 1)
        # Everything the machine did meanwhile (the services, Kafka, PostgreSQL, the benchmark itself
        # and whatever else runs there): much more than the parts named means a contended run.
        self.cpu["machine"] = round(_machine_busy_seconds() - self._machine_start, 1)

    def sample(self) -> None:
        children = children_by_parent()
        for name, pid in self.pids.items():
            sizes = each_rss_bytes(pid, children)
            self.peak[name] = max(self.peak[name], sum(sizes))
            self.largest[name] = max(self.largest[name], *sizes, 0)
        self.samples += 1

    def peak_mb(self) -> dict[str, float]:
        return {name: round(value / 1_048_576, 1) for name, value in self.peak.items()}

    def largest_process_mb(self) -> dict[str, float]:
        return {name: round(value / 1_048_576, 1) for name, value in self.largest.items()}


@contextlib.asynccontextmanager
async def sampling(
    pids: Mapping[str, int | None], others: Mapping[str, Callable[[], float]] | None = None
) -> AsyncIterator[PeakMemory]:
    """Samples the services' memory in the background while the block runs (and once at each end); their
    CPU time, and that of `others` (only their CPU time), is taken at each end."""
    memory = PeakMemory(pids, others)

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
