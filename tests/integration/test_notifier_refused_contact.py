"""A challenge notice the AO's contact's mailbox refuses for good (550: the person left), against real Kafka,
PostgreSQL and an SMTP server (aiosmtpd). It was logged failed, and the contact the AO set next never heard of
the challenge (a review): now it is held for the AO as one without a contact is (decision 0155)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from tests.integration.test_notifier import bearer, produce, sealed_challenge
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings, serving
from tests.support.waiting import eventually

from lrs_contracts.registry import wrap
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.keyring import migrate
from notifier.bootstrap import create_app
from notifier.store import DeferredEmails

pytestmark = pytest.mark.integration


class RefusingInbox(Inbox):
    """Refuses the mailboxes in `gone` for good, as a relay does an address that no longer exists."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.gone: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.gone:
            return "550 5.1.1 User unknown"
        return await super().handle_RCPT(server, session, envelope, address, options)


@pytest.fixture
def refusing_inbox() -> Iterator[RefusingInbox]:
    with serving(RefusingInbox(free_port())) as inbox:
        yield inbox


async def test_a_challenge_notice_the_contacts_mailbox_refuses_for_good_goes_to_the_next_contact_set(
    kafka_bootstrap: str, fresh_database_url: str, refusing_inbox: RefusingInbox
) -> None:
    settings = await notifier_settings(
        kafka_bootstrap, fresh_database_url, refusing_inbox, "notifier-refused", deferred_poll_seconds=0.2
    )
    ao = f"RN{uuid.uuid4().int % 10**6}"
    gone, new = f"gone@{ao.lower()}.example", f"new@{ao.lower()}.example"
    refusing_inbox.gone.add(gone)
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    app = create_app(settings)
    try:
        await migrate(pool)
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            as_ao, as_operator = await bearer(pool, f"ao:{ao}"), await bearer(pool, "operator:it")
            contact = {"given_name": "Al", "family_name": "Gone", "telephone": "0161 496 0000", "email": gone}
            put = await client.put(f"/v1/ao/{ao}/challenge-contact", json=contact, headers=as_ao)
            assert put.status_code == 200, put.text
            raised = await sealed_challenge(pool, ao, random_uln(), "Award date wrong")
            event = wrap(raised, source="test", correlation_id="it")
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), event)

            held_sql = "SELECT count(*) FROM notifier.deferred_emails WHERE held_for_ao = $1 AND due_at = 'infinity'"
            await eventually(lambda: _is_one(pool, held_sql, ao), within=30, what="the refused notice held")
            row = await pool.fetchrow(
                "SELECT status, attempts, last_error FROM notifier.deliveries WHERE event_id = $1", event.event_id
            )
            assert (row["status"], row["attempts"]) == ("pending", 1), "held, not failed"
            assert row["last_error"] == f"held: its challenge contact's mailbox refused it for {ao}"
            # listed and counted where the notices held for want of a contact are
            await eventually(
                lambda: _metric_at_least(client, "lrs_notifier_challenge_notices_held", 1), within=30, what="gauge"
            )
            missing = await client.get("/v1/challenge-contacts/missing", headers=as_operator)
            assert [(held["ao_id"], held["notices"]) for held in missing.json() if held["ao_id"] == ao] == [(ao, 1)]
            # not made due again while the contact that refused it is still the AO's (no resend loop to it)
            assert await DeferredEmails(pool).release_for_contacts() == 0

            refusing_inbox.gone.discard(gone)  # the old mailbox would take it now: the notice must not go there
            put = await client.put(f"/v1/ao/{ao}/challenge-contact", json={**contact, "email": new}, headers=as_ao)
            assert put.status_code == 200, put.text
            [email] = await eventually(
                lambda: _async(refusing_inbox.with_message_id(f"<{event.event_id}@lrs.local>")),
                within=30,
                what="the notice to the new contact",
            )
            assert email["To"] == new
            plain = email.get_body(("plain",))
            assert plain is not None
            body = " ".join(plain.get_content().split())
            assert "Award date wrong" in body
            assert "the mailbox of your organisation's challenge contact then refused it" in body
            assert "waited until another contact was set" in body
            await eventually(
                lambda: _is_one(pool, "SELECT 1 - count(*) FROM notifier.deferred_emails WHERE held_for_ao = $1", ao),
                within=30,
                what="the held row gone",
            )
            row = await pool.fetchrow(
                "SELECT status, attempts FROM notifier.deliveries WHERE event_id = $1", event.event_id
            )
            assert (row["status"], row["attempts"]) == ("sent", 2)
    finally:
        await pool.close()


async def _is_one(pool: asyncpg.Pool, sql: str, ao: str) -> bool:
    return bool(await pool.fetchval(sql, ao) == 1)


async def _metric_at_least(client: httpx.AsyncClient, name: str, value: float) -> bool:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1]) >= value
    return False


async def _async(value: Any) -> Any:
    return value
