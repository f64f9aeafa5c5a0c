"""A decided chunk carrying an outcome field, a finding field, a chunk field or a status this release does not know
(a newer validation's) is parked at its first attempt, as ingest's batch view and reporting park it (docs/deploy.md,
"Upgrade"): the notifier's fast readers no longer tally it without the new records, to email the AO a completion
whose rejection counts leave them out. So is a chunk in an envelope whose `schema_version` is not 1, or with an
envelope field this release does not know, read as plain JSON (the byte scanner refuses it first). A chunk as
validation writes it is still read fast."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from libs.platform.tests.unit.unknown_event_types import parked_by
from services.notifier.tests.unit.test_handlers import FakeDeliveryLog, FakeMailer, FakeTallies, notifications

from lrs_contracts.fast_decode import rejections_by_code, scanned_rejections_by_code
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import Message
from notifier.consumer import CONSUMER, NotificationHandler

BATCH = uuid.uuid4()


def chunk() -> bytes:
    outcomes = (
        RecordOutcome(line=1, status=RecordStatus.ACCEPTED, uln_masked="******0043"),
        RecordOutcome(
            line=2,
            status=RecordStatus.REJECTED,
            errors=(Finding(code="RV009", field="grade", message='grade "Z" is not one of the qualification\'s'),),
            warnings=(Finding(code="WV002", message="a warning"),),
        ),
        RecordOutcome(line=3, status=RecordStatus.NO_OP),
    )
    payload = BatchRecordsDecided(batch_id=BATCH, ao_id="RN5133", chunk_index=0, outcomes=outcomes)
    return encode(wrap(payload, source="validation", correlation_id=str(BATCH)))


def rewritten(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(chunk())
    change(document["data"])
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def enveloped(change: Callable[[dict[str, Any]], None]) -> bytes:
    """The chunk, its envelope changed, spaced as the byte scanner does not read it: the JSON path reads it."""
    document = json.loads(chunk())
    change(document)
    return json.dumps(document, ensure_ascii=False).encode()


NEWER = {
    "a new outcome status": lambda data: data["outcomes"][0].update(status="held"),
    "a new outcome field": lambda data: data["outcomes"][0].update(reviewer="x"),
    "a new field of a rejected record's finding": lambda data: data["outcomes"][1]["errors"][0].update(severity="high"),
    "a new field of a warning": lambda data: data["outcomes"][1]["warnings"][0].update(severity="high"),
    "a new field of the chunk": lambda data: data.update(channel="portal"),
}


def test_a_chunk_as_validation_writes_it_is_read_by_both_fast_readers() -> None:
    expected = (BATCH, 0, {"RV009": 1, "WV002": 1})
    assert scanned_rejections_by_code(chunk(), warnings=True) == expected
    assert rejections_by_code(json.loads(chunk())["data"], warnings=True) == expected


@pytest.mark.parametrize("text", ['MIS": 1', ":MIS", '"status":"held","reviewer":"x"', "\\", '\\":'])
def test_a_text_that_looks_like_a_field_is_still_read_fast(text: str) -> None:
    value = rewritten(lambda data: data["outcomes"][0].update(mis_identifier=text))
    assert scanned_rejections_by_code(value, warnings=True) == (BATCH, 0, {"RV009": 1, "WV002": 1})


@pytest.mark.parametrize("newer", sorted(NEWER))
def test_neither_fast_reader_tallies_a_chunk_of_a_newer_release(newer: str) -> None:
    value = rewritten(NEWER[newer])
    assert scanned_rejections_by_code(value, warnings=True) is None
    assert rejections_by_code(json.loads(value)["data"], warnings=True) is None


@pytest.mark.parametrize("newer", sorted(NEWER))
async def test_the_notifier_parks_a_chunk_of_a_newer_release_at_its_first_attempt(newer: str) -> None:
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog()))
    rows, letters = await parked_by(
        CONSUMER, handler, [Message(BATCH_OUTCOMES.name, 0, 7, str(BATCH).encode(), rewritten(NEWER[newer]))]
    )
    assert [(row.offset, row.attempts) for row in rows] == [(7, 1)]
    [letter] = letters
    assert letter.error is not None
    assert letter.error.startswith("invalid: ")


ANOTHER_ENVELOPE = {
    "schema_version 2": lambda document: document.update(schema_version=2),
    "schema_version 0": lambda document: document.update(schema_version=0),
    "schema_version as text": lambda document: document.update(schema_version="1"),
    "a new envelope field": lambda document: document.update(tenant="x"),
}


async def test_a_chunk_the_scanner_does_not_read_is_tallied_from_its_json() -> None:
    value = enveloped(lambda document: None)
    assert scanned_rejections_by_code(value, warnings=True) is None
    tallies = FakeTallies()
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog(), tallies=tallies))
    await handler([Message(BATCH_OUTCOMES.name, 0, 7, str(BATCH).encode(), value)])
    assert tallies.chunks == {BATCH: {0: {"RV009": 1, "WV002": 1}}}


@pytest.mark.parametrize("another", sorted(ANOTHER_ENVELOPE))
async def test_the_notifier_parks_a_chunk_in_another_envelope_read_as_json(another: str) -> None:
    value = enveloped(ANOTHER_ENVELOPE[another])
    assert scanned_rejections_by_code(value, warnings=True) is None
    tallies = FakeTallies()
    handler = NotificationHandler(notifications(FakeMailer(), FakeDeliveryLog(), tallies=tallies))
    rows, letters = await parked_by(CONSUMER, handler, [Message(BATCH_OUTCOMES.name, 0, 7, str(BATCH).encode(), value)])
    assert [(row.offset, row.attempts) for row in rows] == [(7, 1)]
    [letter] = letters
    assert letter.error is not None
    assert letter.error.startswith("invalid: ")
    assert tallies.chunks == {}
