"""A delivery as the service desk reads it (`GET /v1/deliveries`): where it stands, in a word and in a sentence, and
what its last error means. The delivery log keeps a state of four (pending, sent, failed, skipped) and the relay's
codes; a desk answering "our email never arrived" needs to tell a sent email from one held, waiting or given up, and
a 550 5.1.1 from a full mailbox, without reading RFC 3463."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from lrs_platform.consumer import Attempts
from lrs_platform.parking import DeadLetterOffice
from notifier.consumer import CONSUMER
from notifier.handlers import UNCONFIRMED
from notifier.store import DeliveryStatus, KeptDelivery

# what the handlers write for a delivery held, dropped or skipped: already words, said as they are
_NOTIFIERS_OWN = ("held:", "not sent:", "no notification email", "no notice of")
# the first reply code of a relay's refusal, and its RFC 3463 enhanced code if it gave one:
# "recipients refused: [550 5.1.1]", "SMTP 552 5.3.4 at DATA", "SMTP 530 at MAIL FROM"
_REPLY = re.compile(r"\b([245]\d\d)(?: ([245])\.(\d{1,3})\.(\d{1,3}))?\b")
# refusals at these steps are of the LRS's own sending (its relay's set-up), never of the AO's address
_OWN_STEPS = (" at greeting", " at EHLO", " at AUTH", " at MAIL FROM", " at STARTTLS")


class DeskStatus(StrEnum):
    """Where a delivery stands, as the desk says it."""

    SENT = "sent"  # the LRS's mail relay took it
    SENDING = "sending"  # not sent yet: being sent, or waiting for the LRS's mail relay to answer
    WAITING = "waiting"  # not sent yet: the recipient's mail server refused it for now; tried again later
    HELD = "held"  # a challenge notice held until its AO sets a (another) challenge contact
    GIVEN_UP = "given_up"  # never sent, and nothing sends it again
    NOT_SENT = "not_sent"  # nobody to send it to (a batch without a notification address, a withdrawn challenge)


def desk_status(delivery: KeptDelivery) -> DeskStatus:
    if delivery.status is DeliveryStatus.SENT:
        return DeskStatus.SENT
    if delivery.status is DeliveryStatus.FAILED:
        return DeskStatus.GIVEN_UP
    if delivery.status is DeliveryStatus.SKIPPED:
        return DeskStatus.NOT_SENT
    if delivery.held:
        return DeskStatus.HELD
    return DeskStatus.WAITING if delivery.set_aside else DeskStatus.SENDING


def _unconfirmed(delivery: KeptDelivery) -> bool:
    return (delivery.last_error or "").startswith(UNCONFIRMED)


def status_said(delivery: KeptDelivery) -> str:
    """A sentence on where the delivery stands and what the desk can tell the AO."""
    status = desk_status(delivery)
    domain = delivery.recipient_domain
    if status is DeskStatus.SENT:
        if _unconfirmed(delivery) and "not tried again" in (delivery.last_error or ""):
            return (
                "Handed to the LRS's mail relay, which did not confirm it: it may not have arrived. Ask the AO to read"
                " the outcome on the portal."
            )
        to = f"a mailbox at {domain}" if domain else "its recipient"
        return (
            f"Sent: the LRS's mail relay took it for {to}. If it did not arrive, ask the AO to check that address"
            " (a mistyped domain shows here) and its spam folder; a bounce from the AO's mail server comes back to"
            " the LRS's sender address, not here."
        )
    if status is DeskStatus.GIVEN_UP:
        return (
            "Given up: it was never sent, and nothing sends it again. Ask the AO to check the address (its domain"
            " shows here) and to read the outcome on the portal."
        )
    if status is DeskStatus.NOT_SENT:
        return "Not sent: there was nobody to send it to (see the last error)."
    if status is DeskStatus.HELD:
        if delivery.contact_refused:
            return (
                "Held: the AO's challenge contact's mailbox refused it for good; it is sent once the AO sets another"
                " challenge contact."
            )
        return "Held: the AO has no challenge contact; it is sent once the AO sets one."
    if status is DeskStatus.WAITING:
        if _unconfirmed(delivery):
            return (
                "Not sent yet: the LRS's mail relay did not confirm it; it is tried once more at the next try (it"
                " may arrive twice)."
            )
        return (
            "Not sent yet: the recipient's mail server refused it for now (a full mailbox, greylisting); it is tried"
            " again at the next try, for about 19 hours in all, then given up."
        )
    return (
        "Not sent yet: being sent, or waiting for the LRS's mail relay to answer; it is tried again until the relay"
        " takes it."
    )


def error_said(last_error: str | None) -> str | None:
    """The last error in words: what a relay's reply codes mean, or the notifier's own words as they are. The codes
    follow in brackets, as the notifier recorded them (never the relay's text, which may hold an address)."""
    if last_error is None:
        return None
    if last_error.startswith(_NOTIFIERS_OWN):
        return last_error
    if last_error.startswith(UNCONFIRMED):
        return f"the LRS's mail relay took the message but did not confirm it ({last_error})"
    if last_error.startswith("deferred try failed"):
        return f"the notifier could not try it again ({last_error})"
    if last_error.startswith("no answer at RCPT"):
        return f"the recipient's mail server did not answer in time ({last_error})"
    reply = _REPLY.search(last_error)
    if reply is None:
        return f"the LRS's mail relay could not be reached or did not answer ({last_error})"
    if any(step in last_error for step in _OWN_STEPS):
        return (
            f"the LRS's mail relay refused to take mail from the LRS: its set-up, not the AO's address ({last_error})"
        )
    code = int(reply.group(1))
    enhanced = (int(reply.group(3)), int(reply.group(4))) if reply.group(2) else None
    return f"{_refusal_said(code, enhanced)} ({last_error})"


def _refusal_said(code: int, enhanced: tuple[int, int] | None) -> str:
    """RFC 3463's subject and detail (5.1.1: the address, no such mailbox), else RFC 5321's reply code."""
    for_now = code < 500
    if enhanced is not None:
        subject, detail = enhanced
        if subject == 1:
            if detail == 1:
                return "the AO's mail server says there is no such mailbox at that domain"
            if detail == 2:
                return "the recipient's domain does not exist or takes no mail: a mistyped domain?"
            return "the AO's mail server refused the address"
        if subject == 2:
            if detail == 2:
                return "the recipient's mailbox is full"
            if detail == 3:
                return "the message is too large for the recipient's mail server"
            return "the recipient's mailbox is not taking mail"
        if (subject, detail) == (3, 4):
            return "the message is too large for the recipient's mail server"
        if subject == 7:
            return "refused by a policy of the recipient's mail server (a spam filter, or a mailbox taking no outside mail)"
    if for_now:
        return "the recipient's mail server refused it for now (greylisting, or a busy server)"
    if code in (550, 551, 553):
        return "the AO's mail server refused the address"
    return "the recipient's mail server refused it"


# How the consumer's retry reads (`Attempts.last_error`): "RetryLater: the mail relay: SMTPConnectError; retry in 16.0s"
_RETRY_LATER = "RetryLater: "
_RELAY = "the mail relay: "
_RETRY_IN = re.compile(r"; retry in [0-9.]+s$")
_KAFKA_CLIENT = "Kafka client: "


@dataclass(frozen=True)
class NotifierWaiting:
    """The notifier's consumer retrying an event (an earlier email): every later email and notice waits behind it,
    on both its topics. `error` names what it waits on without a person's data: the relay's codes or the failure's
    class (`RetryLater`'s cause, composed so), else the failure's class alone, never its message."""

    since: datetime
    seconds: int
    error: str
    said: str


def _waited_on(last_error: str) -> tuple[str, bool]:
    """What the retry waits on, and whether it is the mail relay."""
    if last_error.startswith(_RETRY_LATER):
        cause = _RETRY_IN.sub("", last_error.removeprefix(_RETRY_LATER))
        if cause.startswith(_RELAY):
            return cause.removeprefix(_RELAY), True
        return cause, False
    if last_error.startswith(_KAFKA_CLIENT):
        return _KAFKA_CLIENT + last_error.removeprefix(_KAFKA_CLIENT).split(":", 1)[0], False
    return last_error.split(":", 1)[0], False  # another failure: its class alone (its message may quote data)


def notifier_waiting(attempts: Attempts, now: datetime | None = None) -> NotifierWaiting | None:
    """Whether the consumer is retrying (what its `/readyz` entry says, "retrying for 28s: …"), said for the desk
    asking after an email the notifier has not handled: it waits behind the one retried. None when it is not."""
    retrying_since = attempts.retrying_since
    if retrying_since is None:
        return None
    seconds = max(0, round(time.monotonic() - retrying_since))
    since = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    error, relay = _waited_on(attempts.last_error or "an unknown failure")
    if relay:
        said = (
            f"The notifier is waiting for the mail relay ({error}, for {seconds} s): emails queue behind it and go"
            " once it answers"
        )
    else:
        said = (
            f"The notifier is retrying an earlier event ({error}, for {seconds} s): emails queue behind it and go"
            " once it succeeds"
        )
    return NotifierWaiting(since.replace(microsecond=0), seconds, error, said)


async def waiting_readiness(attempts: Attempts) -> str | None:
    """The notifier's `/readyz` entry `emails`: "ok", or "ok: the notifier is waiting for the mail relay (…)" while
    its consumer retries. The portal's operator pages read it (the /ops Services table, a batch's "No email yet")."""
    waiting = notifier_waiting(attempts)
    if waiting is None:
        return None
    return f"ok: {waiting.said[:1].lower()}{waiting.said[1:]}"


@dataclass(frozen=True)
class HeldInDeadLetters:
    """A batch's messages the notifier parked: the one it could not handle (its outcome, or a decided chunk before it)
    and those of the batch held behind it, in order. Its email waits until an operator retries or skips them."""

    since: datetime  # when the first of them was parked
    messages: int


async def held_in_dead_letters(
    office: DeadLetterOffice, outcomes_topic: str, batch_id: uuid.UUID
) -> HeldInDeadLetters | None:
    """The batch's messages in the notifier's dead letters: the outcomes topic is keyed by the batch id's text, and so
    are its parked messages (`lrs dlq list --service notifier --key ID`). None when none is held. Without it, `lrs
    emails show` of a batch whose outcome the notifier parked listed guesses ("may not be decided yet"; the tracer
    walk, finding 7)."""
    first, messages = await office.listing(CONSUMER, topic=outcomes_topic, key=str(batch_id), limit=1)
    if not first:
        return None
    return HeldInDeadLetters(since=first[0].parked_at, messages=messages)
