"""The notifier's consumer of outcomes and challenge events, on the shared loop (`lrs_platform.consumer`).

Offsets are committed only after every email of a poll is logged. A batch's decided chunks come before
its result on the same partition; their rejection codes are tallied for the result's email. An event that cannot be turned into
an email (a CR/LF in a batch reference breaks the Subject header, say) is parked on its topic's DLQ
and the next AO's email goes out; an SMTP server away (`RetryLater`) is waited out, never parked.

Most of the outcomes topic is per-record outcomes (1,000 a message), of which the notifier needs only
the rejection codes: a decided chunk is read as plain JSON for them, without building its models
(validation validated it when writing it). Events that lead to no email are not decoded at all; only
the events that make an email go through the validating decoder.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from lrs_contracts.challenge import ChallengeRaised
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided
from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.consumer import Message
from notifier.handlers import Notifications

TOPICS = (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
CONSUMER = "notifier"

_DECIDED_CHUNK = BatchRecordsDecided.model_fields["event_type"].default
_EMAILED = frozenset(
    model.model_fields["event_type"].default for model in (BatchCompleted, BatchFailed, ChallengeRaised)
)


class NotificationHandler:
    def __init__(self, notifications: Notifications) -> None:
        self._notifications = notifications

    async def __call__(self, messages: Sequence[Message]) -> None:
        """Idempotent: an event whose email is already logged as sent is not sent again."""
        for message in messages:
            if message.value is None:
                raise ValueError("empty message")
            document = orjson.loads(message.value)
            event_type = document.get("event_type") if isinstance(document, dict) else None
            if event_type == _DECIDED_CHUNK:
                chunk = rejection_codes_of(document)
                if chunk is not None:
                    await self._notifications.tally_chunk(*chunk)
                    continue
            elif isinstance(event_type, str) and event_type not in _EMAILED:
                continue  # no email comes of it (or a newer event type this service has no use for)
            try:
                envelope, payload = decode(message.value)
            except UnknownEventType:
                continue
            await self._notifications.handle(envelope, payload)


def rejection_codes_of(document: dict[str, Any]) -> tuple[uuid.UUID, int, dict[str, int]] | None:
    """A decided chunk's batch id, chunk index and rejected records per code (a code repeated on one
    record counted once), read from the envelope as parsed JSON; None when it is not shaped as
    validation writes it (the validating decoder then has the last word)."""
    data = document.get("data")
    if not isinstance(data, dict):
        return None
    batch_id, chunk_index, outcomes = data.get("batch_id"), data.get("chunk_index"), data.get("outcomes")
    if not (isinstance(batch_id, str) and type(chunk_index) is int and chunk_index >= 0 and type(outcomes) is list):
        return None
    counts: Counter[str] = Counter()
    try:
        for outcome in outcomes:
            errors = outcome.get("errors")
            if errors:
                counts.update({finding["code"] for finding in errors})
        return uuid.UUID(batch_id), chunk_index, dict(counts)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
