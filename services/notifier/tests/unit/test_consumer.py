"""The notifier's consumer: decided chunks are tallied from plain JSON exactly as from their models, and
events that lead to no email are not decoded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import FakeDeliveryLog, FakeMailer, FakeTallies, notifications

from lrs_contracts.outcomes import BatchRecordsDecided, BatchValidationStarted, Finding, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_platform.consumer import Attempts, Message, Poisoned, RetryPolicy
from notifier.consumer import NotificationHandler
from notifier.emails import count_record_codes

CODES = ("RV002", "RV004", "RV009", "RV021", "WV001")


def message(value: bytes) -> Message:
    return Message("lrs.batch.outcomes.v1", 0, 0, b"key", value)


def encoded(payload: Any) -> bytes:
    return encode(wrap(payload, source="validation", correlation_id="c-1"))


# what a message may say, the scanner's own search strings included: it must never take them for fields
awkward_text = st.lists(
    st.sampled_from(
        [
            '"',
            "\\",
            "]",
            "}",
            ",",
            "a",
            '"status":"rejected","errors":[',
            '"warnings":[{"code":"WV9"}]',
            "the learner's record was erased",  # an erased learner's RV004 is counted apart too
        ]
    ),
    max_size=4,
).map("".join)

outcomes = st.builds(
    lambda line, status, errors, warnings, text: RecordOutcome(
        line=line,
        status=status,
        mis_identifier=text,
        errors=tuple(Finding(code=code, message=text) for code in errors),
        warnings=tuple(Finding(code=code, message=text) for code in warnings),
        achievement_id=uuid.uuid4() if status is RecordStatus.ACCEPTED else None,
    ),
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from(RecordStatus),
    st.lists(st.sampled_from(CODES), max_size=4),
    st.lists(st.sampled_from(CODES), max_size=2),
    awkward_text,
)


@given(st.lists(outcomes, max_size=30), st.integers(min_value=0, max_value=9))
async def test_a_decided_chunk_is_tallied_from_its_json_as_from_its_models(
    chunk_outcomes: list[RecordOutcome], chunk_index: int
) -> None:
    chunk = BatchRecordsDecided(
        batch_id=uuid.uuid4(), ao_id="RN5133", chunk_index=chunk_index, outcomes=tuple(chunk_outcomes)
    )
    tallies = FakeTallies()
    await NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog(), tallies=tallies))(
        [message(encoded(chunk))]
    )
    assert tallies.chunks == {chunk.batch_id: {chunk_index: count_record_codes(chunk.outcomes)}}


async def test_the_batch_email_lists_the_codes_tallied_from_the_json_of_its_chunks() -> None:
    mailer, tallies = FakeMailer(), FakeTallies()
    handler = NotificationHandler(notifications(mailer, FakeDeliveryLog(), tallies=tallies))
    rejected = RecordOutcome(line=1, status=RecordStatus.REJECTED, errors=(Finding(code="RV004", message="x"),))
    chunk = BatchRecordsDecided(batch_id=completed().batch_id, ao_id="RN5133", chunk_index=0, outcomes=(rejected,))
    await handler([message(encoded(chunk)), message(encoded(completed()))])
    [sent] = mailer.sent
    text = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [line.split()[:2] for line in text.splitlines() if line.startswith("  RV")] == [["RV004", "1"]]


async def test_an_event_that_makes_no_email_is_not_decoded() -> None:
    started = encoded(BatchValidationStarted(batch_id=uuid.uuid4(), ao_id="RN5133", record_count=1))
    # Broken where only the validating decoder would look: skipped unread, not refused.
    unvalidated = started.replace(b'"record_count":1', b'"record_count":0')
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog()))
    await handler([message(unvalidated)])


async def test_a_chunk_not_shaped_as_validation_writes_it_goes_to_the_validating_decoder() -> None:
    chunk = encoded(BatchRecordsDecided(batch_id=uuid.uuid4(), ao_id="RN5133", chunk_index=0, outcomes=()))
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog()))
    with pytest.raises(ValueError, match="outcomes"):
        await handler([message(chunk.replace(b'"outcomes":[]', b'"outcomes":{}'))])
    with pytest.raises(ValidationError, match="Invalid JSON"):
        await handler([message(b"not json")])


async def test_a_message_that_is_not_json_is_parked_at_its_first_attempt_as_failing_its_contract() -> None:
    """As every consumer parks it (docs/events.md, `lrs-error`): the notifier tried it three times and parked it
    as `JSONDecodeError: …`."""
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog()))
    attempts = Attempts("notifier-not-json", RetryPolicy(base_seconds=0, max_seconds=0))
    for value in (b"not json", b"\xff\xfe", b'{"event_type": "lrs.batch.completed.v1",'):

        async def handle(value: bytes = value) -> None:
            await handler([message(value)])

        outcome = await attempts.run(handle)
        assert isinstance(outcome, Poisoned) and outcome.attempts == 1, outcome
        assert outcome.error.startswith("invalid: Invalid JSON: "), outcome


async def test_every_chunk_of_a_poll_is_tallied_and_those_before_an_email_before_it() -> None:
    mailer, tallies = FakeMailer(), FakeTallies()
    handler = NotificationHandler(notifications(mailer, FakeDeliveryLog(), tallies=tallies))

    def chunk(batch_id: uuid.UUID, index: int, code: str) -> bytes:
        rejected = RecordOutcome(
            line=index + 1, status=RecordStatus.REJECTED, errors=(Finding(code=code, message="x"),)
        )
        return encoded(BatchRecordsDecided(batch_id=batch_id, ao_id="RN5133", chunk_index=index, outcomes=(rejected,)))

    other_batch = uuid.uuid4()
    await handler(
        [
            message(chunk(completed().batch_id, 0, "RV004")),
            message(chunk(completed().batch_id, 1, "RV004")),
            message(encoded(completed())),
            message(chunk(other_batch, 0, "RV009")),
        ]
    )
    [sent] = mailer.sent
    text = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [line.split()[:2] for line in text.splitlines() if line.startswith("  RV")] == [["RV004", "2"]]
    assert tallies.chunks == {other_batch: {0: {"RV009": 1}}}, "the sent batch's tallies are forgotten"


async def test_the_batch_email_lists_the_warning_codes_of_its_chunks_accepted_records_included() -> None:
    mailer = FakeMailer()
    handler = NotificationHandler(notifications(mailer, FakeDeliveryLog(), tallies=FakeTallies()))
    warned = RecordOutcome(
        line=1,
        status=RecordStatus.ACCEPTED,
        warnings=(Finding(code="WV001", message="x"),),
        achievement_id=uuid.uuid4(),
    )
    chunk = BatchRecordsDecided(batch_id=completed().batch_id, ao_id="RN5133", chunk_index=0, outcomes=(warned,))
    await handler([message(encoded(chunk)), message(encoded(completed()))])
    [sent] = mailer.sent
    text = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [line.split()[:2] for line in text.splitlines() if line.startswith("  WV")] == [["WV001", "1"]]
    assert not [line for line in text.splitlines() if line.startswith("  RV")]


async def test_an_erased_learners_rv004_is_counted_apart_from_a_decided_chunks_json() -> None:
    """The consumer reads decided chunks without their models: it counted codes alone, so the batch email's note
    for a record whose RV004 says the learner's record was erased never came (the end-to-end walk of session 59)."""
    erased = Finding(code="RV004", message="the learner's record was erased: no achievement can be recorded")
    typo = Finding(code="RV004", message="ULN, names and date of birth do not match a registered learner")
    chunk = BatchRecordsDecided(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        chunk_index=0,
        outcomes=(
            RecordOutcome(line=1, status=RecordStatus.REJECTED, errors=(erased,)),
            RecordOutcome(line=2, status=RecordStatus.REJECTED, errors=(typo,)),
        ),
    )
    tallies = FakeTallies()
    await NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog(), tallies=tallies))(
        [message(encoded(chunk))]
    )
    assert tallies.chunks == {chunk.batch_id: {0: {"RV004": 2, "RV004-erased": 1}}}
