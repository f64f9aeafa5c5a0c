"""The notifier's consumer of outcomes and challenge events, on the shared loop (`lrs_platform.consumer`).

Offsets are committed only after every email of a poll is logged. A batch's decided chunks come before
its result on the same partition; their rejection codes are tallied for the result's email. An event that cannot be turned into
an email (a CR/LF in a batch reference breaks the Subject header, say) is parked on its topic's DLQ
and the next AO's email goes out; an SMTP server away (`RetryLater`) is waited out, never parked.

Most of the outcomes topic is per-record outcomes (1,000 a message), of which the notifier needs only
the rejection and warning codes: a decided chunk is scanned for its rejected and warned-of records
(`scanned_rejections_by_code`),
or read as plain JSON when it is shaped otherwise, without building its models (validation validated
it when writing it). A chunk with a field or a status this release does not know (a newer validation's), or in an
envelope whose `schema_version` is not 1, is read by neither: the validating decoder refuses it and the guard parks
it at its first attempt, as ingest's batch view and reporting do, rather than its records being left out of the email's tally. Events of the contracts that lead to no email are not decoded at all; only
the events that make an email go through the validating decoder, and those of a type the contracts do
not know, which it refuses: parked at their first attempt, as `unknown event type '…'`.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from lrs_contracts.challenge import ChallengeRaised, ChallengeRaisedV1, ChallengeResolved
from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, plain_builder_for, rejections_by_code, scanned_rejections_by_code
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchFailed, BatchRecordsDecided
from lrs_contracts.registry import EVENT_TYPES, decode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.consumer import Message
from notifier.emails import ERASED_FLAGGED
from notifier.handlers import Notifications
from notifier.store import ChunkCodes

TOPICS = (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
CONSUMER = "notifier"

_DECIDED_CHUNK = BatchRecordsDecided.model_fields["event_type"].default
_ENVELOPE_OF = plain_builder_for(Envelope)
_EMAILED = frozenset(
    model.model_fields["event_type"].default
    # a resolution: a learner's withdrawal (decision 0194), or an LRS operator's for the AO, is emailed; the AO's own
    # ends what is kept of the challenge
    for model in (BatchCompleted, BatchFailed, BatchAbandoned, ChallengeRaised, ChallengeRaisedV1, ChallengeResolved)
)


class NotificationHandler:
    def __init__(self, notifications: Notifications) -> None:
        self._notifications = notifications

    async def __call__(self, messages: Sequence[Message]) -> None:
        """Idempotent: an event whose email is already logged as sent is not sent again. Decided chunks
        are tallied together, before the next event that may make an email and at the end."""
        chunks: list[ChunkCodes] = []
        for message in messages:
            if message.value is None:
                raise ValueError("empty message")
            scanned = scanned_rejections_by_code(message.value, warnings=True, flagged=ERASED_FLAGGED)
            if scanned is not None:
                chunks.append(scanned)
                continue
            try:
                document = orjson.loads(message.value)
            except orjson.JSONDecodeError:
                # not JSON: the validating decoder below refuses it as failing its contract, and the guard parks it
                # at its first attempt (`invalid: Invalid JSON: …`), as every consumer does
                document = None
            event_type = document.get("event_type") if isinstance(document, dict) else None
            if event_type == _DECIDED_CHUNK:
                # its envelope checked too (`schema_version` 1, no field unknown): the payload alone does not tell
                chunk = (
                    rejections_by_code(document.get("data"), warnings=True, flagged=ERASED_FLAGGED)
                    if _envelope_read(document)
                    else None
                )
                if chunk is not None:
                    chunks.append(chunk)
                    continue
            elif isinstance(event_type, str) and event_type not in _EMAILED and event_type in EVENT_TYPES:
                continue  # no email comes of it
            # one of a type the contracts do not know (a newer release's) raises UnknownEventType: the guard parks it
            # at its first attempt, as `unknown event type '…'` (docs/deploy.md, "Upgrade")
            envelope, payload = decode(message.value)
            if chunks:
                await self._notifications.tally_chunks(chunks)
                chunks = []
            await self._notifications.handle(envelope, payload)
        if chunks:
            await self._notifications.tally_chunks(chunks)


def _envelope_read(document: dict[str, object]) -> bool:
    """Whether a decided chunk's envelope is one this release reads (`schema_version` 1, no field it does not know),
    checked as ingest's batch view checks it. Otherwise the validating decoder refuses the chunk and the guard parks
    it, as every reader does, rather than its records being tallied as version 1's."""
    try:
        _ENVELOPE_OF({**document, "data": {}})
    except (NotFast, ValueError, TypeError, KeyError, AttributeError):
        return False
    return True
