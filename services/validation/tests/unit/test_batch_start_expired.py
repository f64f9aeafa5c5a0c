"""A batch whose start was lost is parked, not abandoned, so the AO's copy sent again is decided once (review 1,
finding 1). Kafka's retention deletes whole log segments, and a batch's transaction can span a segment roll: after a
decider outage longer than the submitted topic's retention, a batch's BatchSubmitted and first chunks are gone while
its last chunks and end marker stay, and the copy ingest publishes again (the AO sending the file again while the batch
is `accepted`) follows them in the log. Abandoning the batch at the tail told the AO that none of its records reached
a learner's record; the copy was then decided and its records did, and the batch stayed `abandoned`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.outcomes import BatchAbandoned
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.keyring import KeyLookup, batch_key_name

from .decider_fakes import AO, PARTITION, Record, decider, offer_all
from .test_consumer_decider import EmptyReference, FakeParked, FakeProducer
from .test_decisions_counted_once import KeptDecisions

CHUNKS = 3


def three_chunk_batch(batch_id: uuid.UUID, first_offset: int) -> list[Record]:
    """A batch of three chunks of one record each, as ingest publishes it: its start, its chunks and its end marker
    at `first_offset` and the offsets after it on PARTITION."""
    payloads: list[Contract] = [
        BatchSubmitted(
            batch_id=batch_id,
            ao_id=AO,
            header=BatchHeader(awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org"),
            format=BatchFormat.JSON,
            record_count=CHUNKS,
            content_sha256="0" * 64,
            size_bytes=1,
            submitted_by=f"ao:{AO}",
            received_at=datetime(2025, 3, 1, tzinfo=UTC),
        ),
        *(
            BatchRecordsSubmitted(
                batch_id=batch_id,
                ao_id=AO,
                chunk_index=index,
                records=(
                    SubmittedRecord(
                        line=index + 1,
                        action="Create",
                        uln="3000000002",
                        qualification_number="60303049",
                        grade="5",
                    ),
                ),
            )
            for index in range(CHUNKS)
        ),
        BatchSubmissionCompleted(batch_id=batch_id, ao_id=AO, record_count=CHUNKS, chunk_count=CHUNKS),
    ]
    return [
        Record(PARTITION.topic, PARTITION.partition, first_offset + index, AO.encode(), value)
        for index, value in enumerate(encode(wrap(p, source="ingest", correlation_id="c")) for p in payloads)
    ]


@dataclass
class KeysDestroyed:
    """A key store without keys that keeps the names of the keys destroyed."""

    destroyed: list[str] = field(default_factory=list)

    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        return {}

    async def destroy(self, name: str) -> bool:
        self.destroyed.append(name)
        return False


def _abandonments(producer: FakeProducer) -> list[BatchAbandoned]:
    found = []
    for transaction in producer.transactions:
        for topic, sent in transaction:
            if topic == BATCH_OUTCOMES.name:
                _, payload = decode(sent[1])
                if isinstance(payload, BatchAbandoned):
                    found.append(payload)
    return found


async def test_a_batch_whose_start_expired_is_parked_not_abandoned_and_its_copy_sent_again_is_decided_once() -> None:
    batch_id = uuid.uuid4()
    producer, parked, keys, decisions = FakeProducer(), FakeParked(), KeysDestroyed(), KeptDecisions()
    target = decider(decisions, producer, parked, reference=EmptyReference(), keys=keys)
    first_copy = three_chunk_batch(batch_id, first_offset=100)  # offsets 100..104
    tail = first_copy[2:]  # chunks 1 and 2 and the end marker: the start and chunk 0 went with their segment
    sent_again = three_chunk_batch(batch_id, first_offset=105)  # the copy published again, same ids, after it

    with structlog.testing.capture_logs() as logs:
        await offer_all(target, tail)
        # the tail's end is parked for operators, and its offsets are passed; nothing is given up on
        [parking] = parked.parked
        assert parking.offset == 104
        assert producer.transactions[-1][-1] == ("offsets", {PARTITION: 105})
        await offer_all(target, sent_again)

    assert _abandonments(producer) == []
    assert keys.destroyed.count(batch_key_name(batch_id)) == 0  # the copy's records sealed under it can be opened
    assert len(decisions.recorded) == 1 and decisions.published == [batch_id]  # decided once
    assert producer.transactions[-1][-1] == ("offsets", {PARTITION: 110})
    assert len(parked.parked) == 1
    [said] = [entry for entry in logs if entry["event"] == "batch_start_expired"]
    assert said == {
        "event": "batch_start_expired",
        "log_level": "warning",
        "batch_id": str(batch_id),
        "partition": PARTITION.partition,
        "offset": 104,
    }
    assert [entry["event"] for entry in logs if entry["event"].startswith("batch_decided")] == ["batch_decided"]


async def test_a_batch_whose_start_came_and_a_chunk_did_not_is_still_abandoned() -> None:
    """Only a lost start is spared: a batch whose header arrived and whose chunk did not is abandoned as before
    (decision 0103), and its AO told."""
    batch_id = uuid.uuid4()
    producer, parked = FakeProducer(), FakeParked()
    target = decider(KeptDecisions(), producer, parked, reference=EmptyReference())
    start, _, chunk_1, chunk_2, marker = three_chunk_batch(batch_id, first_offset=0)

    await offer_all(target, [start, chunk_1, chunk_2, marker])

    [abandoned] = _abandonments(producer)
    assert (abandoned.batch_id, abandoned.notification_email) == (batch_id, "r@example.org")
    assert [parking.offset for parking in parked.parked] == [4]
