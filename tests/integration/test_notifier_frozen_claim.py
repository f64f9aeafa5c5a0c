"""A notifier replica frozen while it holds an email's claim (the chaos walk, finding 1: SIGSTOP, as a VM stall does)
keeps its PostgreSQL session, and the claim with it. The other replica, which Kafka gave the frozen one's
partitions, waited on that claim with no timeout in its serial loop: no email at all went out until the frozen one
woke, while /readyz said ok. Now the claim is waited for within its bound, the email set aside and the next sent;
the frozen holder's session is ended by the server after the claim's idle bound, and the deferred try then sends
the email, once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from services.notifier.tests.unit.test_emails import completed
from tests.integration.frozen_lock_holder import holding
from tests.integration.test_advisory_lock_bounds import backend_alive, holder_of
from tests.integration.test_notifier_replicas import RelayOf
from tests.support.databases import migrated_connection
from tests.support.waiting import eventually

from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import Message
from lrs_platform.database import create_pool
from notifier.consumer import NotificationHandler
from notifier.handlers import Notifications
from notifier.store import ContactStore, DeferredEmails, DeliveryLog, DeliveryStatus, RejectionTallies

pytestmark = pytest.mark.integration

WAIT = 0.5  # the claim's wait, here
IDLE = 6.0  # the frozen holder's idle bound, here: well after the waiter has set the email aside


def batch_email(address: str) -> Envelope:
    return wrap(completed(batch_id=uuid.uuid4(), notification_email=address), source="test", correlation_id="it")


def message_ids(relay: RelayOf) -> list[str]:
    return [str(message["Message-ID"]) for message in relay.sent]


async def test_a_frozen_replicas_claim_delays_its_own_email_only_which_goes_once_its_session_is_ended(
    fresh_database_url: str,
) -> None:
    async with migrated_connection(fresh_database_url, "notifier", "notifier.migrations"):
        pass
    pool = await create_pool(fresh_database_url, max_size=5)
    observer = await asyncpg.connect(fresh_database_url)
    relay = RelayOf()
    keyring: Any = None  # a batch's email opens no learner's words
    deferred = DeferredEmails(pool)
    notifications = Notifications(
        relay,
        DeliveryLog(pool, claim_wait_seconds=WAIT, claim_idle_seconds=IDLE),
        ContactStore(pool),
        RejectionTallies(pool),
        keyring,
        mail_from="lrs@lrs.local",
        public_base_url="https://portal.lrs.example",
        deferred=deferred,
        claim_retry_seconds=0.2,
    )
    surviving = NotificationHandler(notifications)
    held, other = batch_email("results@ao-a.example"), batch_email("results@ao-b.example")
    claim = f"notifier email {held.event_id}"
    try:
        async with holding(fresh_database_url, claim, idle_seconds=IDLE) as frozen:
            pid = await holder_of(observer, claim)
            assert pid is not None
            frozen.freeze()  # mid-email: its claim held, its session kept by its kernel

            poll = [
                Message(BATCH_OUTCOMES.name, 5, offset, b"RN5133", encode(event))
                for offset, event in enumerate((held, other))
            ]
            await asyncio.wait_for(surviving(poll), 30)  # within the claim's wait, not until the holder wakes

            assert message_ids(relay) == [f"<{other.event_id}@lrs.local>"], "the next email went"
            aside = await pool.fetchrow(
                "SELECT tries, envelope FROM notifier.deferred_emails WHERE event_id = $1", held.event_id
            )
            assert aside is not None, "the held email set aside"
            assert (aside["tries"], bytes(aside["envelope"])) == (0, encode(held))
            assert await DeliveryLog(pool).status(held.event_id) is None, "nothing recorded outside its claim"

            # its deferred try while the claim is still held: postponed, no try counted, nothing sent
            await pool.execute("UPDATE notifier.deferred_emails SET due_at = now() WHERE event_id = $1", held.event_id)
            assert await notifications.retry_deferred() == 1
            assert await backend_alive(observer, pid), "the holder's session outlived the try (raise IDLE)"
            assert message_ids(relay) == [f"<{other.event_id}@lrs.local>"]
            assert await deferred.tries(held.event_id) == 0
            assert await deferred.waiting(held.event_id)

            async def holders_session_ended() -> bool:
                return not await backend_alive(observer, pid)

            await eventually(holders_session_ended, within=60, what="the frozen holder's session ended by the server")

            async def sent_from_the_deferred_emails() -> bool:
                await notifications.retry_deferred()
                return f"<{held.event_id}@lrs.local>" in message_ids(relay)

            await eventually(sent_from_the_deferred_emails, within=30, what="the held email sent by its deferred try")
            assert not await deferred.waiting(held.event_id)
            assert await DeliveryLog(pool).status(held.event_id) is DeliveryStatus.SENT

            await surviving(poll)  # the poll delivered again: nothing more goes
            assert sorted(message_ids(relay)) == sorted(
                [f"<{held.event_id}@lrs.local>", f"<{other.event_id}@lrs.local>"]
            )
    finally:
        await observer.close()
        await pool.close()
