from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from services.notifier.tests.unit.test_emails import completed

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised
from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.registry import wrap
from lrs_platform.consumer import Failure, classify_failure
from notifier.emails import ChallengeContact
from notifier.handlers import Notifications, RetryLater
from notifier.mailer import MailError
from notifier.store import DeliveryStatus, StoredContact


class FakeMailer:
    def __init__(self, failures: list[MailError] | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.failures = failures or []

    async def send(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


class FakeDeliveryLog:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, tuple[DeliveryStatus, int, str | None]] = {}

    async def status(self, event_id: uuid.UUID) -> DeliveryStatus | None:
        row = self.rows.get(event_id)
        return row[0] if row else None

    async def begin_attempt(self, event_id: uuid.UUID, event_type: str, message_id: str) -> int:
        status, attempts, error = self.rows.get(event_id, (DeliveryStatus.PENDING, 0, None))
        self.rows[event_id] = (status, attempts + 1, error)
        return attempts + 1

    async def finish(
        self, event_id: uuid.UUID, status: DeliveryStatus, *, event_type: str, message_id: str, error: str | None
    ) -> None:
        _, attempts, previous_error = self.rows.get(event_id, (status, 0, None))
        self.rows[event_id] = (status, attempts, error or previous_error)


class FakeContacts:
    def __init__(self, contacts: dict[str, ChallengeContact]) -> None:
        self.contacts = contacts

    async def get(self, ao_id: str) -> StoredContact | None:
        contact = self.contacts.get(ao_id)
        return StoredContact(ao_id, contact, "ao:" + ao_id, datetime.now(UTC)) if contact else None


def envelope_of(payload: Contract) -> Envelope:
    return wrap(payload, source="test", correlation_id="c-1")


def notifications(mailer: FakeMailer, log: FakeDeliveryLog, contacts: FakeContacts | None = None) -> Notifications:
    return Notifications(mailer, log, contacts or FakeContacts({}), mail_from="lrs@lrs.local")  # type: ignore[arg-type]


async def test_a_redelivered_event_logged_as_sent_is_not_sent_again() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    envelope = envelope_of(completed())
    service = notifications(mailer, log)
    await service.handle(envelope, completed())
    await service.handle(envelope, completed())
    assert len(mailer.sent) == 1
    assert mailer.sent[0]["Message-ID"] == f"<{envelope.event_id}@lrs.local>"
    assert log.rows[envelope.event_id] == (DeliveryStatus.SENT, 1, None)


async def test_a_transient_failure_asks_for_a_retry_with_growing_bounded_delay() -> None:
    mailer = FakeMailer([MailError("SMTPConnectError", permanent=False)] * 2)
    log = FakeDeliveryLog()
    envelope = envelope_of(completed())
    service = notifications(mailer, log)
    with pytest.raises(RetryLater) as first:
        await service.handle(envelope, completed())
    with pytest.raises(RetryLater) as second:
        await service.handle(envelope, completed())
    assert (first.value.delay, second.value.delay) == (0.5, 1.0)
    await service.handle(envelope, completed())
    assert len(mailer.sent) == 1
    assert log.rows[envelope.event_id] == (DeliveryStatus.SENT, 3, "SMTPConnectError")


async def test_a_permanent_failure_is_logged_as_failed_and_not_retried() -> None:
    mailer, log = FakeMailer([MailError("SMTP 550", permanent=True)]), FakeDeliveryLog()
    envelope = envelope_of(completed())
    service = notifications(mailer, log)
    await service.handle(envelope, completed())
    await service.handle(envelope, completed())
    assert mailer.sent == []
    assert log.rows[envelope.event_id] == (DeliveryStatus.FAILED, 1, "SMTP 550")


async def test_challenge_raised_goes_to_the_aos_contact_and_without_one_is_skipped() -> None:
    contact = ChallengeContact("Ada", "Lovelace", "01234 567890", "challenges@ao.example")
    mailer, log = FakeMailer(), FakeDeliveryLog()
    service = notifications(mailer, log, FakeContacts({"RN5133": contact}))
    for ao_id in ("RN5133", "RN7777"):
        raised = ChallengeRaised(
            challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id=ao_id, uln="1000000043", reason="wrong grade"
        )
        await service.handle(envelope_of(raised), raised)
    assert [message["To"] for message in mailer.sent] == ["challenges@ao.example"]
    assert sorted(status for status, _, _ in log.rows.values()) == [DeliveryStatus.SENT, DeliveryStatus.SKIPPED]


async def test_events_that_need_no_email_are_ignored() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    acknowledged = ChallengeAcknowledged(challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133")
    await notifications(mailer, log).handle(envelope_of(acknowledged), acknowledged)
    assert mailer.sent == [] and log.rows == {}


def test_an_smtp_server_away_is_transient_for_the_consumer_never_poison() -> None:
    assert classify_failure(RetryLater(2.0)) is Failure.TRANSIENT
