"""An `accepted` batch that is not decided may have lost its messages: the submitted topic keeps them 7 days, and a
decider stopped (or crash-looping) longer never read them (the exhaust walk, finding 1). Sending the same file (or
key) again publishes it again under the same id, so that it is decided; validation decides a batch once, by its id.
Every other resend is answered as it stands and publishes nothing: a decided batch, one validation has taken up, and
one a maintenance window or pause holds (it waits, it is not lost)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import structlog
from services.ingest.tests.unit.test_ingest_service import (
    AO,
    FakeKeyring,
    FakePublisher,
    FakeRepository,
    batch_file,
    learners_batch,
    make,
)

from ingest.repository import StoredBatch
from ingest.service import BatchSubmissions, SubmitResult
from ingest.submission import BatchStatus
from lrs_contracts.batch import BatchRecordsSubmitted, BatchSubmitted
from lrs_contracts.registry import decode
from lrs_platform.keyring import LearnerKey, Purpose, batch_key_name
from lrs_platform.maintenance import Closure


async def _send(
    service: BatchSubmissions, content: bytes, key: str | None = None, held: Closure | None = None
) -> SubmitResult:
    async def closure() -> Closure | None:
        return held

    return await service.submit(
        AO,
        content,
        requested_format=None,
        content_type="application/json",
        content_disposition=None,
        idempotency_key=key,
        held=closure,
    )


def _submitted(values: tuple[bytes, ...]) -> BatchSubmitted:
    payload = decode(values[0])[1]
    assert isinstance(payload, BatchSubmitted)
    return payload


@pytest.mark.parametrize("key", [None, "k-1"])
async def test_an_accepted_batch_not_decided_is_published_again_under_its_id(key: str | None) -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    service = make(repository, publisher)
    first = await _send(service, batch_file(), key)

    with structlog.testing.capture_logs() as logged:
        again = await _send(service, batch_file(), key)

    assert (again.batch_id, again.status, again.replay) == (first.batch_id, BatchStatus.ACCEPTED, True)
    (_, _, sent), (_, key_again, sent_again) = publisher.transactions
    assert key_again == b"RN5133"  # on the AO's partition, in its queue
    assert _submitted(sent_again).batch_id == first.batch_id
    # the same batch: its start event as it was (its id, its time received), and as many chunks after it
    assert (sent_again[0], len(sent_again)) == (sent[0], len(sent))
    assert [decode(value)[0].event_id for value in sent_again] == [decode(value)[0].event_id for value in sent]
    assert repository.batches[first.batch_id].status is BatchStatus.ACCEPTED
    assert [entry["batch_id"] for entry in logged if entry["event"] == "batch_published_again"] == [str(first.batch_id)]


async def test_the_records_naming_no_learner_go_again_under_the_batch_s_own_key() -> None:
    repository, publisher, keyring = FakeRepository(), FakePublisher(), FakeKeyring()
    service = make(repository, publisher, keyring)
    first = await _send(service, learners_batch())
    await _send(service, learners_batch())

    _, (_, _, sent_again) = publisher.transactions
    unkeyed = [
        record
        for value in sent_again
        if isinstance(chunk := decode(value)[1], BatchRecordsSubmitted)
        for record in chunk.records
        if record.line == 4
    ]
    batch_key = keyring.keys[batch_key_name(first.batch_id)]  # the key validation finds by the batch's id
    assert isinstance(batch_key, LearnerKey) and unkeyed[0].personal is not None
    assert batch_key.open_json(Purpose.SUBMITTED_RECORD, unkeyed[0].personal)["given_name"] == "Grace"


@pytest.mark.parametrize(
    "status", [BatchStatus.VALIDATING, BatchStatus.COMPLETED], ids=["validation-took-it-up", "decided"]
)
async def test_a_batch_taken_up_or_decided_is_answered_as_it_stands(status: BatchStatus) -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    service = make(repository, publisher)
    first = await _send(service, batch_file())
    repository.batches[first.batch_id] = replace(repository.batches[first.batch_id], status=status)

    again = await _send(service, batch_file())

    assert (again.batch_id, again.status, again.replay) == (first.batch_id, status, True)
    assert len(publisher.transactions) == 1


async def test_a_batch_held_by_maintenance_is_answered_as_it_stands() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    service = make(repository, publisher)
    first = await _send(service, batch_file())
    held = Closure(reason="upgrade", until=None, paused=True)

    again = await _send(service, batch_file(), held=held)

    assert (again.batch_id, again.status, again.replay) == (first.batch_id, BatchStatus.ACCEPTED, True)
    assert len(publisher.transactions) == 1


async def test_a_batch_decided_while_it_waited_for_its_row_is_answered_as_it_stands() -> None:
    """Validation's outcome stored between the look-up and the claim of the row: nothing published."""

    class DecidedMeanwhile(FakeRepository):
        async def find_by_dedup(self, ao_id: str, dedup_key: str) -> StoredBatch | None:
            found = await super().find_by_dedup(ao_id, dedup_key)
            if found is not None:
                self.batches[found.batch_id] = replace(found, status=BatchStatus.COMPLETED)
            return found

    repository, publisher = DecidedMeanwhile(), FakePublisher()
    service = make(repository, publisher)
    first = await _send(service, batch_file())

    again = await _send(service, batch_file())

    assert (again.batch_id, again.status, again.replay) == (first.batch_id, BatchStatus.COMPLETED, True)
    assert len(publisher.transactions) == 1


async def test_kafka_away_answers_the_batch_as_it_stands() -> None:
    """Not the 503 of a batch Kafka never took ("nothing of it was accepted"): this one was accepted."""
    repository, publisher = FakeRepository(), FakePublisher()
    service = make(repository, publisher)
    first = await _send(service, batch_file())
    publisher.available = False

    again = await _send(service, batch_file())

    assert (again.batch_id, again.status, again.replay) == (first.batch_id, BatchStatus.ACCEPTED, True)
    assert len(publisher.transactions) == 1
