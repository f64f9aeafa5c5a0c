"""Events on the projector's topics as its unit tests write them, and what the projector makes of them: an
achievement recorded, the message carrying the log's n-th event, those messages as the rebuild's worker reads
them, and a batch of them projected."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from tests.support.projector import summary

from lrs_contracts.envelope import Contract
from lrs_contracts.plr import AchievementData, AchievementKey, AchievementRecorded, Provenance, ResultStatus
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import BatchChanges, Message, Snapshot, decode_message, project_batch
from plr_projector.rebuild import Record, Records

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
ULN = "1000000043"


def achievement_key(uln: str = ULN, qan: str = "6001166X") -> AchievementKey:
    return AchievementKey(ao_id="RN5133", uln=uln, qualification_number=qan, award_date=date(2024, 5, 20))


def recorded(
    uln: str = ULN, *, status: ResultStatus = ResultStatus.FINAL, line: int = 1, batch: int = 7, **data: Any
) -> AchievementRecorded:
    """A learner's achievement recorded, its id derived from the ULN, its data grade 7 unless `data` says."""
    return AchievementRecorded(
        achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, uln),
        key=achievement_key(uln),
        data=AchievementData(**{"grade": "7", **data}),
        status=status,
        qualification=summary(),
        provenance=Provenance(batch_id=uuid.UUID(int=batch), line=line),
    )


def event_value(payload: Contract, number: int) -> bytes:
    """The log's `number`-th event as validation writes it: its id and time follow from its number."""
    return encode(
        wrap(
            payload,
            source="validation",
            correlation_id="batch",
            event_id=uuid.UUID(int=number + 1),
            occurred_at=T0 + timedelta(minutes=number),
        )
    )


def log_message(topic: str, key: str | None, value: bytes | None, offset: int, partition: int = 0) -> Message:
    encoded = None if key is None else key.encode()
    return Message(topic, partition, offset, encoded, value, 1_700_000_000_000 + offset)


def consumer_records(messages: list[Message]) -> list[Records]:
    """The messages as the rebuild's worker reads them: runs of one partition's records."""
    chunk: list[tuple[str, int, list[Record]]] = []
    for message in messages:
        record = ConsumerRecord(
            message.topic,
            message.partition,
            message.offset,
            message.timestamp_ms,
            0,
            message.key,
            message.value,
            None,
            0,
            0,
            (),
        )
        if chunk and chunk[-1][:2] == (message.topic, message.partition):
            chunk[-1][2].append(record)
        else:
            chunk.append((message.topic, message.partition, [record]))
    return [(topic, partition, records) for topic, partition, records in chunk]


def project(messages: list[Message], snapshot: Snapshot | None = None) -> BatchChanges:
    """The changes the live projection makes of one batch of messages, from `snapshot` or from nothing."""
    return project_batch(snapshot or Snapshot(), [decode_message(message) for message in messages])
