"""The `make up` demo: keys, learners, the sample batches, then a PLR, MI and the emails.

Usage: demo.py wait | run   (service URLs, DATABASE_URL from .run/env)
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from lrs_domain.formats import detect_format, parse_batch
from lrs_platform.database import create_pool
from lrs_platform.identity import CredentialStore, Principal

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / ".run"
SERVICES = ("ingest", "validation", "plr_projector", "challenges", "notifier", "reporting")
SAMPLES = ("sample-100.json", "sample-100.csv", "sample-100.xml")


def url(service: str) -> str:
    return os.environ[f"LRS_{service.upper()}_URL"]


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def wait_ready(within: float = 180.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3.0) as client:
        for service in SERVICES:
            while True:
                try:
                    if (await client.get(f"{url(service)}/readyz")).status_code == 200:
                        say(f"  {service:<14} ready at {url(service)}")
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{service} is not ready: see .run/logs/{service.replace('_', '-')}.log")
                await asyncio.sleep(0.3)


async def issue_keys(principals: dict[str, str]) -> dict[str, str]:
    pool = await create_pool(os.environ["DATABASE_URL"], max_size=1)
    try:
        store = CredentialStore(pool)
        await store.migrate()
        keys = {}
        for name, principal in principals.items():
            issued = await store.issue(Principal.parse(principal), label="make up")
            keys[name] = issued.token
            path = RUN / "keys" / f"{name}.key"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(issued.token + "\n", encoding="utf-8")
            path.chmod(0o600)
        return keys
    finally:
        await pool.close()


def sample_ao() -> str:
    content = (ROOT / "samples" / SAMPLES[0]).read_bytes()
    fmt = detect_format(None, SAMPLES[0], content[:512])
    assert fmt is not None
    return parse_batch(content, fmt).header.awarding_organisation


def sample_ulns() -> list[str]:
    content = (ROOT / "samples" / SAMPLES[0]).read_bytes()
    fmt = detect_format(None, SAMPLES[0], content[:512])
    assert fmt is not None
    return [record.uln for record in parse_batch(content, fmt).records if record.uln]


async def run() -> None:
    ao_id = sample_ao()
    keys = await issue_keys({"operator": "operator:demo", "ao": f"ao:{ao_id}"})
    operator = {"Authorization": f"Bearer {keys['operator']}"}
    ao = {"Authorization": f"Bearer {keys['ao']}"}
    async with httpx.AsyncClient(timeout=120.0) as client:
        learners = (ROOT / "reference" / "sample-learners.csv").read_bytes()
        response = await client.post(
            f"{url('validation')}/v1/learners/import",
            content=learners,
            headers={**operator, "Content-Type": "text/csv"},
        )
        response.raise_for_status()
        say(f"registered {response.json()['registered']} sample learners")

        batch_ids = []
        for name in SAMPLES:
            content = (ROOT / "samples" / name).read_bytes()
            kind = {"json": "application/json", "csv": "text/csv", "xml": "application/xml"}[name.rsplit(".", 1)[1]]
            response = await client.post(
                f"{url('ingest')}/v1/batches", content=content, headers={**ao, "Content-Type": kind}
            )
            body = response.json()
            say(f"submitted {name}: HTTP {response.status_code} batch {body.get('batch_id')} ({body.get('status')})")
            if response.status_code == 202:
                batch_ids.append(body["batch_id"])

        for batch_id in batch_ids:
            view = await _wait_decided(client, ao, batch_id)
            counts = view.get("counts") or {}
            say(
                f"batch {batch_id}: {view['status']} - {counts.get('accepted')} accepted,"
                f" {counts.get('rejected')} rejected, {counts.get('no_ops')} unchanged"
            )

        ulns = sample_ulns()
        on_plr = 0
        for sample_uln in ulns:
            response = await client.get(
                f"{url('plr_projector')}/v1/learners/{sample_uln}/plr",
                params={"after_batch": batch_ids[0]} if batch_ids else {},
                headers=operator,
            )
            on_plr += response.status_code == 200 and len(response.json()["learning_events"]) > 0
        say(f"\n{on_plr} of the {len(ulns)} sample records are on their learners' PLRs")
        uln = ulns[0]
        response = await client.get(
            f"{url('plr_projector')}/v1/learners/{uln}/plr",
            params={"after_batch": batch_ids[0]} if batch_ids else {},
            headers=operator,
        )
        say(f"\nPLR of learner ******{uln[-4:]} (GET /v1/learners/{{uln}}/plr):")
        say(json.dumps(response.json(), indent=2)[:3000])

        period = time.strftime("%Y-%m", time.gmtime())
        response = await _wait_for_report(client, operator, period)
        say(f"\nMI - submissions by AO in {period} (GET /v1/reports/submissions): HTTP {response.status_code}")
        say(json.dumps(response.json(), indent=2)[:2000])

    emails = await _wait_for_emails(len(batch_ids))
    say(f"\nemails delivered to the local SMTP sink (.run/mailbox): {len(emails)}")
    for message in emails[:3]:
        say(f"  {message['Message-ID']}  to {message['To']}: {message['Subject']}")


async def _wait_decided(client: httpx.AsyncClient, headers: dict[str, str], batch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        view: dict[str, Any] = (await client.get(f"{url('ingest')}/v1/batches/{batch_id}", headers=headers)).json()
        if view["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.3)


async def _wait_for_report(client: httpx.AsyncClient, headers: dict[str, str], period: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(
            f"{url('reporting')}/v1/reports/submissions", params={"period": period}, headers=headers
        )
        if response.status_code != 200 or response.json() or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.3)


async def _wait_for_emails(expected: int, within: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + within
    while True:
        messages = list(mailbox.Maildir(RUN / "mailbox", create=True))
        if len(messages) >= expected or time.monotonic() > deadline:
            return messages
        await asyncio.sleep(0.3)


if __name__ == "__main__":
    asyncio.run(wait_ready() if sys.argv[1:] == ["wait"] else run())
