"""A relay that keeps an email and answers the end of its DATA after `NOTIFIER_SMTP_MESSAGE_TIMEOUT_SECONDS` was
taken for "the relay away": the same email was sent again at every consumer retry, a full copy each time (10 copies
in 3 minutes in a walk), without end while the relay stayed slow, and every other AO's email waited behind it
(mail walk, finding 1). Now the email is unconfirmed: tried once more later, set aside, then recorded sent with
why it is unconfirmed; the next events go on at once. Through the real mailer to an aiosmtpd relay that answers
only when the test lets it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from email import message_from_bytes
from typing import Any

from aiosmtpd import smtp
from prometheus_client import REGISTRY, generate_latest
from services.notifier.tests.unit.test_contact_change_notices import FakeNotices, tried_when_due
from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import (
    FakeContacts,
    FakeDeferred,
    FakeDeliveryLog,
    FakeKeyring,
    FakeTallies,
    envelope_of,
)

from lrs_contracts.outcomes import BatchCompleted
from lrs_platform.mail import SmtpMailer
from notifier.bootstrap import create_app
from notifier.config import NotifierSettings
from notifier.handlers import CONTACT_CHANGED, Notifications
from notifier.store import DeliveryStatus

SLOW = "slow@ao.example"  # the relay keeps its emails and answers their end only when the test lets it


class Relay:
    def __init__(self) -> None:
        self.copies: dict[str, list[str]] = {}  # recipient -> the Message-IDs it was given
        self.answer_slow = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for recipient in envelope.rcpt_tos:
            self.copies.setdefault(recipient, []).append(str(message_from_bytes(envelope.content)["Message-ID"]))
        if SLOW in envelope.rcpt_tos:
            await self.answer_slow.wait()
        return "250 2.0.0 queued"


@asynccontextmanager
async def relay_and_notifier(
    *, defer_refused: bool = True
) -> AsyncIterator[tuple[Relay, Notifications, FakeDeliveryLog, FakeDeferred]]:
    relay = Relay()
    server = await asyncio.get_running_loop().create_server(lambda: smtp.SMTP(relay), "127.0.0.1", 0)
    mailer = SmtpMailer("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5, message_timeout=0.3)
    log, deferred = FakeDeliveryLog(), FakeDeferred()
    notifier = Notifications(
        mailer,
        log,  # type: ignore[arg-type]
        FakeContacts({}),  # type: ignore[arg-type]
        FakeTallies(),  # type: ignore[arg-type]
        FakeKeyring(),  # type: ignore[arg-type]
        mail_from="lrs@lrs.local",
        public_base_url="https://portal.lrs.example",
        deferred=deferred,  # type: ignore[arg-type]
        defer_refused=defer_refused,
    )
    try:
        yield relay, notifier, log, deferred
    finally:
        relay.answer_slow.set()
        server.close()
        await server.wait_closed()


def batch_for(address: str) -> BatchCompleted:
    return completed(notification_email=address)


def unconfirmed(kind: str) -> float:
    return REGISTRY.get_sample_value("lrs_notifier_emails_unconfirmed_total", {"kind": kind}) or 0.0


async def test_an_email_the_relay_keeps_but_confirms_late_goes_twice_at_most_and_holds_no_other() -> None:
    async with relay_and_notifier() as (relay, notifier, log, deferred):
        slow, other = envelope_of(batch_for(SLOW)), envelope_of(batch_for("other@ao.example"))
        kind = slow.event_type
        counted = unconfirmed(kind)

        await notifier.handle(slow, batch_for(SLOW))  # no RetryLater: the consumer's tight loop never sends it
        status, _, error = log.rows[slow.event_id]
        assert status is DeliveryStatus.PENDING and error is not None and error.startswith("unconfirmed: ")
        assert deferred.rows[slow.event_id][1] == 60.0, "tried once more, a minute later, from the deferred emails"
        await notifier.handle(other, batch_for("other@ao.example"))  # the next event goes on at once
        assert log.rows[other.event_id][0] is DeliveryStatus.SENT
        await notifier.handle(slow, batch_for(SLOW))  # redelivered to the consumer: left to the deferred loop

        deferred.now = 60.0
        assert await notifier.retry_deferred() == 1  # unconfirmed again: final
        status, attempts, error = log.rows[slow.event_id]
        assert (status, attempts) == (DeliveryStatus.SENT, 2)
        assert error is not None and "unconfirmed" in error and "may not have arrived" in error
        assert deferred.rows == {}
        deferred.now = 10_000.0
        assert await notifier.retry_deferred() == 0
        await notifier.handle(slow, batch_for(SLOW))

    assert relay.copies[SLOW] == [f"<{slow.event_id}@lrs.local>"] * 2, "two copies at most"
    assert unconfirmed(kind) == counted + 2


async def test_in_the_sandpit_an_unconfirmed_email_is_recorded_at_once() -> None:
    """Its notifier sleeps at zero pods while no batch comes: nothing would try a deferred email."""
    async with relay_and_notifier(defer_refused=False) as (relay, notifier, log, deferred):
        slow = envelope_of(batch_for(SLOW))
        await notifier.handle(slow, batch_for(SLOW))
        assert log.rows[slow.event_id][0] is DeliveryStatus.SENT and deferred.rows == {}
    assert len(relay.copies[SLOW]) == 1


async def test_a_contact_change_notice_the_relay_confirms_late_is_tried_once_more_then_taken_for_sent() -> None:
    async with relay_and_notifier() as (relay, notifier, _, _):
        notices = FakeNotices()
        notices.notice = replace(notices.notice, old_email=SLOW)
        notifier._contact_changes = notices  # type: ignore[assignment]
        counted = unconfirmed(CONTACT_CHANGED)
        assert await tried_when_due(notifier, notices) == 1
        assert notices.pending and notices.notice.tries == 1 and notices.due_at == notices.now + 60.0
        assert await tried_when_due(notifier, notices) == 1
        assert notices.sent_at is not None and notices.failed_at is None
        assert await tried_when_due(notifier, notices) == 0
    assert len(relay.copies[SLOW]) == 2
    assert unconfirmed(CONTACT_CHANGED) == counted + 2


def test_the_unconfirmed_counter_exists_at_zero_before_any_email() -> None:
    create_app(NotifierSettings(DATABASE_URL="postgresql://postgres@db/lrs"))
    exported = generate_latest().decode()
    for kind in ("lrs.batch.completed.v1", "lrs.challenge.raised.v2", CONTACT_CHANGED):
        assert f'lrs_notifier_emails_unconfirmed_total{{kind="{kind}"}}' in exported
