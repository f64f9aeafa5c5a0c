"""Two notifier replicas handling one event at a rebalance (a code review): the replica that lost the partition
part-way through its poll was sending the batch's email when the partition's new holder read the same message,
found the delivery only begun, and sent it too. The email's claim is held in PostgreSQL across replicas, so the
second reads the first's `sent` and sends nothing (decision 0021: once, unless a replica stops mid-send)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest
from services.notifier.tests.unit.test_emails import completed
from tests.support.databases import migrated_connection
from tests.support.waiting import eventually

from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import Message
from lrs_platform.database import create_pool
from notifier.consumer import NotificationHandler
from notifier.handlers import Notifications
from notifier.store import ContactStore, DeferredEmails, DeliveryLog, DeliveryStatus, RejectionTallies

pytestmark = pytest.mark.integration


class RelayOf:
    """A mail relay that takes each email at once, or, `stalled`, holds the conversation open until released."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.sent: list[EmailMessage] = []
        self.sending = asyncio.Event()
        self.release = asyncio.Event()
        if not stalled:
            self.release.set()

    async def send(self, message: EmailMessage) -> None:
        self.sending.set()
        await self.release.wait()
        self.sent.append(message)


def replica(pool: asyncpg.Pool, relay: RelayOf) -> NotificationHandler:
    keyring: Any = None  # a batch's email opens no learner's words
    return NotificationHandler(
        Notifications(
            relay,
            DeliveryLog(pool),
            ContactStore(pool),
            RejectionTallies(pool),
            keyring,
            mail_from="lrs@lrs.local",
            public_base_url="https://portal.lrs.example",
            deferred=DeferredEmails(pool),
        )
    )


async def test_a_replica_that_lost_its_partition_mid_send_and_the_new_holder_send_the_email_once(
    fresh_database_url: str,
) -> None:
    async with migrated_connection(fresh_database_url, "notifier", "notifier.migrations"):
        pass
    old_pool, new_pool = await create_pool(fresh_database_url, max_size=5), await create_pool(fresh_database_url)
    try:
        event = wrap(completed(), source="test", correlation_id="it")
        poll = [Message(BATCH_OUTCOMES.name, 0, 41, b"RN5133", encode(event))]
        stalled, prompt = RelayOf(stalled=True), RelayOf()
        stale = asyncio.create_task(replica(old_pool, stalled)(poll))
        await asyncio.wait_for(stalled.sending.wait(), 30)  # its attempt begun, the relay mid-conversation

        async def sent_or_waiting() -> bool:
            return bool(prompt.sent) or bool(
                await new_pool.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
                )
            )

        fresh = asyncio.create_task(replica(new_pool, prompt)(poll))
        await eventually(
            sent_or_waiting, within=30, what="the new holder to send, or to wait for the claim", every=0.02
        )
        stalled.release.set()
        await asyncio.wait_for(asyncio.gather(stale, fresh), 30)

        assert len(stalled.sent) + len(prompt.sent) == 1, "the batch's email went out twice"
        assert await DeliveryLog(new_pool).status(event.event_id) is DeliveryStatus.SENT
    finally:
        await old_pool.close()
        await new_pool.close()
