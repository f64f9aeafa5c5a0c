"""The batch view parks an outcome of a type the contracts do not know at its first attempt, as `unknown event type
'…'` (docs/events.md, "Dead letters"), as the PLR projector does: it was tried three times, with backoff, and parked
as `UnknownEventType: …`. A known event of no use to the view is still passed over."""

from __future__ import annotations

import uuid

from libs.platform.tests.unit.unknown_event_types import WORDS, of_an_unknown_type, parked_by
from services.ingest.tests.unit.test_ingest_outcomes import FakeRepository, completed, consumer_of, encoded

from ingest.outcomes import CONSUMER
from lrs_contracts.batch import BatchSubmissionCompleted
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import Message


async def test_an_unknown_outcome_type_is_parked_at_its_first_attempt_and_its_batch_held() -> None:
    repository = FakeRepository()
    outcome = completed()
    other = outcome.model_copy(update={"batch_id": uuid.uuid4()})
    marker = BatchSubmissionCompleted(batch_id=other.batch_id, ao_id="RN5133", record_count=1, chunk_count=1)
    key, other_key = str(outcome.batch_id).encode(), str(other.batch_id).encode()

    rows, letters = await parked_by(
        CONSUMER,
        consumer_of(repository).handle,
        [
            Message(BATCH_OUTCOMES.name, 2, 21, key, of_an_unknown_type(encoded(outcome))),
            Message(BATCH_OUTCOMES.name, 2, 22, key, encoded(outcome)),  # held behind it
            Message(BATCH_OUTCOMES.name, 2, 23, other_key, encoded(marker)),  # known, of no use to the view
            Message(BATCH_OUTCOMES.name, 2, 24, other_key, encoded(other)),
        ],
    )

    assert [(row.offset, row.reason, row.error, row.attempts) for row in rows] == [
        (21, "error", WORDS, 1),
        (22, "blocked", None, 0),
    ]
    [letter] = letters
    assert (letter.consumer, letter.error, letter.attempts) == ("ingest.batch-view", WORDS, 1)
    assert [event for poll in repository.applied for event in poll] == [other]
