"""The `make up` demo: keys, learners, the sample batches, then a PLR, MI and the emails; then the
same sample in the Sandpit, and the live PLR unchanged by it.

Usage: demo.py wait | run   (service URLs, DATABASE_URL from .run/env)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mailbox
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from lrs_contracts.environments import Environment
from lrs_domain.formats import detect_format, parse_batch
from lrs_platform.clock import ENGLAND
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / ".run"
SERVICES = ("ingest", "validation", "plr_projector", "challenges", "notifier", "reporting")
SANDPIT_SERVICES = tuple(f"sandpit_{service}" for service in ("ingest", "validation", "plr_projector", "notifier"))
SAMPLES = ("sample-100.json", "sample-100.csv", "sample-100.xml")
# The sample AO's challenge contact (01632 960xxx: Ofcom's numbers for drama, never a real line).
SAMPLE_CHALLENGE_CONTACT = {
    "given_name": "Sam",
    "family_name": "Sample",
    "telephone": "01632 960 000",
    "email": "challenges@pearson.example",
}


def url(service: str) -> str:
    return os.environ[f"LRS_{service.upper()}_URL"]


def process_name(service: str) -> str:
    """The name `make restart SERVICE=` takes for one of the processes `make up` starts (`plr-projector`,
    `sandpit-plr-projector`): that of its .run/pids/NAME.pid and .run/logs/NAME.log (scripts/dev/services.sh)."""
    return service.replace("_", "-")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def wait_ready(within: float = 180.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3.0) as client:
        for service in (*SERVICES, "portal", *SANDPIT_SERVICES):  # every process make up starts, the portal too
            while True:
                try:
                    if (await client.get(f"{url(service)}/readyz")).status_code == 200:
                        say(f"  {process_name(service):<22} ready at {url(service)}")
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    name = process_name(service)
                    raise SystemExit(f"{name} is not ready: see .run/logs/{name}.log")
                await asyncio.sleep(0.3)


async def issue_keys(principals: dict[str, str], environment: Environment = Environment.LIVE) -> dict[str, str]:
    sandpit = environment is Environment.SANDPIT
    pool = await create_pool(os.environ["LRS_SANDPIT_DATABASE_URL" if sandpit else "DATABASE_URL"], max_size=1)
    try:
        store = CredentialStore(pool, environment=environment)
        await store.migrate()
        keys = {}
        for name, principal in principals.items():
            issued = await store.issue(Principal.parse(principal), label="make up")
            keys[name] = issued.token
            path = RUN / "keys" / f"{'sandpit-' if sandpit else ''}{name}.key"
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
    earlier_emails = set(mailbox.Maildir(RUN / "mailbox", create=True).iterkeys())  # kept from earlier runs
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
        await set_challenge_contact(client, ao, ao_id)

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

        period = mi_period()
        response = await _wait_for_report(client, operator, period)
        say(f"\nMI - submissions by AO in {period} (GET /v1/reports/submissions): HTTP {response.status_code}")
        say(json.dumps(response.json(), indent=2)[:2000])

    emails = await _wait_for_emails(len(batch_ids), earlier_emails)
    say(f"\nemails this run delivered to the local SMTP sink (.run/mailbox): {len(emails)}")
    for message in emails[:3]:
        say(f"  {message['Message-ID']}  to {message['To']}: {message['Subject']}")

    await sandpit(ao_id, operator, uln)


def mi_period(now: datetime | None = None) -> str:
    """The month MI counts a batch decided `now` in: the UK month, as every report's (from 23:00 UTC on the last day
    of a BST month it is already the next)."""
    return (now or datetime.now(UTC)).astimezone(ENGLAND).strftime("%Y-%m")


async def set_challenge_contact(client: httpx.AsyncClient, ao: dict[str, str], ao_id: str) -> None:
    """The AO names its challenge contact itself, as its users do on the portal's Contact page."""
    response = await client.put(
        f"{url('notifier')}/v1/ao/{ao_id}/challenge-contact", json=SAMPLE_CHALLENGE_CONTACT, headers=ao
    )
    response.raise_for_status()
    say(f"challenges against {ao_id}'s achievements are emailed to {response.json()['email']}")


