"""A schedule message the gate cannot read is passed over, never parked (decision 0030: every replica reads the
topic from its start, and holding its one key would keep every later schedule from the decider), but counted in
`lrs_consumer_skipped_messages_total` and logged with where it lies; the schedules around it are kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from lrs_contracts.envelope import utc_now
from lrs_contracts.operations import MaintenancePause, MaintenanceScheduleChanged
from lrs_contracts.registry import encode, wrap
from lrs_platform import maintenance
from lrs_platform.maintenance import MaintenanceGate

TOPIC = "lrs.operations.maintenance.v1"


class Record:
    def __init__(self, offset: int, value: bytes) -> None:
        self.partition, self.offset, self.value = 0, offset, value


class ScheduleTopic:
    """The compacted schedule topic as one poll of `records`; the next poll ends the follower (cancelled)."""

    def __init__(self, records: Sequence[Record]) -> None:
        self._records = list(records)
        self._polled = False

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...

    async def seek_to_beginning(self, partition: TopicPartition) -> None: ...

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, len(self._records))

    async def position(self, partition: TopicPartition) -> int:
        return len(self._records)

    async def getmany(self, partition: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        if self._polled:
            raise asyncio.CancelledError
        self._polled = True
        return {partition: self._records}


def paused(version: int) -> bytes:
    schedule = MaintenanceScheduleChanged(
        schedule_id=uuid.uuid4(),
        version=version,
        windows=(),
        pause=MaintenancePause(since=utc_now(), reason="broker incident"),
    )
    return encode(wrap(schedule, source="ingest", correlation_id="schedule"))


def skipped(consumer: str) -> float:
    value = REGISTRY.get_sample_value("lrs_consumer_skipped_messages_total", {"consumer": consumer, "topic": TOPIC})
    return value or 0.0


async def test_an_unreadable_schedule_is_counted_logged_where_it_lies_and_the_next_one_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = f"tests-{uuid.uuid4().hex[:6]}"
    topic = ScheduleTopic([Record(0, b"not json"), Record(1, paused(1))])

    def make_consumer(*_: Any, **__: Any) -> ScheduleTopic:
        return topic

    monkeypatch.setattr(maintenance, "make_consumer", make_consumer)
    gate = MaintenanceGate("unused:9092", TOPIC, consumer)

    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await gate.follow()

    assert skipped(consumer) == 1
    [logged] = [entry for entry in logs if entry["event"] == "maintenance_schedule_undecodable"]
    assert (logged["topic"], logged["partition"], logged["offset"]) == (TOPIC, 0, 0)
    assert gate.caught_up.is_set()
    closure = gate.closure()
    assert closure is not None and closure.paused
