"""A batch event that cannot make an email (a CR/LF in its notification address breaks the To header) is parked
by the notifier's guard against real PostgreSQL. Its delivery row was begun before the message was built, and so
stayed `pending` for ever, even after `lrs dlq skip`: an email "in progress" to an operator that never goes (a
review). The message is now built before an attempt is logged."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from services.notifier.tests.unit.test_emails import completed
from tests.support.databases import migrated_connection

from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import Message, PoisonGuard, RetryPolicy
from lrs_platform.database import create_pool
from lrs_platform.parking import DeadLetterOffice, ParkedMessages
from notifier.consumer import CONSUMER, NotificationHandler
from notifier.handlers import Notifications
from notifier.store import ContactStore, DeferredEmails, DeliveryLog, RejectionTallies

pytestmark = pytest.mark.integration


class Relay:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


async def test_a_parked_poison_email_leaves_no_delivery_row_pending_before_or_after_it_is_skipped(
    fresh_database_url: str,
) -> None:
    async with migrated_connection(fresh_database_url, "notifier", "notifier.migrations"):
        pass
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        dead_letters: list[str] = []

        async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Any) -> None:
            dead_letters.append(topic)  # no Kafka: the copy to `<topic>.dlq` is only noted

        office = DeadLetterOffice(ParkedMessages(pool, "notifier_parked"), publish)
        await office.store.migrate()
        keyring: Any = None  # a batch's email opens no learner's words
        relay = Relay()
        notifications = Notifications(
            relay,
            DeliveryLog(pool),
            ContactStore(pool),
            RejectionTallies(pool),
            keyring,
            mail_from="lrs@lrs.local",
            public_base_url="https://portal.lrs.example",
            deferred=DeferredEmails(pool),
        )
        guard = PoisonGuard(
            CONSUMER, NotificationHandler(notifications), office, RetryPolicy(base_seconds=0.01, max_seconds=0.02)
        )
        poison = wrap(
            completed(batch_id=uuid.uuid4(), notification_email="x@ao.example\r\nBcc: spy@evil.example"),
            source="test",
            correlation_id="it",
        )
        fine = wrap(completed(batch_id=uuid.uuid4()), source="test", correlation_id="it")
        await guard.apply(
            [
                Message(BATCH_OUTCOMES.name, 0, 7, b"poison-batch", encode(poison)),
                Message(BATCH_OUTCOMES.name, 1, 9, b"other-batch", encode(fine)),
            ]
        )

        [parked] = await office.store.listing([CONSUMER])
        assert "linefeed" in (parked.error or "") and dead_letters == [f"{BATCH_OUTCOMES.name}.dlq"]
        assert [message["Message-ID"] for message in relay.sent] == [f"<{fine.event_id}@lrs.local>"]
        pending = "SELECT count(*) FROM notifier.deliveries WHERE status = 'pending'"
        assert await pool.fetchval(pending) == 0, "the parked poison's delivery row reads as in progress"

        await guard.replay(parked, skip_head=True)  # `lrs dlq skip`
        assert await office.store.listing([CONSUMER]) == []
        assert await pool.fetchval(pending) == 0
        assert len(relay.sent) == 1
    finally:
        await pool.close()
