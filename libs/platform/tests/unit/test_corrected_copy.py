"""A replacement for a parked message (`lrs dlq retry ID --replacement FILE`) is that message mended: an event
of the contracts, and the same event (its `event_id` and `event_type`) about the same subject (what its message
key is made from) and the same learners when the parked bytes say which it was."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from lrs_contracts.batch import JobType
from lrs_contracts.examples import EXAMPLES, EventExample
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchFailed
from lrs_contracts.plr import AchievementKey, AchievementWithdrawn, Provenance
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, LEARNER_EVENTS, PLR_EVENTS
from lrs_platform.parking import corrected_copy_refusal, message_key_of

EVENT = uuid.UUID(int=1)
AT = datetime(2026, 12, 4, 9, tzinfo=UTC)  # a copy keeps the parked message's time: both are wrapped at it
# the logs whose consumers re-apply a parked message with a corrected copy (validation's decider only skips)
RETRYABLE_EXAMPLES = [
    example for example in EXAMPLES if example.topic in (BATCH_OUTCOMES, PLR_EVENTS, LEARNER_EVENTS, CHALLENGE_EVENTS)
]


BATCH = uuid.UUID(int=9)
BATCH_KEY = str(BATCH).encode()  # the outcomes log's key: the batch id


def _completed(event_id: uuid.UUID = EVENT, batch_id: uuid.UUID = BATCH) -> bytes:
    completed = BatchCompleted(
        batch_id=batch_id,
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=datetime(2026, 12, 4, tzinfo=UTC),
        decided_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    return encode(wrap(completed, source="validation", correlation_id=str(batch_id), event_id=event_id, occurred_at=AT))


def test_the_parked_event_mended_is_a_corrected_copy() -> None:
    parked = _completed().replace(b'"accepted":1', b'"accepted":"one"')
    assert corrected_copy_refusal(parked, _completed()) is None
    assert corrected_copy_refusal(parked, _completed(), BATCH_KEY) is None
    assert corrected_copy_refusal(b"\x00 unreadable", _completed()) is None  # the parked bytes name no event
    assert corrected_copy_refusal(b"\x00 unreadable", _completed(), BATCH_KEY) is None


def test_another_event_is_refused() -> None:
    said = corrected_copy_refusal(_completed(), _completed(uuid.UUID(int=2)))
    assert said is not None and said.startswith(f"the replacement's event_id is {uuid.UUID(int=2)}, the parked")


def test_what_is_no_event_of_the_contracts_is_refused() -> None:
    said = corrected_copy_refusal(_completed(), b'{"event_type": "lrs.nothing.v1"}')
    assert said is not None and said.startswith("the replacement is no event the LRS knows (")


def _withdrawn(uln: str) -> bytes:
    key = AchievementKey(ao_id="RN5133", uln=uln, qualification_number="6001166X", award_date=date(2024, 5, 20))
    withdrawn = AchievementWithdrawn(
        achievement_id=uuid.UUID(int=3), key=key, provenance=Provenance(batch_id=uuid.UUID(int=7), line=1)
    )
    return encode(wrap(withdrawn, source="validation", correlation_id="c", event_id=EVENT, occurred_at=AT))


def test_a_copy_about_another_learner_is_refused_when_the_parked_message_says_whom_it_is_about() -> None:
    """As the projector refuses it: the challenges service reads the same PLR log, and a copy about another
    learner would put an achievement in its copy of that learner's record."""
    said = corrected_copy_refusal(_withdrawn("1000000043"), _withdrawn("1026893096"))
    assert said == (
        "the replacement names other learners than the parked message: a corrected copy is about the same ones"
    )
    unreadable = _withdrawn("1000000043").replace(b'"line":1', b'"line":"one"')
    assert corrected_copy_refusal(unreadable, _withdrawn("1000000043")) is None


