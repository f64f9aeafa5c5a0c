"""The notifier's consumer of outcomes and challenge events, on the shared loop (`lrs_platform.consumer`).

Offsets are committed only after every email of a poll is logged. A batch's decided chunks come before
its result on the same partition; their rejection codes are tallied for the result's email. An event that cannot be turned into
an email (a CR/LF in a batch reference breaks the Subject header, say) is parked on its topic's DLQ
and the next AO's email goes out; an SMTP server away (`RetryLater`) is waited out, never parked.
"""

from __future__ import annotations

from collections.abc import Sequence

from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.consumer import Message
from notifier.handlers import Notifications

TOPICS = (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
CONSUMER = "notifier"


class NotificationHandler:
    def __init__(self, notifications: Notifications) -> None:
        self._notifications = notifications

    async def __call__(self, messages: Sequence[Message]) -> None:
        """Idempotent: an event whose email is already logged as sent is not sent again."""
        for message in messages:
            if message.value is None:
                raise ValueError("empty message")
            try:
                envelope, payload = decode(message.value)
            except UnknownEventType:
                continue  # a newer event type this service has no use for
            await self._notifications.handle(envelope, payload)
