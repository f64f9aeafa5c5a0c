"""An email lost for good says so in a line of its own (the tracer walk, finding 14): a batch's email refused with 550
was logged as the same `email_failed` warning as each of a relay outage's retries, `permanent: true` the only
difference, and named neither its AO nor the domain it went to. Now it is `email_given_up`, at error, with the AO, the
batch or challenge, the event and the recipient's domain (never the address); tries that will be tried again stay
`email_failed` warnings."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
from services.notifier.tests.unit.test_contact_change_notices import USER_UNKNOWN, FakeNotices, service, tried_when_due
from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import (
    KEY,
    ULN,
    BrokenMailer,
    FakeContacts,
    FakeDeferred,
    FakeDeliveryLog,
    FakeKeyring,
    FakeMailer,
    envelope_of,
    notifications,
    sealed_raise,
)
from structlog.testing import capture_logs

from lrs_platform.mail import MailError
from notifier.emails import ChallengeContact
from notifier.handlers import RECIPIENT_ATTEMPTS, RetryLater

GONE = MailError("recipients refused: [550 5.1.1]", permanent=True, about_recipient=True)
FULL = MailError("recipients refused: [452 4.2.2]", permanent=False, about_recipient=True)
AWAY = MailError("SMTPConnectError", permanent=False)
ADDRESS = "exams.officer@Gone-AO.Example"


def lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def test_a_batch_email_refused_for_good_is_one_error_line_naming_its_ao_batch_event_and_domain() -> None:
    batch = completed(notification_email=ADDRESS)
    envelope = envelope_of(batch)
    with capture_logs() as logs:
        await notifications(FakeMailer([GONE]), FakeDeliveryLog()).handle(envelope, batch)

    [given_up] = lines(logs, "email_given_up")
    assert given_up == {
        "event": "email_given_up",
        "log_level": "error",
        "event_id": str(envelope.event_id),
        "event_type": "lrs.batch.completed.v1",
        "correlation_id": "c-1",
        "batch_id": "c-1",
        "ao_id": "RN5133",
        "recipient_domain": "gone-ao.example",
        "attempt": 1,
        "reason": "refused_for_good",
        "error": "recipients refused: [550 5.1.1]",
    }
    assert lines(logs, "email_failed") == [], "not also a warning like a try that will be tried again"
    assert "exams.officer" not in str(logs).casefold()


async def test_the_relay_away_and_a_mailbox_full_for_now_stay_warnings_until_the_last_try_gives_it_up() -> None:
    batch = completed()
    envelope = envelope_of(batch)
    deferred = FakeDeferred()
    service_ = notifications(FakeMailer([AWAY, *[FULL] * RECIPIENT_ATTEMPTS]), FakeDeliveryLog(), deferred=deferred)
    with capture_logs() as logs:
        with pytest.raises(RetryLater):  # the relay away: the consumer tries it again
            await service_.handle(envelope, batch)
        await service_.handle(envelope, batch)  # refused for now: set aside
        while envelope.event_id in deferred.rows:
            deferred.now = deferred.rows[envelope.event_id][1]
            await service_.retry_deferred()

    failed = lines(logs, "email_failed")
    assert len(failed) == RECIPIENT_ATTEMPTS  # the relay's one, and each refusal but the last
    assert {line["log_level"] for line in failed} == {"warning"}
    [given_up] = lines(logs, "email_given_up")
    assert (given_up["log_level"], given_up["reason"], given_up["attempt"]) == (
        "error",
        "refused_on_every_try",
        RECIPIENT_ATTEMPTS + 1,
    )
    assert (given_up["batch_id"], given_up["ao_id"], given_up["recipient_domain"]) == ("c-1", "RN5133", "ao.example")


async def test_in_the_sandpit_a_refusal_for_now_gives_the_email_up_at_once_and_says_why() -> None:
    batch = completed()
    with capture_logs() as logs:
        await notifications(FakeMailer([FULL]), FakeDeliveryLog(), defer_refused=False).handle(
            envelope_of(batch), batch
        )
    [given_up] = lines(logs, "email_given_up")
    assert given_up["reason"] == "refused_not_tried_again"


async def test_a_deferred_email_whose_tries_fail_otherwise_is_given_up_with_what_its_delivery_recorded() -> None:
    batch = completed()
    envelope = envelope_of(batch)
    deferred = FakeDeferred()
    service_ = notifications(BrokenMailer([FULL]), FakeDeliveryLog(), deferred=deferred)
    with capture_logs() as logs:
        await service_.handle(envelope, batch)
        while envelope.event_id in deferred.rows:
            deferred.now = deferred.rows[envelope.event_id][1]
            await service_.retry_deferred()
    [given_up] = lines(logs, "email_given_up")
    assert given_up["log_level"] == "error"
    assert (given_up["event_id"], given_up["batch_id"]) == (str(envelope.event_id), "c-1")
    assert (given_up["ao_id"], given_up["recipient_domain"]) == ("RN5133", "ao.example")
    assert (given_up["reason"], given_up["error"]) == ("try_failed_on_every_try", "deferred try failed: RuntimeError")


async def test_a_challenge_notice_its_contact_refuses_for_good_is_held_not_given_up() -> None:
    """Held for the AO's next contact (decision 0155): no email is lost, so no `email_given_up`."""
    contact = ChallengeContact("Ada", "Lovelace", "01234 567890", "challenges@ao.example")
    service_ = notifications(
        FakeMailer([GONE]), FakeDeliveryLog(), FakeContacts({"RN5133": contact}), keyring=FakeKeyring({ULN: KEY})
    )
    raised = sealed_raise("RN5133", "wrong grade")
    with capture_logs() as logs:
        await service_.handle(envelope_of(raised), raised)
    assert lines(logs, "email_given_up") == []
    assert [line["log_level"] for line in lines(logs, "email_failed")] == ["warning"]
    assert len(lines(logs, "challenge_notice_held")) == 1


async def test_a_notice_to_a_contacts_old_address_given_up_is_said_so_with_its_ao_and_domain() -> None:
    notices = FakeNotices()
    notifier = service(FakeMailer([USER_UNKNOWN]), notices)
    with capture_logs() as logs:
        await tried_when_due(notifier, notices)
    [given_up] = lines(logs, "email_given_up")
    assert given_up == {
        "event": "email_given_up",
        "log_level": "error",
        "event_type": "challenge_contact_changed",
        "notice_id": str(notices.notice.notice_id),
        "ao_id": "RN5133",
        "recipient_domain": "ao.example",
        "tries": 1,
        "reason": "refused_for_good",
        "error": "MailError",
    }
    assert lines(logs, "contact_change_notice_failed") == []
    assert "old-contact" not in str(logs)
