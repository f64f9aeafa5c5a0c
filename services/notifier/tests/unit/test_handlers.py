from __future__ import annotations

import asyncio
import math
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from prometheus_client import REGISTRY
from services.notifier.tests.unit.test_emails import completed

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeRaisedV1
from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.outcomes import BatchAbandoned, BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.registry import wrap
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.keyring import DATA_KEY_BYTES, ERASED, Erased, KeyringUnavailable, LearnerKey, Purpose
from lrs_platform.mail import MailError
from notifier.emails import NO_SERVICE_DESK, ChallengeContact, ServiceDesk
from notifier.handlers import RECIPIENT_ATTEMPTS, Notifications, RetryLater
from notifier.store import UNKNOWN_DELIVERY, ChunkCodes, DeliveryFor, DeliveryStatus, HeldNotice, StoredContact

ULN = "1000000043"
KEY = LearnerKey(ULN, secrets.token_bytes(DATA_KEY_BYTES))


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
        self.whose: dict[uuid.UUID, DeliveryFor] = {}

    @asynccontextmanager
    async def claimed(self, event_id: uuid.UUID) -> AsyncIterator[None]:
        yield  # one process: nothing else handles the event meanwhile

    async def status(self, event_id: uuid.UUID) -> DeliveryStatus | None:
        row = self.rows.get(event_id)
        return row[0] if row else None

    async def begin_attempt(
        self, event_id: uuid.UUID, event_type: str, message_id: str, *, whose: DeliveryFor = UNKNOWN_DELIVERY
    ) -> int:
        status, attempts, error = self.rows.get(event_id, (DeliveryStatus.PENDING, 0, None))
        self.rows[event_id] = (status, attempts + 1, error)
        self._keep(event_id, whose)
        return attempts + 1

    async def finish(
        self,
        event_id: uuid.UUID,
        status: DeliveryStatus,
        *,
        event_type: str,
        message_id: str,
        error: str | None,
        whose: DeliveryFor = UNKNOWN_DELIVERY,
    ) -> None:
        _, attempts, previous_error = self.rows.get(event_id, (status, 0, None))
        self.rows[event_id] = (status, attempts, error or previous_error)
        self._keep(event_id, whose)

    async def whose_of(self, event_id: uuid.UUID) -> DeliveryFor:
        return self.whose.get(event_id, UNKNOWN_DELIVERY)

    def _keep(self, event_id: uuid.UUID, whose: DeliveryFor) -> None:
        """As the store: what a write does not know is kept as it was."""
        before = self.whose.get(event_id, UNKNOWN_DELIVERY)
        kept = (new or old for new, old in zip(whose.columns, before.columns, strict=True))
        self.whose[event_id] = DeliveryFor(*kept)


CLOCK_START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # when the fake deferred emails' clock reads 0


