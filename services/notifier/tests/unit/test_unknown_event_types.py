"""The notifier parks an event of a type the contracts do not know at its first attempt, as `unknown event type
'…'` (docs/events.md, "Dead letters"), where it passed over it with no trace: docs/deploy.md ("Upgrade") says a pod
of an older release parks an event type it has never seen. A known event that makes no email is still passed over,
undecoded."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from libs.platform.tests.unit.unknown_event_types import WORDS, of_an_unknown_type, parked_by
from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import FakeDeliveryLog, FakeMailer, notifications

from lrs_contracts.challenge import ChallengeAcknowledged
from lrs_contracts.outcomes import BatchValidationStarted
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.consumer import Message
from notifier.consumer import CONSUMER, NotificationHandler


def encoded(payload: Any) -> bytes:
    return encode(wrap(payload, source="validation", correlation_id="c-1"))


async def test_an_unknown_event_type_is_parked_at_its_first_attempt_its_key_held_and_other_keys_emailed() -> None:
    mailer = FakeMailer()
    handler = NotificationHandler(notifications(mailer, FakeDeliveryLog()))
    held, emailed = completed(batch_id=uuid.uuid4()), completed(batch_id=uuid.uuid4())
    unknown = of_an_unknown_type(encoded(held))
    started = BatchValidationStarted(batch_id=emailed.batch_id, ao_id="RN5133", record_count=1)
    held_key, other_key = str(held.batch_id).encode(), str(emailed.batch_id).encode()
    emailed_value = encoded(emailed)

    rows, letters = await parked_by(
        CONSUMER,
        handler,
        [
            Message(BATCH_OUTCOMES.name, 0, 1, held_key, unknown),
            Message(BATCH_OUTCOMES.name, 0, 2, held_key, encoded(held)),  # held behind it
            Message(BATCH_OUTCOMES.name, 0, 3, other_key, encoded(started)),  # known, no email: passed over
            Message(BATCH_OUTCOMES.name, 0, 4, other_key, emailed_value),
        ],
    )

    assert [(row.offset, row.reason, row.error, row.attempts) for row in rows] == [
        (1, "error", WORDS, 1),
        (2, "blocked", None, 0),
    ]
    [letter] = letters
    assert (letter.error, letter.attempts, letter.consumer, letter.event_type) == (
        WORDS,
        1,
        "notifier",
        "lrs.batch.quarantined.v1",
    )
    assert [message["Message-ID"] for message in mailer.sent] == [
        f"<{orjson.loads(emailed_value)['event_id']}@lrs.local>"
    ]


async def test_an_unknown_event_type_on_the_challenge_topic_is_parked_too() -> None:
    acknowledged = ChallengeAcknowledged(challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133")
    unknown = of_an_unknown_type(encoded(acknowledged), "lrs.challenge.teleported.v1")
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog()))

    rows, _ = await parked_by(
        CONSUMER,
        handler,
        [
            Message(CHALLENGE_EVENTS.name, 3, 0, str(acknowledged.achievement_id).encode(), unknown),
            Message(CHALLENGE_EVENTS.name, 3, 1, b"another", encoded(acknowledged)),  # known, no email: passed over
        ],
    )

    assert [(row.offset, row.error, row.attempts) for row in rows] == [
        (0, "unknown event type 'lrs.challenge.teleported.v1'", 1)
    ]
