"""The dead-letter headers: built once, read back whole, safe for PostgreSQL and free of personal data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from lrs_contracts.dead_letters import (
    HEADER_NAMES,
    MAX_ERROR_BYTES,
    OPTIONAL_HEADER_NAMES,
    VALUE_OMITTED,
    DeadLetter,
    dead_letter_topic,
    error_text,
    peek_event,
)

PARKED_AT = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
ENVELOPE = b'{"event_id": "0b7f6c1e-3c1a-4d8e-9b9a-7f1d2e3c4b5a", "event_type": "lrs.batch.completed.v1", "data": {}}'


def test_headers_round_trip_with_the_event_identity_read_from_the_value() -> None:
    letter = DeadLetter.of(
        error="DataError: invalid byte sequence",
        topic="lrs.batch.outcomes.v1",
        partition=3,
        offset=41,
        consumer="ingest.batch-view",
        attempts=3,
        value=ENVELOPE,
        parked_at=PARKED_AT,
    )
    headers = letter.headers()
    assert {name for name, _ in headers} == set(HEADER_NAMES) - {VALUE_OMITTED}
    assert dict(headers)["lrs-original-offset"] == b"41"
    assert DeadLetter.from_headers(headers) == letter
    assert (letter.event_id, letter.event_type) == ("0b7f6c1e-3c1a-4d8e-9b9a-7f1d2e3c4b5a", "lrs.batch.completed.v1")


@pytest.mark.parametrize("value", [None, b"", b"not json", b"[1, 2]", b'{"event_id": 7}'])
def test_an_unreadable_value_leaves_the_event_headers_out(value: bytes | None) -> None:
    letter = DeadLetter.of(
        error="x", topic="t", partition=0, offset=0, consumer="c", attempts=1, value=value, parked_at=PARKED_AT
    )
    names = {name for name, _ in letter.headers()}
    assert "lrs-event-id" not in names and "lrs-event-type" not in names
    assert DeadLetter.from_headers(letter.headers()) == letter


def test_a_copy_without_its_value_says_so_and_how_large_the_value_was() -> None:
    letter = DeadLetter.of(
        error="x", topic="t", partition=0, offset=9, consumer="c", attempts=1, value=ENVELOPE, parked_at=PARKED_AT
    )
    assert VALUE_OMITTED not in dict(letter.headers()) and VALUE_OMITTED in OPTIONAL_HEADER_NAMES
    omitted = letter.without_value(8_388_448)
    assert dict(omitted.headers())[VALUE_OMITTED] == b"8388448"
    assert DeadLetter.from_headers(omitted.headers()) == omitted
    assert (omitted.event_id, omitted.original_offset) == (letter.event_id, 9)


def test_foreign_headers_are_ignored_and_a_missing_one_is_refused() -> None:
    letter = DeadLetter.of(error="x", topic="t", partition=0, offset=0, consumer="c", attempts=1, value=None)
    assert DeadLetter.from_headers([("traceparent", b"00-abc"), *letter.headers()]) == letter
    with pytest.raises(ValueError, match="lrs-original-offset"):
        DeadLetter.from_headers([header for header in letter.headers() if header[0] != "lrs-original-offset"])


def test_the_error_is_cut_to_size_and_a_nul_byte_spelled_out() -> None:
    text = error_text(ValueError("é" * 2_000 + "\x00"))
    assert len(text.encode()) <= MAX_ERROR_BYTES
    assert text.startswith("ValueError: éé")
    assert "\x00" not in error_text(ValueError("a\x00b"))
    assert error_text(KeyError()) == "KeyError"


class Person(BaseModel):
    family_name: str
    age: int


def test_a_validation_error_names_fields_never_values() -> None:
    with pytest.raises(ValidationError) as raised:
        Person.model_validate({"family_name": 1234, "age": "Lovelace"})
    text = error_text(raised.value)
    assert text.startswith("invalid: family_name: ")
    assert "family_name" in text and "age" in text
    assert "Lovelace" not in text and "1234" not in text


def test_every_topic_has_its_dead_letter_topic_beside_it() -> None:
    assert dead_letter_topic("lrs.batch.outcomes.v1") == "lrs.batch.outcomes.v1.dlq"


@pytest.mark.parametrize(
    "value",
    [
        b'{"event_id":"\\u0000","event_type":"lrs.batch.completed.v1\\u0000"}',
        b'{"event_id":"not-a-uuid","event_type":"DROP TABLE"}',
        b'{"event_id":12,"event_type":["lrs.batch.completed.v1"]}',
    ],
)
def test_a_poisons_own_text_never_reaches_its_dead_letter_as_the_events_id_or_type(value: bytes) -> None:
    """PostgreSQL refuses a NUL: a dead letter carrying one could never be parked, and the consumer stopped."""
    assert peek_event(value) == (None, None)


def test_an_envelopes_id_and_type_are_kept_as_the_envelope_spells_them() -> None:
    event_id = str(uuid.uuid4())
    value = f'{{"event_id":"{event_id}","event_type":"lrs.batch.completed.v1"}}'.encode()
    assert peek_event(value) == (event_id, "lrs.batch.completed.v1")
