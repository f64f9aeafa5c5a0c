"""Each delivery records whose email it is: its batch or challenge (the events' correlation id), its AO, and the
domain it went to. A batch's email given up left only its event id and `recipients refused: [550 5.1.1]`, and on-call
had to find the batch and AO in the logs, while they were kept."""

from __future__ import annotations

from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import (
    FakeDeliveryLog,
    FakeMailer,
    abandoned,
    envelope_of,
    notifications,
    sealed_raise,
)

from lrs_platform.mail import MailError
from notifier.store import DeliveryFor, DeliveryStatus, domain_of


async def test_a_batch_email_given_up_records_its_batch_its_ao_and_the_domain_it_went_to() -> None:
    mailer, log = FakeMailer([MailError("recipients refused: [550 5.1.1]", permanent=True)]), FakeDeliveryLog()
    envelope = envelope_of(completed(notification_email="Results@AO.Example"))
    await notifications(mailer, log).handle(envelope, completed(notification_email="Results@AO.Example"))
    assert log.rows[envelope.event_id][0] is DeliveryStatus.FAILED
    assert log.whose[envelope.event_id] == DeliveryFor("c-1", "RN5133", "ao.example")


async def test_a_sent_email_a_held_notice_and_a_skipped_one_record_whose_they_are() -> None:
    mailer, log = FakeMailer(), FakeDeliveryLog()
    service = notifications(mailer, log)
    sent, held, skipped = (
        envelope_of(completed()),
        envelope_of(sealed_raise("RN7777", "x")),
        envelope_of(abandoned(None)),
    )
    await service.handle(sent, completed())
    await service.handle(held, sealed_raise("RN7777", "x"))  # no contact: held for the AO
    await service.handle(skipped, abandoned(None))
    assert log.whose[sent.event_id] == DeliveryFor("c-1", "RN5133", "ao.example")
    assert log.whose[held.event_id] == DeliveryFor("c-1", "RN7777", None)
    assert log.whose[skipped.event_id] == DeliveryFor("c-1", "RN5133", None)


def test_only_the_domain_of_an_address_is_kept() -> None:
    assert domain_of("bob@Nowhere.Invalid") == "nowhere.invalid"
    assert domain_of('"a@b"@ao.example') == "ao.example"
    assert domain_of("no-at-sign") is None
