"""The six services as real processes, for end-to-end tests (and SIGKILL tests).

Each service's output goes to `<log_dir>/<service>.log`; tests pass a directory under `tmp_path` or
`$LRS_TEST_LOG_DIR`, where the session's personal-data scan (tests/support/log_scan.py) reads it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench.processes import free_port
from tests.support.waiting import eventually

from lrs_contracts.environments import Environment
from lrs_platform.database import create_pool
from lrs_platform.identity import CredentialStore, Principal

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

SERVICES = {
    "ingest": ("lrs-ingest", "INGEST"),
    "validation": ("lrs-validation", "VALIDATION"),
    "plr-projector": ("lrs-plr-projector", "PROJECTOR"),
    "challenges": ("lrs-challenges", "CHALLENGES"),
    "notifier": ("lrs-notifier", "NOTIFIER"),
    "reporting": ("lrs-reporting", "REPORTING"),
}


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
        async with httpx.AsyncClient(timeout=3.0) as client:

            async def ready() -> bool:
                if self.process and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}: see {self.log_path}")
                try:
                    return (await client.get(f"{self.url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, within=within, what=f"{self.name} ready (log: {self.log_path})")


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


async def issue_key(database_url: str, principal: str, environment: Environment = Environment.LIVE) -> str:
    """A new API key for the principal, in the database's credential store (created if need be)."""
    pool = await create_pool(database_url, max_size=1)
    try:
        store = CredentialStore(pool, environment=environment)
        await store.migrate()
        return (await store.issue(Principal.parse(principal), label="tests")).token
    finally:
        await pool.close()


def isolation_env(name: str, log_dir: Path) -> dict[str, str]:
    """Consumer groups and local state of a system's own, so that systems sharing one broker never share work."""
    return {
        "VALIDATION_CONSUMER_GROUP": f"validation-{name}",
        "INGEST_OUTCOMES_GROUP_ID": f"ingest-batch-view-{name}",
        "NOTIFIER_CONSUMER_GROUP": f"notifier-{name}",
        "REPORTING_APP_ID": f"lrs-reporting-{name}",
        "REPORTING_DATA_DIR": str(log_dir / "reporting"),
    }


SANDPIT_SERVICES = ("ingest", "validation", "plr-projector", "notifier")
"""What runs in the Sandpit (decision 0060): no challenges, no reporting."""


def build_system(
    kafka_bootstrap: str,
    database_url: str,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    names: tuple[str, ...] = tuple(SERVICES),
) -> RunningSystem:
    system = RunningSystem()
    base_env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        # as `make up` does: the projector can sign PLR credentials (decision 0050)
        "PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        **(extra_env or {}),
    }
    for name in names:
        prefix = SERVICES[name][1]
        port = free_port()
        env = {**base_env, f"{prefix}_PORT": str(port), f"{prefix}_LOG_JSON": "true"}
        system.services[name] = ServiceProcess(name, port, env, log_dir / f"{name}.log")
    urls = {f"LRS_{name.upper().replace('-', '_')}_URL": svc.url for name, svc in system.services.items()}
    for service in system.services.values():
        service.env.update(urls)
    return system
