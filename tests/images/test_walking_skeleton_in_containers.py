"""The images `make images` built, run as containers the way a cluster runs them (non-root, read-only
root filesystem, no capabilities), against a real Kafka and PostgreSQL: a batch submitted to the
containerised ingest reaches the PLR API of the containerised projector.

Skipped, with the reason, where podman cannot run containers or the images are not built from this
tree's code (the digest `make images` labels them with): building them is `make images`' job, not
`make test`'s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from bench.processes import free_port
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import plr, register, submit_and_wait
from tests.support.catalogue import pick
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.waiting import eventually

from lrs_platform.keyring import KEYRING_KEY_VARIABLE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--runtime", "runc"]
# Below the machine's hard limits, or setrlimit fails (docs: /work/shared/infra/containers.md).
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
IMAGE = "localhost/lrs/{service}:dev"
PREFIXES = {
    "ingest": "INGEST",
    "validation": "VALIDATION",
    "plr-projector": "PROJECTOR",
    "challenges": "CHALLENGES",
    "notifier": "NOTIFIER",
    "reporting": "REPORTING",
    "portal": "PORTAL",
}


def _services() -> list[str]:
    return sorted(main.parts[-4] for main in (ROOT / "services").glob("*/src/*/main.py"))


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _why_images_cannot_run() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (make images installs it and builds the images)"
    missing = [
        service for service in _services() if _podman("image", "exists", IMAGE.format(service=service)).returncode
    ]
    if missing:
        return f"no image for {', '.join(missing)}: run `make images`"
    digest = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/scripts/images/common.sh" && source_digest "{ROOT}"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    label = '{{index .Labels "lrs.source-digest"}}'
    for service in _services():
        built = _podman("image", "inspect", "--format", label, IMAGE.format(service=service)).stdout.strip()
        if built != digest:
            return f"the {service} image was built from other code than this tree's: run `make images`"
    probe = _podman(
        "run", "--rm", *LIMITS, "--network=host", "--entrypoint", "/bin/true", IMAGE.format(service="ingest")
    )
    if probe.returncode:
        return f"podman cannot run a container here: {probe.stderr.strip()[-300:]}"
    return None


@dataclass
class Container:
    service: str
    port: int
    name: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        settings = [item for key, value in self.env.items() for item in ("-e", f"{key}={value}")]
        started = _podman(
            "run", "--detach", "--rm", "--name", self.name, *LIMITS, "--network=host",
            "--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges", *settings,
            IMAGE.format(service=self.service),
        )  # fmt: skip
        assert started.returncode == 0, started.stderr

    def running(self) -> bool:
        return _podman("container", "exists", self.name).returncode == 0

    def logs(self) -> str:
        return _podman("logs", self.name).stdout

    def stop(self) -> None:
        _podman("stop", "--time", "10", self.name)

    async def wait_ready(self, within: float = 180.0) -> None:
        async with httpx.AsyncClient(timeout=3.0) as client:

            async def ready() -> bool:
                if not self.running():
                    raise AssertionError(f"{self.service}'s container exited")
                try:
                    return (await client.get(f"{self.url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, within=within, what=f"{self.service} container ready")


class Containers(dict[str, Container]):
    """The services as containers, addressed like tests.support.system's processes (`system[name].url`)."""


@pytest.fixture(scope="module")
def images_runnable() -> None:
    reason = _why_images_cannot_run()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def container_kafka(images_runnable: None) -> Iterator[str]:
    with private_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
async def containers(
    container_kafka: str, database_url: str, smtp_port: int, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SystemUnderTest]:
    name = unique_name("img")
    system_database = await create_database(database_url, name)
    ports = {service: free_port() for service in _services()}
    urls = {
        f"LRS_{service.upper().replace('-', '_')}_URL": f"http://127.0.0.1:{port}" for service, port in ports.items()
    }
    running = Containers()
    for service in _services():
        prefix = PREFIXES[service]
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": container_kafka,
            "DATABASE_URL": system_database,
            KEYRING_KEY_VARIABLE: os.environ[KEYRING_KEY_VARIABLE],
            f"{prefix}_HOST": "127.0.0.1",
            f"{prefix}_PORT": str(ports[service]),
            f"{prefix}_LOG_JSON": "true",
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(smtp_port),
            "PORTAL_COOKIE_SECURE": "false",
            **urls,
        }
        running[service] = Container(service, ports[service], f"lrs-test-{name}-{service}", env)
    log_dir = tmp_path_factory.mktemp("container-logs")
    try:
        for container in running.values():
            container.start()
        for container in running.values():
            await container.wait_ready()
        yield SystemUnderTest(running, system_database, container_kafka, inbox=None)  # type: ignore[arg-type]
    finally:
        for container in running.values():
            (log_dir / f"{container.service}.log").write_text(container.logs())
            container.stop()
        print(f"container logs: {log_dir}")


@pytest.mark.parametrize("service", _services())
def test_the_image_runs_as_a_non_root_user_with_no_build_tools(images_runnable: None, service: str) -> None:
    found = _podman(
        "run", "--rm", *LIMITS, "--network=host", "--entrypoint", "/bin/sh", IMAGE.format(service=service),
        "-c", "id -u; for tool in pip pip3 uv gcc cc make; do command -v $tool; done; true",
    )  # fmt: skip
    assert found.stdout.split() == ["10001"], found.stdout


async def test_every_service_answers_from_its_image(containers: SystemUnderTest) -> None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        for service in _services():
            response = await client.get(f"{containers.url(service)}/healthz")
            assert response.status_code == 200, service


async def test_a_batch_submitted_to_the_ingest_container_reaches_the_plr_of_the_projector_container(
    containers: SystemUnderTest,
) -> None:
    chosen = pick(qualification_type="Vocationally-Related Qualification")
    learners = [new_learner() for _ in range(5)]
    await register(containers, learners)
    records = [json_record(learner, chosen.qualification_number, chosen.passing_grade) for learner in learners]

    view: dict[str, Any] = await submit_and_wait(containers, chosen.ao_id, json_batch(chosen.ao_id, records))

    assert view["status"] == "completed"
    assert view["counts"]["accepted"] == len(learners)
    for learner in learners:
        events = (await plr(containers, learner["uln"], after_batch=view["batch_id"]))["learning_events"]
        assert [event["grade"] for event in events] == [chosen.passing_grade]