def test_a_copy_of_a_head_that_does_not_read_whole_is_about_the_learner_the_message_key_names() -> None:
    """challenges.plr-record took a copy naming another learner for a head it could not read, and stored an
    achievement under that learner, who could then challenge it (the projector refused the same copy)."""
    keyed = b"4444599390"
    half_read = _withdrawn("4444599390").replace(b'"line":1', b'"line":"one"')
    for head in (half_read, b"\x00 not json"):
        said = corrected_copy_refusal(head, _withdrawn("6567035160"), keyed)
        assert said == "the replacement is not about the learner whose messages are parked (the message key's ULN)"
        assert corrected_copy_refusal(head, _withdrawn("4444599390"), keyed) is None
    # the outcomes topic: keyed by batch, no learner to hold to, but the batch
    assert corrected_copy_refusal(b"\x00 not json", _completed(), BATCH_KEY) is None
    assert corrected_copy_refusal(b"\x00 not json", _withdrawn("6567035160"), BATCH_KEY) == ANOTHER_SUBJECT


ANOTHER_SUBJECT = (
    "the replacement is about another subject than the parked message (what its message key is made from: a"
    " batch id, a ULN, an achievement id): a corrected copy is about the same one"
)


def test_a_copy_about_another_batch_is_refused() -> None:
    """A "corrected copy" of one batch's outcome naming another batch turned that batch from failed to completed
    in the AO's batch view; one naming no batch at all added a completed batch the AO never sent."""
    another, unheard_of = _completed(batch_id=uuid.UUID(int=10)), _completed(batch_id=uuid.uuid4())
    half_read = _completed().replace(b'"accepted":1', b'"accepted":"one"')
    for head in (_completed(), half_read, b"\x00 not json"):
        assert corrected_copy_refusal(head, another, BATCH_KEY) == ANOTHER_SUBJECT
        assert corrected_copy_refusal(head, unheard_of, BATCH_KEY) == ANOTHER_SUBJECT
    assert corrected_copy_refusal(_completed(), another) == ANOTHER_SUBJECT  # a keyless head: its own batch id


def test_a_copy_of_another_kind_of_event_is_refused() -> None:
    failed = BatchFailed(
        batch_id=BATCH,
        ao_id="RN5133",
        code="RS005",
        reason="every record rejected",
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=0, rejected=1, no_ops=0, warnings=0),
        submitted_at=datetime(2026, 12, 4, tzinfo=UTC),
        decided_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    parked_failure = encode(wrap(failed, source="validation", correlation_id=str(BATCH), event_id=EVENT))
    said = corrected_copy_refusal(parked_failure, _completed(), BATCH_KEY)
    assert said == (
        "the replacement is a lrs.batch.completed.v1, the parked message a lrs.batch.failed.v1: a corrected copy"
        " is the same kind of event"
    )
    # nor when the parked message of a known type does not read (its counts broken, say): its type was not the fault
    broken = parked_failure.replace(b'"counts":{', b'"counts":{"unknown":1,', 1)
    assert corrected_copy_refusal(broken, _completed(), BATCH_KEY) is not None


def test_a_parked_message_whose_fault_is_its_event_type_is_mended_by_a_copy_of_the_right_type() -> None:
    """A type misspelt or of a version no consumer reads is why such a message was parked: its copy names the right
    one (the subject, the key, is still checked)."""
    misspelt = _completed().replace(b'"lrs.batch.completed.v1"', b'"lrs.batch.complete.v1"')
    assert b"lrs.batch.complete.v1" in misspelt
    assert corrected_copy_refusal(misspelt, _completed(), BATCH_KEY) is None
    assert corrected_copy_refusal(misspelt, _completed(), str(uuid.uuid4()).encode()) is not None


def test_a_copy_on_a_learners_stream_keeps_the_learner_the_key_names() -> None:
    said = corrected_copy_refusal(_withdrawn("1000000043"), _withdrawn("1026893096"), b"1000000043")
    assert said == "the replacement is not about the learner whose messages are parked (the message key's ULN)"
    assert corrected_copy_refusal(_withdrawn("1000000043"), _withdrawn("1000000043"), b"1000000043") is None


@pytest.mark.parametrize("example", RETRYABLE_EXAMPLES, ids=lambda example: example.event_type)
def test_every_event_a_consumer_re_applies_yields_the_key_it_is_sent_under(example: EventExample) -> None:
    """A new event type on these logs needs its key here, or its corrected copies are held to no subject."""
    assert message_key_of(example.payload) == example.key