class FakeDeferred:
    """The deferred emails, with a clock of their own: `due` says which are due after `seconds`."""

    def __init__(self, contacts: FakeContacts | None = None) -> None:
        self.rows: dict[uuid.UUID, tuple[bytes, float]] = {}
        self.refusals: dict[uuid.UUID, int] = {}
        self.held_for: dict[uuid.UUID, str] = {}
        self.refused_contact_at: dict[uuid.UUID, datetime | None] = {}
        self.released_at: dict[uuid.UUID, datetime] = {}
        self.contacts = contacts
        self.now = 0.0

    async def tries(self, event_id: uuid.UUID) -> int:
        return self.refusals.get(event_id, 0) if event_id in self.rows else 0

    async def waiting(self, event_id: uuid.UUID) -> bool:
        return event_id in self.rows

    async def hold(
        self, event_id: uuid.UUID, envelope: bytes, ao_id: str, *, refused_contact_at: datetime | None = None
    ) -> None:
        self.rows[event_id] = (envelope, math.inf)
        self.held_for[event_id] = ao_id
        self.refused_contact_at[event_id] = refused_contact_at
        self.refusals.pop(event_id, None)

    async def held_until(self, event_id: uuid.UUID) -> HeldNotice | None:
        if event_id not in self.rows or event_id not in self.held_for:
            return None
        refused = self.refused_contact_at.get(event_id) is not None
        return HeldNotice(self.released_at.get(event_id, CLOCK_START), refused)

    def _releasable(self, event_id: uuid.UUID) -> bool:
        """Its AO has a contact, set after the one that refused it (if one did)."""
        ao_id = self.held_for.get(event_id)
        set_at = self.contacts.set_at(ao_id) if self.contacts and ao_id else None
        refused_at = self.refused_contact_at.get(event_id)
        return set_at is not None and (refused_at is None or set_at > refused_at)

    async def release_for_contacts(self) -> int:
        released = [
            event_id for event_id, (_, at) in self.rows.items() if at == math.inf and self._releasable(event_id)
        ]
        for event_id in released:
            self.rows[event_id] = (self.rows[event_id][0], self.now)
            self.released_at[event_id] = CLOCK_START + timedelta(seconds=self.now)
        return len(released)

    async def held(self) -> int:
        return sum(1 for _, at in self.rows.values() if at == math.inf)

    async def defer(self, event_id: uuid.UUID, envelope: bytes, delay_seconds: float) -> None:
        self.refusals[event_id] = (self.refusals.get(event_id, 0) if event_id in self.rows else 0) + 1
        self.rows[event_id] = (envelope, self.now + delay_seconds)

    async def postpone(self, event_id: uuid.UUID, delay_seconds: float) -> None:
        if event_id in self.rows:  # as the UPDATE: a row gone meanwhile stays gone
            self.rows[event_id] = (self.rows[event_id][0], self.now + delay_seconds)

    async def claim_due(self, limit: int, lease_seconds: float) -> list[tuple[uuid.UUID, bytes]]:
        due_first = sorted(self.rows.items(), key=lambda row: row[1][1])
        due = [(event_id, raw) for event_id, (raw, at) in due_first if at <= self.now][:limit]
        for event_id, raw in due:
            self.rows[event_id] = (raw, self.now + lease_seconds)
        return due

    async def remove(self, event_id: uuid.UUID) -> None:
        self.rows.pop(event_id, None)

    async def count(self) -> int:
        return sum(1 for _, at in self.rows.values() if at != math.inf)


class FakeContacts:
    """The AOs' contacts (set by assigning `contacts[ao_id]`), each with when it was set, as the store keeps it."""

    def __init__(self, contacts: dict[str, ChallengeContact]) -> None:
        self.contacts = contacts
        self._set: dict[str, tuple[ChallengeContact, datetime]] = {}

    def set_at(self, ao_id: str) -> datetime | None:
        contact = self.contacts.get(ao_id)
        if contact is None:
            return None
        known = self._set.get(ao_id)
        if known is None or known[0] is not contact:
            later = max((at for _, at in self._set.values()), default=CLOCK_START) + timedelta(seconds=1)
            self._set[ao_id] = known = (contact, later)
        return known[1]

    async def get(self, ao_id: str) -> StoredContact | None:
        contact = self.contacts.get(ao_id)
        set_at = self.set_at(ao_id)
        return StoredContact(ao_id, contact, "ao:" + ao_id, set_at) if contact and set_at else None


class FakeTallies:
    def __init__(self) -> None:
        self.chunks: dict[uuid.UUID, dict[int, dict[str, int]]] = {}

    async def add_chunks(self, chunks: Sequence[ChunkCodes]) -> None:
        for batch_id, chunk_index, counts in chunks:
            self.chunks.setdefault(batch_id, {}).setdefault(chunk_index, dict(counts))

    async def totals(self, batch_id: uuid.UUID) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self.chunks.get(batch_id, {}).values():
            for code, records in counts.items():
                totals[code] = totals.get(code, 0) + records
        return totals

    async def forget(self, batch_id: uuid.UUID) -> None:
        self.chunks.pop(batch_id, None)


class FakeKeyring:
    """The learners' keys as `Keyring.find` answers: a key, ERASED, or absent (none was ever made)."""

    def __init__(self, keys: dict[str, LearnerKey | Erased] | None = None, *, unavailable: bool = False) -> None:
        self.keys = keys or {}
        self.unavailable = unavailable

    async def find(self, ulns: Iterable[str]) -> dict[str, LearnerKey | Erased]:
        if self.unavailable:
            raise KeyringUnavailable("the learner key store cannot be reached")
        return {uln: self.keys[uln] for uln in ulns if uln in self.keys}


def envelope_of(payload: Contract) -> Envelope:
    return wrap(payload, source="test", correlation_id="c-1")


