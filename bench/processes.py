"""The services as real processes, started from the workspace's console scripts, each on a free port with
its log in a file: the benchmark's harness, which the end-to-end tests (`tests/support/system.py`) use
too. The benchmark is a tool and never imports the tests; the tests may import it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SERVICES = {
    "ingest": ("lrs-ingest", "INGEST"),
    "validation": ("lrs-validation", "VALIDATION"),
    "plr-projector": ("lrs-plr-projector", "PROJECTOR"),
    "challenges": ("lrs-challenges", "CHALLENGES"),
    "notifier": ("lrs-notifier", "NOTIFIER"),
    "reporting": ("lrs-reporting", "REPORTING"),
}
READY_POLL_SECONDS = 0.2
# Services with a transactional producer, named by `<PREFIX>_INSTANCE_ID`: a process started again under the
# same id fences the one killed before it and aborts the transaction it left open, which would otherwise hold
# `read_committed` readers back until the broker times it out (60 s).
TRANSACTIONAL = frozenset({"ingest", "validation"})


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free port not handed out before: the kernel may offer a just-closed port again before its
    service has started on it."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command, _ = SERVICES[self.name]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / command)], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    @staticmethod
    def on_free_port(name: str, base_env: dict[str, str], log_path: Path) -> ServiceProcess:
        """Service `name` on a port of its own, logging JSON; with a transactional producer, under an id of
        its own that it keeps when started again (it then aborts what the killed process left open)."""
        port = free_port()
        _, prefix = SERVICES[name]
        env = {**base_env, f"{prefix}_PORT": str(port), f"{prefix}_LOG_JSON": "true"}
        if name in TRANSACTIONAL:
            env[f"{prefix}_INSTANCE_ID"] = f"local-{port}"
        return ServiceProcess(name, port, env, log_path)

    def replica(self, log_path: Path) -> ServiceProcess:
        """Another instance of this service beside it, with its own port and transactional id (two live
        instances under one id would fence each other)."""
        return ServiceProcess.on_free_port(self.name, self.env, log_path)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing: the crash the invariants talk about."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP until the block ends: holds the service's work at a known point without a hook in it."""
        assert self.process is not None and self.process.poll() is None, f"{self.name} is not running"
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    async def wait_ready(self, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=3.0) as client:
            while True:
                if self.process and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}: see {self.log_path}")
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready after {within}s (log: {self.log_path})")
                await asyncio.sleep(READY_POLL_SECONDS)


@dataclass
class RunningSystem:
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    async def start(self, *names: str) -> None:
        for name in names or tuple(self.services):
            self.services[name].start()
        await asyncio.gather(*(self.services[name].wait_ready() for name in names or tuple(self.services)))

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()


def build_system(
    kafka_bootstrap: str, database_url: str, log_dir: Path, extra_env: dict[str, str] | None = None
) -> RunningSystem:
    system = RunningSystem()
    base_env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        **(extra_env or {}),
    }
    for name in SERVICES:
        system.services[name] = ServiceProcess.on_free_port(name, base_env, log_dir / f"{name}.log")
    urls = {f"LRS_{name.upper().replace('-', '_')}_URL": svc.url for name, svc in system.services.items()}
    for service in system.services.values():
        service.env.update(urls)
    return system