async def sandpit(ao_id: str, live_operator: dict[str, str], uln: str) -> None:
    """The CSV sample again, in the Sandpit: the same outcome, and the live PLR left as it was."""
    keys = await issue_keys({"operator": "operator:demo", "ao": f"ao:{ao_id}"}, Environment.SANDPIT)
    ao = {"Authorization": f"Bearer {keys['ao']}"}
    await _wait_for_sandpit_registry(sample_ulns())
    plr_path = f"/v1/learners/{uln}/plr"
    async with httpx.AsyncClient(timeout=120.0) as client:
        live_before = (await client.get(f"{url('plr_projector')}{plr_path}", headers=live_operator)).json()
        content = (ROOT / "samples" / "sample-100.csv").read_bytes()
        response = await client.post(
            f"{url('sandpit_ingest')}/v1/batches", content=content, headers={**ao, "Content-Type": "text/csv"}
        )
        body = response.json()
        say(f"\nSANDPIT: submitted sample-100.csv: HTTP {response.status_code} batch {body.get('batch_id')}")
        if response.status_code != 202:
            say(f"  {body}")
            return
        view = await _wait_decided(client, ao, body["batch_id"], service="sandpit_ingest")
        counts = view.get("counts") or {}
        say(
            f"SANDPIT: batch {body['batch_id']}: {view['status']} - {counts.get('accepted')} accepted,"
            f" {counts.get('rejected')} rejected, {counts.get('no_ops')} unchanged"
        )
        sandpit_plr = await client.get(
            f"{url('sandpit_plr_projector')}{plr_path}", params={"after_batch": body["batch_id"]}, headers=ao
        )
        held = len(sandpit_plr.json().get("learning_events", [])) if sandpit_plr.status_code == 200 else 0
        say(f"SANDPIT: the sandpit PLR of learner ******{uln[-4:]} holds {held} achievement(s) of {ao_id}")
        live_after = (await client.get(f"{url('plr_projector')}{plr_path}", headers=live_operator)).json()
    same = "did not change" if live_after == live_before else "CHANGED (it must not: see .run/logs)"
    say(f"the live PLR of learner ******{uln[-4:]} {same}")


async def _wait_for_sandpit_registry(ulns: list[str], within: float = 60.0) -> None:
    """The Sandpit judges against its read-only copy of the live registry, which follows the live learner topic."""
    pool = await create_pool(os.environ["LRS_SANDPIT_DATABASE_URL"], max_size=1)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(asyncpg.UndefinedTableError):  # validation has not migrated yet
                held = await pool.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1)", ulns)
                if held == len(set(ulns)):
                    return
            await asyncio.sleep(0.3)
        say("SANDPIT: the learner registry's copy is still incomplete: some records may be rejected")
    finally:
        await pool.close()


async def _wait_decided(
    client: httpx.AsyncClient, headers: dict[str, str], batch_id: str, service: str = "ingest"
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        view: dict[str, Any] = (await client.get(f"{url(service)}/v1/batches/{batch_id}", headers=headers)).json()
        if view["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.3)


async def _wait_for_report(client: httpx.AsyncClient, headers: dict[str, str], period: str) -> httpx.Response:
    """The month's report once it has items (reporting has counted a batch), or as it is after 30 s: an empty month
    answers a body too (`{"period": ..., "items": []}`)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(
            f"{url('reporting')}/v1/reports/submissions", params={"period": period}, headers=headers
        )
        if response.status_code != 200 or response.json().get("items") or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.3)


async def _wait_for_emails(expected: int, earlier: set[str], within: float = 30.0) -> list[Any]:
    """The emails delivered since `earlier` (the mailbox's keys then), once `expected` are or `within` is over."""
    deadline = time.monotonic() + within
    while True:
        box = mailbox.Maildir(RUN / "mailbox", create=True)
        messages = [message for key, message in box.iteritems() if key not in earlier]
        if len(messages) >= expected or time.monotonic() > deadline:
            return messages
        await asyncio.sleep(0.3)


if __name__ == "__main__":
    asyncio.run(wait_ready() if sys.argv[1:] == ["wait"] else run())