def notifications(
    mailer: FakeMailer,
    log: FakeDeliveryLog,
    contacts: FakeContacts | None = None,
    tallies: FakeTallies | None = None,
    keyring: FakeKeyring | None = None,
    deferred: FakeDeferred | None = None,
    defer_refused: bool = True,
    ao_names: dict[str, str] | None = None,
    service_desk: ServiceDesk = NO_SERVICE_DESK,
) -> Notifications:
    return Notifications(
        mailer,
        log,  # type: ignore[arg-type]
        contacts or FakeContacts({}),  # type: ignore[arg-type]
        tallies or FakeTallies(),  # type: ignore[arg-type]
        keyring or FakeKeyring(),  # type: ignore[arg-type]
        mail_from="lrs@lrs.local",
        public_base_url="https://portal.lrs.example",
        deferred=deferred or FakeDeferred(),  # type: ignore[arg-type]
        defer_refused=defer_refused,
        ao_names=ao_names,
        service_desk=service_desk,
    )


def rejected(line: int, *codes: str) -> RecordOutcome:
    findings = tuple(Finding(code=code, message="wrong") for code in codes)
    return RecordOutcome(line=line, status=RecordStatus.REJECTED, errors=findings)


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
    assert str(first.value) == "the mail relay: SMTPConnectError; retry in 0.5s"  # what /readyz shows while it retries
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


async def test_a_recipient_refused_for_now_is_set_aside_tried_when_due_and_given_up_after_a_bounded_number() -> None:
    """A full mailbox held every other AO's email behind it (for ten minutes, and before that for as long as
    it stayed full): now its email waits aside, and is tried again a minute, two, four... later."""
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, deferred = FakeMailer([full_mailbox] * RECIPIENT_ATTEMPTS), FakeDeliveryLog(), FakeDeferred()
    envelope = envelope_of(completed())
    service = notifications(mailer, log, deferred=deferred)
    await service.handle(envelope, completed())  # no RetryLater: the consumer goes on to the next email
    assert log.rows[envelope.event_id] == (DeliveryStatus.PENDING, 1, "recipients refused: [452]")
    assert deferred.rows[envelope.event_id][1] == 60.0
    assert await service.retry_deferred() == 0, "not due yet"
    waits = []
    while envelope.event_id in deferred.rows:
        waits.append(deferred.rows[envelope.event_id][1] - deferred.now)
        deferred.now = deferred.rows[envelope.event_id][1]
        assert await service.retry_deferred() == 1
    assert waits[:7] == [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0] and max(waits) == 3600.0
    assert log.rows[envelope.event_id] == (DeliveryStatus.FAILED, RECIPIENT_ATTEMPTS, "recipients refused: [452]")
    assert mailer.sent == []


async def test_a_deferred_email_goes_when_the_recipient_takes_it_and_is_sent_once() -> None:
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, deferred = FakeMailer([full_mailbox, full_mailbox]), FakeDeliveryLog(), FakeDeferred()
    envelope = envelope_of(completed())
    service = notifications(mailer, log, deferred=deferred)
    await service.handle(envelope, completed())
    deferred.now = 60.0
    await service.retry_deferred()  # refused again: deferred again
    deferred.now = 180.0
    await service.retry_deferred()
    assert [message["Message-ID"] for message in mailer.sent] == [f"<{envelope.event_id}@lrs.local>"]
    assert log.rows[envelope.event_id][0] is DeliveryStatus.SENT and deferred.rows == {}
    await service.handle(envelope, completed())  # the consumer's redelivery: already sent
    assert len(mailer.sent) == 1


async def test_the_consumer_leaves_a_deferred_email_to_its_loop_and_the_relay_away_costs_it_no_try() -> None:
    """A poll handled again after a failure tried the deferred email early, and every try while the relay
    was away counted towards giving it up."""
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    away = MailError("SMTPConnectError", permanent=False)
    mailer, log, deferred = FakeMailer([full_mailbox, *[away] * 30]), FakeDeliveryLog(), FakeDeferred()
    envelope = envelope_of(completed())
    service = notifications(mailer, log, deferred=deferred)
    await service.handle(envelope, completed())
    await service.handle(envelope, completed())  # the same poll again: left to the deferred loop
    assert log.rows[envelope.event_id][1] == 1 and mailer.failures[0] is away
    for _ in range(30):  # the relay away for 30 passes: the email waits, refused once only
        deferred.now = deferred.rows[envelope.event_id][1]
        await service.retry_deferred()
    assert deferred.refusals[envelope.event_id] == 1
    deferred.now = deferred.rows[envelope.event_id][1]
    await service.retry_deferred()
    assert len(mailer.sent) == 1 and deferred.rows == {}


