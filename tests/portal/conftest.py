"""One running system for the portal's browser tests: Kafka, PostgreSQL, SMTP sink, the six services,
the portal, an AO user and an operator, and Chromium (Debian's) driven by Playwright; for the Sandpit's
tests, the Sandpit's services beside them (decision 0060)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.processes import BIN, ROOT, RunningSystem, ServiceProcess, free_port
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka
from tests.support.mail import Inbox, smtp_server
from tests.support.system import SANDPIT_SERVICES, build_system, isolation_env, issue_key

from lrs_contracts.environments import Environment

CHROMIUM = Path(os.environ.get("LRS_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "portal" / "vendor" / "axe-core" / "axe.min.js"  # test-only: not in the portal package
SAMPLE_AO = "RN9093"


class PortalProcess(ServiceProcess):
    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "lrs-portal")], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )


@dataclass
class PortalSystem:
    processes: RunningSystem
    portal: PortalProcess
    database_url: str
    mailbox: Inbox
    passwords: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    sandpit: RunningSystem | None = None
    sandpit_database_url: str | None = None

    @property
    def url(self) -> str:
        return self.portal.url

    def service_url(self, name: str) -> str:
        return self.processes[name].url

    async def key_for(self, principal: str) -> str:
        if principal not in self.keys:
            self.keys[principal] = await issue_key(self.database_url, principal)
        return self.keys[principal]

    async def client(self, service: str, principal: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {await self.key_for(principal)}"}
        base = self.url if service == "portal" else self.service_url(service)
        return httpx.AsyncClient(base_url=base, headers=headers, timeout=60.0)


@pytest.fixture(scope="module")
def portal_kafka() -> Iterator[str]:
    """A broker of the portal tests' own: their validation decides every batch it sees."""
    with private_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Inbox]:
    """The SMTP sink: every message the notifier sends."""
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture(scope="module")
async def portal_system(
    portal_kafka: str, database_url: str, mailbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PortalSystem]:
    async with running_portal(portal_kafka, database_url, mailbox, tmp_path_factory, sandpit=False) as system:
        yield system


@pytest.fixture(scope="module")
async def sandpit_portal_system(
    portal_kafka: str, database_url: str, mailbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PortalSystem]:
    """The system with the Sandpit's ingest, validation and PLR projector, which the portal is told about."""
    async with running_portal(portal_kafka, database_url, mailbox, tmp_path_factory, sandpit=True) as system:
        yield system


@asynccontextmanager
async def running_portal(
    kafka: str, database_url: str, mailbox: Inbox, tmp_path_factory: pytest.TempPathFactory, *, sandpit: bool
) -> AsyncIterator[PortalSystem]:
    name = unique_name("portal")
    system_database = await create_database(database_url, name)
    log_dir = tmp_path_factory.mktemp("portal-system-logs")
    isolation = {
        **isolation_env(name, log_dir),
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(mailbox.port),
    }
    processes = build_system(kafka, system_database, log_dir, isolation)
    any_env = next(iter(processes.services.values())).env
    portal_port = free_port()
    portal_env = {
        **any_env,
        "PORTAL_PORT": str(portal_port),
        "PORTAL_LOG_JSON": "true",
        "PORTAL_COOKIE_SECURE": "false",
        # forgotten-password links (decision 0128) to the SMTP sink, pointing at this portal
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(mailbox.port),
        "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{portal_port}",
    }
    sandpit_processes = None
    sandpit_database = None
    if sandpit:
        sandpit_database = await create_database(database_url, f"{name}_sandpit")
        sandpit_processes = build_system(
            kafka,
            sandpit_database,
            log_dir / "sandpit",
            # the Sandpit's validation opens live registrations with live's learner keys (decision 0080)
            {
                **isolation,
                "LRS_ENVIRONMENT": Environment.SANDPIT.value,
                "VALIDATION_LIVE_DATABASE_URL": system_database,
            },
            names=tuple(service for service in SANDPIT_SERVICES if service != "notifier"),
        )
        portal_env |= {
            "PORTAL_SANDPIT_DATABASE_URL": sandpit_database,
            "LRS_SANDPIT_INGEST_URL": sandpit_processes["ingest"].url,
            "LRS_SANDPIT_PLR_PROJECTOR_URL": sandpit_processes["plr-projector"].url,
        }
    portal = PortalProcess("portal", portal_port, portal_env, log_dir / "portal.log")
    processes.services["portal"] = portal
    try:
        # side by side, as tests/integration/test_cli_sandpit.py starts live and the Sandpit: one after the
        # other, the Sandpit's start waited for all of live's
        await asyncio.gather(processes.start(), *([sandpit_processes.start()] if sandpit_processes else []))
        system = PortalSystem(
            processes,
            portal,
            system_database,
            mailbox,
            sandpit=sandpit_processes,
            sandpit_database_url=sandpit_database,
        )
        async with await system.client("validation", "operator:tests") as validation:
            learners = (ROOT / "reference" / "sample-learners.csv").read_bytes()
            response = await validation.post(
                "/v1/learners/import", content=learners, headers={"Content-Type": "text/csv"}
            )
            response.raise_for_status()
        async with await system.client("portal", "operator:tests") as accounts:
            accounts_to_make: dict[str, dict[str, Any]] = {
                "ao.user": {
                    "display_name": "Alex Example",
                    "role": "ao",
                    "ao_id": SAMPLE_AO,
                    "email": "results@ao.example",
                },
                "operator.user": {"display_name": "Olu Example", "role": "operator", "every_duty": True},
            }
            for username, body in accounts_to_make.items():
                response = await accounts.post("/v1/admin/users", json={"username": username, **body})
                response.raise_for_status()
                system.passwords[username] = response.json()["password"]
        yield system
    finally:
        processes.stop()
        if sandpit_processes is not None:
            sandpit_processes.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(page: Page, system: PortalSystem, username: str) -> None:
    await page.goto(f"{system.url}/sign-in")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(system.passwords[username])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/(ops)?$"))


@pytest.fixture
async def ao_page(browser: Browser, portal_system: PortalSystem) -> AsyncIterator[Page]:
    """A fresh browser context signed in as the AO user; CSP bypassed only so axe-core can be injected."""
    context: BrowserContext = await browser.new_context(bypass_csp=True, accept_downloads=True)
    page = await context.new_page()
    await sign_in(page, portal_system, "ao.user")
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
async def operator_page(browser: Browser, portal_system: PortalSystem) -> AsyncIterator[Page]:
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, portal_system, "operator.user")
    try:
        yield page
    finally:
        await context.close()
