"""One recipient's trouble is its own email's, against real Kafka, PostgreSQL and SMTP servers (aiosmtpd): a relay
that holds one recipient's RCPT longer than the SMTP timeout (it checks that domain, or tarpits it), and a challenge
contact's address in UTF-8 to a relay without SMTPUTF8 (the emails review, findings 1 and 2)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from tests.integration.test_notifier import batch_completed, bearer, envelope, produce, sealed_challenge
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings, serving
from tests.support.waiting import eventually

from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.keyring import migrate
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


class TarpittingRelay(Inbox):
    """Takes every address at once but those in `tarpitted`, whose RCPT it never answers (until the client hangs
    up): a relay checking a slow domain, or tarpitting it, for longer than the notifier waits for an answer."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.tarpitted: set[str] = set()
        self.held = 0  # RCPTs held so far

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.tarpitted:
            self.held += 1
            await asyncio.Event().wait()  # cancelled when the client hangs up, or the relay stops
        return await super().handle_RCPT(server, session, envelope, address, options)


async def test_a_recipient_whose_rcpt_goes_unanswered_has_its_email_set_aside_while_other_aos_emails_go(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    """Taken for the relay away, it was retried without end, and no other AO's email went while it lasted."""
    with serving(TarpittingRelay(free_port())) as relay:
        settings = await notifier_settings(
            kafka_bootstrap,
            fresh_database_url,
            relay,
            "notifier-tarpit",
            smtp_timeout_seconds=0.5,
            retry_base_seconds=0.2,
            retry_max_seconds=0.5,
            recipient_retry_base_seconds=3600.0,  # its next try is well after the test
            deferred_poll_seconds=0.2,
        )
        slow = "tarpit@slow-domain.example"
        relay.tarpitted.add(slow)
        tarpitted_batch = uuid.uuid4()
        tarpitted = envelope(batch_completed(tarpitted_batch, slow))
        other_batch = batch_completed(uuid.uuid4(), "results@ao-b.example").model_copy(update={"ao_id": "RN9002"})
        other = envelope(other_batch)
        pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
        assert pool is not None
        app = create_app(settings)
        try:
            async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
                await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(tarpitted_batch), tarpitted)
                await eventually(lambda: _async(relay.held >= 1), within=30, what="the tarpitted RCPT")
                await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(other_batch.batch_id), other)

                [email] = await eventually(
                    lambda: _async(relay.with_message_id(f"<{other.event_id}@lrs.local>")),
                    within=30,
                    what="the other AO's email, sent while the tarpitted one waits",
                )
                assert email["To"] == "results@ao-b.example"
                row = await pool.fetchrow(
                    "SELECT d.status, d.last_error, e.tries FROM notifier.deliveries d"
                    " JOIN notifier.deferred_emails e USING (event_id) WHERE d.event_id = $1",
                    tarpitted.event_id,
                )
                assert row is not None, "set aside as its own email's trouble"
                assert (row["status"], row["tries"]) == ("pending", 1)
                assert row["last_error"].startswith("no answer at RCPT: "), row["last_error"]
                assert relay.to(slow) == []
        finally:
            await pool.close()


@contextmanager
def _relay_without_smtputf8() -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


async def test_a_challenge_notice_to_a_contact_in_utf8_a_relay_cannot_take_is_held_for_the_next_contact(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    """It was failed for good, no one's: never sent to the contact the AO set next, and `lrs challenges waiting`
    said nothing waited (operations.md: a notice the contact's mailbox refuses for good is held, not failed)."""
    with _relay_without_smtputf8() as relay:
        settings = await notifier_settings(
            kafka_bootstrap, fresh_database_url, relay, "notifier-utf8-contact", deferred_poll_seconds=0.2
        )
        ao = f"RN{uuid.uuid4().int % 10**6}"
        utf8, ascii_ = f"zoë@{ao.lower()}.example", f"zoe@{ao.lower()}.example"
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
                contact = {"given_name": "Zoë", "family_name": "O'Brien", "telephone": "0161 496 0000", "email": utf8}
                put = await client.put(f"/v1/ao/{ao}/challenge-contact", json=contact, headers=as_ao)
                assert put.status_code == 200, put.text
                raised = await sealed_challenge(pool, ao, random_uln(), "Award date wrong")
                event = envelope(raised)
                await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), event)

                async def held() -> bool:
                    waiting = await client.get("/v1/challenge-contacts/missing", headers=as_operator)
                    return [(row["ao_id"], row["notices"]) for row in waiting.json() if row["ao_id"] == ao] == [(ao, 1)]

                await eventually(held, within=30, what="the notice held, listed by `lrs challenges waiting`")
                row = await pool.fetchrow(
                    "SELECT status, last_error FROM notifier.deliveries WHERE event_id = $1", event.event_id
                )
                assert (row["status"], row["last_error"]) == (
                    "pending",
                    f"held: its challenge contact's mailbox refused it for {ao}",
                )

                put = await client.put(
                    f"/v1/ao/{ao}/challenge-contact", json={**contact, "email": ascii_}, headers=as_ao
                )
                assert put.status_code == 200, put.text
                [email] = await eventually(
                    lambda: _async(relay.with_message_id(f"<{event.event_id}@lrs.local>")),
                    within=30,
                    what="the notice to the next contact",
                )
                assert email["To"] == ascii_
                plain = email.get_body(("plain",))
                assert plain is not None
                assert "contact then refused it" in " ".join(plain.get_content().split())
        finally:
            await pool.close()


async def _async(value: Any) -> Any:
    return value