async def test_in_the_sandpit_a_recipient_refused_for_now_fails_at_once() -> None:
    """Its notifier sleeps at zero pods while no batch comes: nothing would try a deferred email."""
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, deferred = FakeMailer([full_mailbox]), FakeDeliveryLog(), FakeDeferred()
    envelope = envelope_of(completed())
    await notifications(mailer, log, deferred=deferred, defer_refused=False).handle(envelope, completed())
    assert log.rows[envelope.event_id] == (DeliveryStatus.FAILED, 1, "recipients refused: [452]")
    assert deferred.rows == {}


class BrokenMailer(FakeMailer):
    async def send(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        raise RuntimeError("a bug")


async def test_a_deferred_try_that_fails_otherwise_is_counted_and_given_up_never_kept_for_ever() -> None:
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, deferred = BrokenMailer([full_mailbox]), FakeDeliveryLog(), FakeDeferred()
    envelope = envelope_of(completed())
    service = notifications(mailer, log, deferred=deferred)
    await service.handle(envelope, completed())
    kind = envelope.event_type
    transient_before, permanent_before = emails_failed(kind, "transient"), emails_failed(kind, "permanent")
    tried = 0
    while envelope.event_id in deferred.rows:
        deferred.now = deferred.rows[envelope.event_id][1]
        assert await service.retry_deferred() == 1
        tried += 1
    assert tried == RECIPIENT_ATTEMPTS - 1
    status, _, error = log.rows[envelope.event_id]
    assert (status, error) == (DeliveryStatus.FAILED, "deferred try failed: RuntimeError")
    # every failed try is counted: each one tried again as transient, the last as the email given up
    assert emails_failed(kind, "transient") - transient_before == tried - 1
    assert emails_failed(kind, "permanent") - permanent_before == 1


async def test_the_relay_away_during_a_deferred_try_ends_the_pass_and_the_email_waits() -> None:
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    away = MailError("SMTPConnectError", permanent=False)
    mailer, log, deferred = FakeMailer([full_mailbox, away]), FakeDeliveryLog(), FakeDeferred()
    envelope = envelope_of(completed())
    service = notifications(mailer, log, deferred=deferred)
    await service.handle(envelope, completed())
    deferred.now = 60.0
    assert await service.retry_deferred() == 1
    assert envelope.event_id in deferred.rows and log.rows[envelope.event_id][0] is DeliveryStatus.PENDING
    deferred.now = 120.0
    await service.retry_deferred()
    assert len(mailer.sent) == 1 and deferred.rows == {}

    away = MailError("SMTPConnectError", permanent=False)
    mailer, log = FakeMailer([away] * (RECIPIENT_ATTEMPTS + 5)), FakeDeliveryLog()
    service = notifications(mailer, log)
    for _ in range(RECIPIENT_ATTEMPTS + 5):
        with pytest.raises(RetryLater):
            await service.handle(envelope, completed())


async def test_challenge_raised_goes_to_the_aos_contact_and_without_one_is_held_not_skipped() -> None:
    contact = ChallengeContact("Ada", "Lovelace", "01234 567890", "challenges@ao.example")
    mailer, log, contacts = FakeMailer(), FakeDeliveryLog(), FakeContacts({"RN5133": contact})
    deferred = FakeDeferred(contacts)
    service = notifications(mailer, log, contacts, keyring=FakeKeyring({ULN: KEY}), deferred=deferred)
    for ao_id in ("RN5133", "RN7777"):
        raised = sealed_raise(ao_id, "wrong grade")
        await service.handle(envelope_of(raised), raised)
    assert [message["To"] for message in mailer.sent] == ["challenges@ao.example"]
    assert "wrong grade" in plain_text(mailer.sent[0])
    assert "no challenge contact set" not in plain_text(mailer.sent[0])
    assert sorted(status for status, _, _ in log.rows.values()) == [DeliveryStatus.PENDING, DeliveryStatus.SENT]
    assert await deferred.held() == 1 and await deferred.count() == 0


async def test_a_challenge_notice_held_for_want_of_a_contact_goes_once_the_contact_is_set_and_only_once() -> None:
    """It used to be logged skipped and never sent, even once the AO set a contact (decision 0155)."""
    mailer, log, contacts = FakeMailer(), FakeDeliveryLog(), FakeContacts({})
    deferred = FakeDeferred(contacts)
    service = notifications(mailer, log, contacts, keyring=FakeKeyring({ULN: KEY}), deferred=deferred)
    raised = sealed_raise("RN7777", "wrong grade")
    envelope = envelope_of(raised)
    await service.handle(envelope, raised)
    await service.handle(envelope, raised)  # a redelivery while it waits: held once, still nothing sent
    deferred.now = 10**9
    assert await service.retry_deferred() == 0, "no contact yet: never due"
    assert mailer.sent == [] and log.rows[envelope.event_id][0] is DeliveryStatus.PENDING
    assert b"wrong grade" not in deferred.rows[envelope.event_id][0], "the reason stays sealed while held"

    contacts.contacts["RN7777"] = ChallengeContact("Bo", "Clerk", "01234 567890", "late@ao.example")
    assert await service.retry_deferred() == 1
    [email] = mailer.sent
    assert (email["To"], email["Message-ID"]) == ("late@ao.example", f"<{envelope.event_id}@lrs.local>")
    # dated when it was released, so it sorts where it arrives, not among mail of the day it was raised
    assert parsedate_to_datetime(email["Date"]) == CLOCK_START + timedelta(seconds=10**9) != envelope.occurred_at
    text = plain_text(email)
    assert "wrong grade" in text and "Dear Bo Clerk" in text
    assert "no challenge contact set, so this notice waited until one was" in text
    assert "may have been acknowledged or resolved since" in text
    assert log.rows[envelope.event_id][0] is DeliveryStatus.SENT and deferred.rows == {}
    await service.handle(envelope, raised)  # the consumer's redelivery after it went: not sent again
    assert await service.retry_deferred() == 0 and len(mailer.sent) == 1


async def test_a_released_notice_whose_contact_refuses_it_for_now_is_deferred_and_still_says_it_was_held() -> None:
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, contacts = FakeMailer([full_mailbox]), FakeDeliveryLog(), FakeContacts({})
    deferred = FakeDeferred(contacts)
    service = notifications(mailer, log, contacts, keyring=FakeKeyring({ULN: KEY}), deferred=deferred)
    raised = sealed_raise("RN7777", "wrong grade")
    envelope = envelope_of(raised)
    await service.handle(envelope, raised)
    contacts.contacts["RN7777"] = ChallengeContact("Bo", "Clerk", "01234 567890", "late@ao.example")
    assert await service.retry_deferred() == 1
    assert mailer.sent == [] and deferred.refusals[envelope.event_id] == 1 and await deferred.held() == 0
    deferred.now = deferred.rows[envelope.event_id][1]
    assert await service.retry_deferred() == 1
    [email] = mailer.sent
    assert "this notice waited until one was" in plain_text(email)


async def test_a_challenge_notice_its_contacts_mailbox_refuses_for_good_is_held_for_the_next_contact_set() -> None:
    """It was logged failed, and the contact the AO set next never heard of the challenge (decision 0155 holds a
    notice only for want of a contact): now a mailbox that is gone counts as no contact. A batch's email refused for
    good still fails (`test_a_permanent_failure_is_logged_as_failed_and_not_retried`): its address is the file's."""
    gone = MailError("recipients refused: [550 5.1.1]", permanent=True, about_recipient=True)
    leaver = ChallengeContact("Al", "Gone", "01234 567890", "gone@ao.example")
    mailer, log, contacts = FakeMailer([gone]), FakeDeliveryLog(), FakeContacts({"RN7777": leaver})
    deferred = FakeDeferred(contacts)
    service = notifications(mailer, log, contacts, keyring=FakeKeyring({ULN: KEY}), deferred=deferred)
    raised = sealed_raise("RN7777", "wrong grade")
    envelope = envelope_of(raised)
    await service.handle(envelope, raised)
    assert mailer.sent == [] and await deferred.held() == 1 and deferred.refusals.get(envelope.event_id) is None
    assert log.rows[envelope.event_id] == (
        DeliveryStatus.PENDING,
        1,
        "held: its challenge contact's mailbox refused it for RN7777",
    )
    await service.handle(envelope, raised)  # a redelivery while it waits: left held
    deferred.now = 10**9
    assert await service.retry_deferred() == 0, "not released while the contact that refused it is the AO's"
    assert mailer.sent == []

    contacts.contacts["RN7777"] = ChallengeContact("Bo", "Clerk", "01234 567890", "new@ao.example")
    assert await service.retry_deferred() == 1
    [email] = mailer.sent
    assert (email["To"], email["Message-ID"]) == ("new@ao.example", f"<{envelope.event_id}@lrs.local>")
    text = plain_text(email)
    assert "Dear Bo Clerk" in text and "wrong grade" in text
    assert "challenge contact then refused it, so this notice waited until another contact was set" in text
    assert log.rows[envelope.event_id][0] is DeliveryStatus.SENT and deferred.rows == {}


async def test_a_challenge_notice_refused_for_now_until_its_last_try_is_held_too_not_failed() -> None:
    full = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    contact = ChallengeContact("Al", "Full", "01234 567890", "full@ao.example")
    mailer, log, contacts = (
        FakeMailer([full] * RECIPIENT_ATTEMPTS),
        FakeDeliveryLog(),
        FakeContacts({"RN7777": contact}),
    )
    deferred = FakeDeferred(contacts)
    service = notifications(mailer, log, contacts, keyring=FakeKeyring({ULN: KEY}), deferred=deferred)
    raised = sealed_raise("RN7777", "wrong grade")
    envelope = envelope_of(raised)
    await service.handle(envelope, raised)
    while deferred.rows[envelope.event_id][1] != math.inf:
        deferred.now = deferred.rows[envelope.event_id][1]
        await service.retry_deferred()
    assert log.rows[envelope.event_id][:2] == (DeliveryStatus.PENDING, RECIPIENT_ATTEMPTS)
    assert await deferred.held() == 1 and mailer.failures == []


async def test_an_event_that_cannot_make_an_email_logs_no_attempt_so_no_row_stays_pending_once_parked() -> None:
    """`begin_attempt` ran before the message was built: the parked poison's delivery row read `pending` for
    ever (in progress, to an operator), even after `lrs dlq skip`."""
    mailer, log = FakeMailer(), FakeDeliveryLog()
    poison = completed(notification_email="x@ao.example\r\nBcc: spy@evil.example")
    service = notifications(mailer, log)
    for _ in range(3):  # the guard's attempts, then it parks it
        with pytest.raises(ValueError, match="linefeed"):
            await service.handle(envelope_of(poison), poison)
    assert log.rows == {} and mailer.sent == []


class SlowMailer(FakeMailer):
    """A relay that has each email as soon as it is sent (`has_it`), and answers only once `answer` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.has_it = asyncio.Event()
        self.answer = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        self.has_it.set()
        await self.answer.wait()


async def test_at_shutdown_the_email_being_sent_is_let_finish_and_recorded_and_no_other_begins() -> None:
    """A SIGTERM cancelled the loops at once: an email the relay already had was left `pending`, and sent again
    after the restart (a second copy to a person)."""
    mailer, log = SlowMailer(), FakeDeliveryLog()
    service = notifications(mailer, log)
    first, second = envelope_of(completed()), envelope_of(completed())

    async def poll() -> None:
        await service.handle(first, completed())
        await service.handle(second, completed())

    consumer = asyncio.create_task(poll())
    await asyncio.wait_for(mailer.has_it.wait(), 5)
    stopping = asyncio.create_task(service.stop(within=5))
    await asyncio.sleep(0)  # the stop under way: it waits for the relay's answer
    assert not stopping.done()
    mailer.answer.set()
    await asyncio.wait_for(stopping, 5)
    assert log.rows[first.event_id][0] is DeliveryStatus.SENT
    assert not consumer.done() and second.event_id not in log.rows, "the next email waits to be cancelled"
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert len(mailer.sent) == 1


async def test_a_shutdown_waits_for_a_slow_relay_no_longer_than_its_bound() -> None:
    mailer, log = SlowMailer(), FakeDeliveryLog()
    service = notifications(mailer, log)
    consumer = asyncio.create_task(service.handle(envelope_of(completed()), completed()))
    await asyncio.wait_for(mailer.has_it.wait(), 5)
    await asyncio.wait_for(service.stop(within=0.05), 5)  # the relay never answers: the stop returns anyway
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer


def sealed_raise(ao_id: str, reason: str) -> ChallengeRaised:
    return ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id=ao_id,
        uln=ULN,
        reason_sealed=KEY.seal_text(Purpose.CHALLENGE_REASON, reason),
    )


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.mark.parametrize("key", [ERASED, None], ids=["erased", "no key"])
async def test_an_erased_learners_challenge_is_still_emailed_without_their_reason(key: Erased | None) -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    contacts = FakeContacts({"RN5133": ChallengeContact("Ada", "Lovelace", "01234 567890", "c@ao.example")})
    service = notifications(mailer, log, contacts, keyring=FakeKeyring({ULN: key} if key else {}))
    raised = sealed_raise("RN5133", "wrong grade")
    await service.handle(envelope_of(raised), raised)
    [sent] = mailer.sent
    assert str(raised.challenge_id) in plain_text(sent)
    assert "no longer available" in plain_text(sent) and "personal data was erased" in plain_text(sent)
    assert "wrong grade" not in sent.as_string()


async def test_a_challenge_notice_names_its_ao_by_id_in_the_subject_and_by_id_and_name_in_the_body() -> None:
    """As a batch's email does: a contact for several AO ids knows which AO's portal account answers it."""
    mailer, log = FakeMailer(), FakeDeliveryLog()
    contacts = FakeContacts({"RN5133": ChallengeContact("Ada", "Lovelace", "01234 567890", "c@ao.example")})
    service = notifications(
        mailer, log, contacts, keyring=FakeKeyring({ULN: KEY}), ao_names={"RN5133": "Pearson Education Ltd"}
    )
    raised = sealed_raise("RN5133", "wrong grade")
    await service.handle(envelope_of(raised), raised)
    [sent] = mailer.sent
    assert sent["Subject"] == f"LRS Event Data Challenge raised: RN5133 {raised.challenge_id}"
    assert "Awarding organisation:   RN5133 Pearson Education Ltd" in plain_text(sent).splitlines()


async def test_a_challenge_raised_before_sealing_is_emailed_with_its_reason_in_clear() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    contacts = FakeContacts({"RN5133": ChallengeContact("Ada", "Lovelace", "01234 567890", "c@ao.example")})
    raised = ChallengeRaisedV1(
        challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133", uln=ULN, reason="wrong grade"
    )
    await notifications(mailer, log, contacts).handle(envelope_of(raised), raised)
    assert "wrong grade" in plain_text(mailer.sent[0])


async def test_a_key_store_away_is_waited_out_never_parked() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    contacts = FakeContacts({"RN5133": ChallengeContact("Ada", "Lovelace", "01234 567890", "c@ao.example")})
    service = notifications(mailer, log, contacts, keyring=FakeKeyring(unavailable=True))
    raised = sealed_raise("RN5133", "wrong grade")
    with pytest.raises(RetryLater) as retried:
        await service.handle(envelope_of(raised), raised)
    assert classify_failure(retried.value) is Failure.TRANSIENT
    assert mailer.sent == [] and log.rows == {}


async def test_events_that_need_no_email_are_ignored() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    acknowledged = ChallengeAcknowledged(challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133")
    await notifications(mailer, log).handle(envelope_of(acknowledged), acknowledged)
    assert mailer.sent == [] and log.rows == {}


def test_an_smtp_server_away_is_transient_for_the_consumer_never_poison() -> None:
    assert classify_failure(RetryLater(2.0, "the mail relay: SMTP 421")) is Failure.TRANSIENT


async def test_the_batch_email_lists_the_codes_of_every_chunk_counted_once_and_then_forgets_them() -> None:
    mailer, log, tallies = FakeMailer(), FakeDeliveryLog(), FakeTallies()
    service = notifications(mailer, log, tallies=tallies)
    batch_id = completed().batch_id
    first = BatchRecordsDecided(
        batch_id=batch_id,
        ao_id="RN5133",
        chunk_index=0,
        outcomes=(
            rejected(1, "RV004"),
            rejected(2, "RV004", "RV021", "RV021"),
            RecordOutcome(line=3, status=RecordStatus.ACCEPTED),
        ),
    )
    second = BatchRecordsDecided(batch_id=batch_id, ao_id="RN5133", chunk_index=1, outcomes=(rejected(4, "RV009"),))
    for chunk in (first, second, first):  # the first chunk redelivered
        await service.handle(envelope_of(chunk), chunk)
    await service.handle(envelope_of(completed()), completed())
    [message] = mailer.sent
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    codes = [line.split()[:2] for line in text.splitlines() if line.startswith("  RV")]
    assert codes == [["RV004", "2"], ["RV009", "1"], ["RV021", "1"]]
    assert tallies.chunks == {}


async def test_the_batch_email_says_how_many_codes_and_records_its_list_leaves_out() -> None:
    mailer, tallies = FakeMailer(), FakeTallies()
    service = notifications(mailer, FakeDeliveryLog(), tallies=tallies)
    outcomes = (*(rejected(line, f"RV00{line}") for line in range(1, 8)), rejected(8, "RV001"))
    chunk = BatchRecordsDecided(batch_id=completed().batch_id, ao_id="RN5133", chunk_index=0, outcomes=outcomes)
    await service.handle(envelope_of(chunk), chunk)
    await service.handle(envelope_of(completed()), completed())
    text = plain_text(mailer.sent[0])
    assert [line.split()[0] for line in text.splitlines() if line.startswith("  RV")] == [
        f"RV00{n}" for n in range(1, 6)
    ]
    assert "  and 2 more codes (2 records): see the batch's results at https://portal.lrs.example/batches/" in text


def abandoned(notification_email: str | None) -> BatchAbandoned:
    return BatchAbandoned(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        reason="could not be processed",
        batch_reference="REF-9",
        notification_email=notification_email,
        abandoned_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


async def test_an_abandoned_batch_is_emailed_once_and_without_an_address_is_skipped() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    service = notifications(mailer, log)
    told, unknown = abandoned("results@ao.example"), abandoned(None)
    redelivered = envelope_of(told)
    for envelope, event in ((redelivered, told), (redelivered, told), (envelope_of(unknown), unknown)):
        await service.handle(envelope, event)
    [sent] = mailer.sent
    assert (sent["To"], sent["Subject"]) == (
        "results@ao.example",
        f"LRS could not process your batch, nothing recorded: RN5133 REF-9 (batch {str(told.batch_id)[:8]})",
    )
    text = plain_text(sent)
    assert str(told.batch_id) in text and "Submit the same file again" in text
    assert f"https://portal.lrs.example/batches/{told.batch_id}" in text
    assert sorted(status for status, _, _ in log.rows.values()) == [DeliveryStatus.SENT, DeliveryStatus.SKIPPED]


def emails_failed(kind: str, permanence: str) -> float:
    """`lrs_notifier_emails_failed_total` as it reads now (the registry is the process's: compare before and after)."""
    sample = REGISTRY.get_sample_value("lrs_notifier_emails_failed_total", {"kind": kind, "permanence": permanence})
    return sample or 0.0


async def test_a_challenge_notice_held_for_the_next_contact_counts_as_held_never_as_given_up() -> None:
    """A held notice counted as a permanent failure: the alert on given-up emails fired for notices that were fine,
    and went to the next contact. Each failure is counted once what came of it is known."""
    gone = MailError("recipients refused: [550 5.1.1]", permanent=True, about_recipient=True)
    full = MailError("recipients refused: [452 4.2.2]", permanent=False, about_recipient=True)
    contacts = FakeContacts({"RN7777": ChallengeContact("Al", "Gone", "01234 567890", "gone@ao.example")})
    mailer, deferred = FakeMailer([gone, full, gone]), FakeDeferred(contacts)
    service = notifications(mailer, FakeDeliveryLog(), contacts, keyring=FakeKeyring({ULN: KEY}), deferred=deferred)
    kind = envelope_of(sealed_raise("RN7777", "wrong grade")).event_type
    before = {permanence: emails_failed(kind, permanence) for permanence in ("held", "permanent", "transient")}

    for _ in range(2):  # refused for good: held; refused for now: deferred
        raised = sealed_raise("RN7777", "wrong grade")
        await service.handle(envelope_of(raised), raised)
    assert await deferred.held() == 1 and await deferred.count() == 1
    assert emails_failed(kind, "held") == before["held"] + 1
    assert emails_failed(kind, "transient") == before["transient"] + 1
    assert emails_failed(kind, "permanent") == before["permanent"], "nothing was given up"

    batch_before = emails_failed("lrs.batch.completed.v1", "permanent")
    await service.handle(envelope_of(completed()), completed())  # a batch's email refused for good: given up
    assert emails_failed("lrs.batch.completed.v1", "permanent") == batch_before + 1


async def test_a_service_desk_set_is_every_emails_reply_to_and_is_named_in_it() -> None:
    desk = ServiceDesk("lrs-desk@lrs.example", "0300 303 2000", None)
    mailer = FakeMailer()
    await notifications(mailer, FakeDeliveryLog(), service_desk=desk).handle(envelope_of(completed()), completed())
    [sent] = mailer.sent
    assert sent["Reply-To"] == "lrs-desk@lrs.example"
    assert "contact the LRS service desk at lrs-desk@lrs.example or on 0300 303 2000." in plain_text(sent)
