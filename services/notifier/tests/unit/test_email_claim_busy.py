"""An email whose claim another replica holds (the chaos walk, finding 1: a notifier frozen mid-email kept its
claim, and the other replica, waiting on it in its serial loop, sent no email at all until it woke): after the
claim's bounded wait (`ClaimBusy`) the email is set aside, no try counted, and the next goes on; its deferred try
takes the claim again, is postponed while it is still held, and reads what the holder recorded once it is not, so
the email goes once. Against PostgreSQL: tests/integration/test_notifier_frozen_claim.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import FakeDeferred, FakeDeliveryLog, FakeMailer, notifications
from structlog.testing import capture_logs

from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import Message
from lrs_platform.database import AdvisoryLockBusy
from notifier import store
from notifier.consumer import NotificationHandler
from notifier.handlers import CLAIM_RETRY_SECONDS, Notifications
from notifier.store import (
    EMAIL_CLAIM_IDLE_SECONDS,
    EMAIL_CLAIM_WAIT_SECONDS,
    ClaimBusy,
    DeliveryLog,
    DeliveryStatus,
)


class ClaimsHeldElsewhere(FakeDeliveryLog):
    """The delivery log, with the claims of `held` held by another replica for all of the claim's wait."""

    def __init__(self) -> None:
        super().__init__()
        self.held: set[uuid.UUID] = set()

    @asynccontextmanager
    async def claimed(self, event_id: uuid.UUID) -> AsyncIterator[None]:
        if event_id in self.held:
            raise ClaimBusy(f"notifier email {event_id}", EMAIL_CLAIM_WAIT_SECONDS)
        yield


class Deferred(FakeDeferred):
    async def set_aside(self, event_id: uuid.UUID, envelope: bytes, delay_seconds: float) -> None:
        if event_id not in self.rows:  # as the store: one waiting aside already is left as it is
            self.rows[event_id] = (envelope, self.now + delay_seconds)


def two_batches() -> tuple[Envelope, Envelope]:
    return (
        wrap(completed(batch_id=uuid.uuid4()), source="test", correlation_id="first"),
        wrap(
            completed(batch_id=uuid.uuid4(), notification_email="other@ao.example"), source="test", correlation_id="2"
        ),
    )


async def handled(service: Notifications, event: Envelope) -> None:
    await service.handle(event, decode(encode(event))[1])


def poll(*events: Envelope) -> list[Message]:
    return [Message(BATCH_OUTCOMES.name, 0, offset, b"RN5133", encode(event)) for offset, event in enumerate(events)]


async def test_an_email_whose_claim_is_held_elsewhere_is_set_aside_and_the_next_goes() -> None:
    mailer, log, deferred = FakeMailer(), ClaimsHeldElsewhere(), Deferred()
    held, other = two_batches()
    log.held.add(held.event_id)

    with capture_logs() as logs:
        await NotificationHandler(notifications(mailer, log, deferred=deferred))(poll(held, other))

    assert [message["Message-ID"] for message in mailer.sent] == [f"<{other.event_id}@lrs.local>"]
    assert deferred.rows[held.event_id] == (encode(held), CLAIM_RETRY_SECONDS)
    assert await deferred.tries(held.event_id) == 0, "not a refusal: no try counted"
    # nothing recorded of it outside its claim: the holder may be recording `sent` meanwhile
    assert held.event_id not in log.rows
    [said] = [entry for entry in logs if entry["event"] == "email_claimed_elsewhere"]
    assert (said["event_id"], said["log_level"], said["retry_in_s"]) == (str(held.event_id), "warning", 60)


async def test_its_deferred_try_is_postponed_while_the_claim_is_held_and_sends_it_once_it_is_not() -> None:
    mailer, log, deferred = FakeMailer(), ClaimsHeldElsewhere(), Deferred()
    held, _ = two_batches()
    log.held.add(held.event_id)
    service = notifications(mailer, log, deferred=deferred)
    await handled(service, held)

    deferred.now = CLAIM_RETRY_SECONDS
    assert await service.retry_deferred() == 1
    assert mailer.sent == []
    assert deferred.rows[held.event_id][1] == 2 * CLAIM_RETRY_SECONDS, "postponed, not given a lease"
    assert await deferred.tries(held.event_id) == 0, "postponed, no try counted"

    log.held.clear()  # the holder was ended without sending it (its session ended by the server)
    deferred.now = 2 * CLAIM_RETRY_SECONDS
    assert await service.retry_deferred() == 1
    assert [message["Message-ID"] for message in mailer.sent] == [f"<{held.event_id}@lrs.local>"]
    assert held.event_id not in deferred.rows
    assert log.rows[held.event_id][0] is DeliveryStatus.SENT


async def test_its_deferred_try_sends_nothing_when_the_holder_sent_it() -> None:
    mailer, log, deferred = FakeMailer(), ClaimsHeldElsewhere(), Deferred()
    held, _ = two_batches()
    log.held.add(held.event_id)
    service = notifications(mailer, log, deferred=deferred)
    await handled(service, held)

    log.held.clear()
    log.rows[held.event_id] = (DeliveryStatus.SENT, 1, None)  # what the holder recorded before it let the claim go
    deferred.now = CLAIM_RETRY_SECONDS
    assert await service.retry_deferred() == 1
    assert mailer.sent == []
    assert held.event_id not in deferred.rows


async def test_an_email_already_waiting_aside_is_left_as_it_is() -> None:
    mailer, log, deferred = FakeMailer(), ClaimsHeldElsewhere(), Deferred()
    held, _ = two_batches()
    deferred.rows[held.event_id] = (encode(held), 600.0)
    deferred.refusals[held.event_id] = 3
    log.held.add(held.event_id)
    await handled(notifications(mailer, log, deferred=deferred), held)
    assert deferred.rows[held.event_id] == (encode(held), 600.0)
    assert await deferred.tries(held.event_id) == 3


async def test_the_claim_is_taken_with_both_bounds_and_said_busy_as_the_notifiers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event_id, other = uuid.uuid4(), uuid.uuid4()
    taken: list[tuple[str, float | None, float | None]] = []

    @asynccontextmanager
    async def locked(
        pool: Any, name: str, *, wait_seconds: float | None = None, idle_seconds: float | None = None
    ) -> AsyncIterator[None]:
        taken.append((name, wait_seconds, idle_seconds))
        if name == f"notifier email {event_id}":
            raise AdvisoryLockBusy(name, wait_seconds or 0.0)
        yield

    monkeypatch.setattr(store, "advisory_locked", locked)
    log = DeliveryLog(pool=None)
    with pytest.raises(ClaimBusy) as busy:
        async with log.claimed(event_id):
            pass
    assert busy.value.name == f"notifier email {event_id}"
    assert taken == [(f"notifier email {event_id}", EMAIL_CLAIM_WAIT_SECONDS, EMAIL_CLAIM_IDLE_SECONDS)]

    # another claim's, taken inside this one (a resolution's, of its raise notice): raised as it is
    inner = ClaimBusy(f"notifier email {event_id}", 1.0)
    with pytest.raises(ClaimBusy) as raised:
        async with log.claimed(other):
            raise inner
    assert raised.value is inner
