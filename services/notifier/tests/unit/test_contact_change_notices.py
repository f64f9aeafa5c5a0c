"""The notice to a challenge contact's old address (decision 0170) against the relay's failures (decision 0186).
Every failure was counted as one of its 25 tries: the relay away, or refusing our login (535 at AUTH) or asking for
one (530), for about 19 hours gave the notice up and forgot the old address, which was never told. Now the relay's
own failures are waited out, however long, as for every other email; only refusals of the recipient count."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from services.notifier.tests.unit.test_handlers import FakeDeliveryLog, FakeMailer, emails_failed, notifications

from lrs_platform.mail import MailError
from notifier.handlers import CONTACT_CHANGED, RECIPIENT_ATTEMPTS, Notifications
from notifier.store import ContactChangeNotice

RELAY_AWAY = MailError("SMTPConnectError", permanent=False)
LOGIN_REFUSED = MailError("SMTP 535 5.7.8 at AUTH", permanent=False)
LOGIN_REQUIRED = MailError("SMTP 530 5.7.0 at MAIL FROM", permanent=False)
BLOCKED = MailError("SMTP 554 5.7.1 at greeting", permanent=False)
MAILBOX_FULL = MailError("recipients refused: [452 4.2.2]", permanent=False, about_recipient=True)
USER_UNKNOWN = MailError("recipients refused: [550 5.1.1]", permanent=True, about_recipient=True)


class FakeNotices:
    """`ContactChangeNotices` with a clock of its own (`now`, in seconds): one notice, as the table keeps it."""

    def __init__(self) -> None:
        self.notice = ContactChangeNotice(
            notice_id=uuid.uuid4(),
            ao_id="RN5133",
            old_email="old-contact@ao.example",
            old_name="Ada Lovelace",
            changed_by="ao:RN5133",
            changed_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            tries=0,
        )
        self.due_at = 0.0
        self.now = 0.0
        self.sent_at: float | None = None
        self.failed_at: float | None = None
        self.old_email: str | None = self.notice.old_email  # forgotten once sent or given up (migration 0007)

    @property
    def pending(self) -> bool:
        return self.sent_at is None and self.failed_at is None

    async def claim_due(self, limit: int, lease_seconds: float) -> list[ContactChangeNotice]:
        if not self.pending or self.due_at > self.now:
            return []
        self.due_at = self.now + lease_seconds
        return [self.notice]

    async def sent(self, notice_id: uuid.UUID) -> None:
        self.sent_at = self.now
        self.old_email = None

    async def postpone(self, notice_id: uuid.UUID, delay_seconds: float) -> None:
        if self.pending:
            self.due_at = self.now + delay_seconds

    async def try_again(self, notice_id: uuid.UUID, delay_seconds: float, *, give_up: bool) -> None:
        self.notice = replace(self.notice, tries=self.notice.tries + 1)
        self.due_at = self.now + delay_seconds
        if give_up:
            self.failed_at = self.now
            self.old_email = None


def service(mailer: FakeMailer, notices: FakeNotices) -> Notifications:
    built = notifications(mailer, FakeDeliveryLog())
    built._contact_changes = notices  # type: ignore[assignment]
    return built


async def tried_when_due(notifier: Notifications, notices: FakeNotices) -> int:
    """One pass of the loop once the notice is due (its clock moved on to then)."""
    notices.now = max(notices.now, notices.due_at)
    return await notifier.send_contact_change_notices()


async def test_the_relay_refusing_every_email_for_longer_than_the_refusals_tries_leaves_the_notice_to_go() -> None:
    """Each of the relay's failures (away, 535 at AUTH, 530 at MAIL FROM, a 554 greeting), well past the tries a
    refused recipient is given: the notice stays, its old address kept, untried, and goes once the relay is back."""
    outage = [RELAY_AWAY, LOGIN_REFUSED, LOGIN_REQUIRED, BLOCKED] * RECIPIENT_ATTEMPTS
    mailer, notices = FakeMailer(list(outage)), FakeNotices()
    notifier = service(mailer, notices)
    waits = []
    for _ in outage:
        assert await tried_when_due(notifier, notices) == 1
        waits.append(notices.due_at - notices.now)
        assert notices.pending, "given up while only the relay refused"
    assert notices.notice.tries == 0 and notices.old_email == "old-contact@ao.example"
    # due again as the consumer retries an email the relay would not take: growing, bounded (0.5 s to 30 s)
    assert waits[:3] == [0.5, 1.0, 2.0] and max(waits) == 30.0

    assert await tried_when_due(notifier, notices) == 1  # the relay back
    [email] = mailer.sent
    assert email["To"] == "old-contact@ao.example"
    assert notices.sent_at is not None and notices.failed_at is None


async def test_refusals_of_the_recipient_still_count_and_give_the_notice_up_after_the_last_try() -> None:
    """A full mailbox is the notice's own: 25 tries, a minute apart at first, then given up and its address
    forgotten; the relay's failures between them add no try."""
    mailer = FakeMailer([RELAY_AWAY, *[MAILBOX_FULL, LOGIN_REFUSED] * (RECIPIENT_ATTEMPTS - 1), MAILBOX_FULL])
    notices = FakeNotices()
    notifier = service(mailer, notices)
    while notices.pending:
        assert await tried_when_due(notifier, notices) == 1
    assert notices.notice.tries == RECIPIENT_ATTEMPTS and notices.failed_at is not None
    assert notices.old_email is None and mailer.failures == [] and mailer.sent == []


async def test_a_recipient_refused_for_good_gives_the_notice_up_at_once() -> None:
    mailer, notices = FakeMailer([RELAY_AWAY, USER_UNKNOWN]), FakeNotices()
    notifier = service(mailer, notices)
    await tried_when_due(notifier, notices)
    assert notices.pending and notices.notice.tries == 0
    await tried_when_due(notifier, notices)
    assert notices.failed_at is not None and notices.notice.tries == 1 and notices.old_email is None


async def test_a_notice_given_up_counts_as_an_email_given_up_and_every_failed_try_as_transient() -> None:
    """Given up, the notice to the old address (decision 0170's security notice) moved no counter: the alert on
    given-up emails never fired for it."""
    mailer, notices = FakeMailer([RELAY_AWAY, MAILBOX_FULL, USER_UNKNOWN]), FakeNotices()
    notifier = service(mailer, notices)
    before = {permanence: emails_failed(CONTACT_CHANGED, permanence) for permanence in ("transient", "permanent")}
    for _ in range(3):
        await tried_when_due(notifier, notices)
    assert notices.failed_at is not None
    assert emails_failed(CONTACT_CHANGED, "transient") == before["transient"] + 2
    assert emails_failed(CONTACT_CHANGED, "permanent") == before["permanent"] + 1


async def test_a_notice_given_up_at_its_last_try_counts_as_given_up_once() -> None:
    mailer, notices = FakeMailer([MAILBOX_FULL] * RECIPIENT_ATTEMPTS), FakeNotices()
    notifier = service(mailer, notices)
    before = {permanence: emails_failed(CONTACT_CHANGED, permanence) for permanence in ("transient", "permanent")}
    while notices.pending:
        await tried_when_due(notifier, notices)
    assert emails_failed(CONTACT_CHANGED, "transient") == before["transient"] + RECIPIENT_ATTEMPTS - 1
    assert emails_failed(CONTACT_CHANGED, "permanent") == before["permanent"] + 1
