"""The six services as real processes, for end-to-end tests (and SIGKILL tests), on the benchmark's
process harness (`bench/processes.py`).

Each service's output goes to `<log_dir>/<service>.log`; tests pass a directory under `tmp_path` or
`$LRS_TEST_LOG_DIR`, where the session's personal-data scan (tests/support/log_scan.py) reads it.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from bench.processes import SERVICES, RunningSystem, ServiceProcess

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal


async def issue_key(database_url: str, principal: str, environment: Environment = Environment.LIVE) -> str:
    """A new API key for the principal, in the database's credential store (created if need be)."""
    pool = await create_pool(database_url, max_size=1)
    try:
        store = CredentialStore(pool, environment=environment)
        await store.migrate()
        return (await store.issue(Principal.parse(principal), label="tests")).token
    finally:
        await pool.close()


# A consumer group member SIGKILLed by a test (validation, in test_validation_flow and test_maintenance) holds its
# partitions until its session runs out, and its restart waits for that: 4 s instead of production's 10 s. Held on
# loaded 2-core runners (heartbeats every 0.5 s, so a member survives a 3.5 s stall); a system's broker is its own
# (`private_kafka`), which takes sessions down to 1 s. Not in tests/faults, which measures production's failover.
TEST_GROUP_SESSION = {"KAFKA_SESSION_TIMEOUT_MS": "4000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500"}


def isolation_env(name: str, log_dir: Path) -> dict[str, str]:
    """Consumer groups and local state of a system's own, so that systems sharing one broker never share work; and
    the short group session of a system on a broker of its own (`TEST_GROUP_SESSION`)."""
    return {
        **TEST_GROUP_SESSION,
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
        system.services[name] = ServiceProcess.on_free_port(name, base_env, log_dir / f"{name}.log")
    urls = {f"LRS_{name.upper().replace('-', '_')}_URL": svc.url for name, svc in system.services.items()}
    for service in system.services.values():
        service.env.update(urls)
    return system
