"""What a maintenance schedule means at a moment, and the hold at a batch boundary (no broker: a fake consumer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition

from lrs_contracts.operations import MaintenancePause, MaintenanceScheduleChanged, MaintenanceWindow
from lrs_platform.maintenance import (
    MaintenanceGate,
    active_windows,
    closure_at,
    overlapping,
    window_chain_end,
)

NINE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return NINE + timedelta(hours=hours)


def window(start: float, end: float, reason: str = "database upgrade") -> MaintenanceWindow:
    return MaintenanceWindow(window_id=uuid.uuid4(), starts_at=at(start), ends_at=at(end), reason=reason)


SCHEDULE = uuid.uuid4()


def schedule(
    *windows: MaintenanceWindow, pause: str | None = None, version: int = 1, schedule_id: uuid.UUID = SCHEDULE
) -> MaintenanceScheduleChanged:
    return MaintenanceScheduleChanged(
        schedule_id=schedule_id,
        version=version,
        windows=windows,
        pause=MaintenancePause(since=at(0), reason=pause) if pause else None,
    )


def test_a_window_is_open_from_its_start_until_just_before_its_end() -> None:
    planned = window(1, 3)
    assert active_windows([planned], at(0.99)) == []
    assert active_windows([planned], at(1)) == [planned]
    assert active_windows([planned], at(2.99)) == [planned]
    assert active_windows([planned], at(3)) == []


def test_overlapping_and_touching_windows_end_together() -> None:
    first, second, touching, later = window(1, 3), window(2, 5), window(5, 6), window(7, 8)
    windows = [later, touching, second, first]
    assert window_chain_end(windows, at(1.5)) == at(6)
    assert window_chain_end(windows, at(5.5)) == at(6)
    assert window_chain_end(windows, at(6.5)) is None
    assert window_chain_end(windows, at(7)) == at(8)


def test_the_windows_sharing_a_moment_with_a_new_one_are_found() -> None:
    first, second = window(1, 3), window(4, 5)
    assert overlapping([second, first], at(2), at(4.5)) == [first, second]
    assert overlapping([first, second], at(3), at(4)) == []


def test_closed_during_a_window_until_its_chain_ends_with_its_reason() -> None:
    closure = closure_at(schedule(window(1, 3, "reference data reload"), window(2, 4)), at(1.5))
    assert closure is not None
    assert (closure.reason, closure.until, closure.paused) == ("reference data reload", at(4), False)
    assert closure.message == "will be processed after 2026-06-01T13:00:00Z"
    assert closure_at(schedule(window(1, 3)), at(3)) is None
    assert closure_at(None, at(1)) is None


def test_an_unplanned_pause_closes_until_an_operator_resumes_even_outside_windows() -> None:
    closure = closure_at(schedule(window(5, 6), pause="broker incident"), at(1))
    assert closure is not None
    assert (closure.reason, closure.until, closure.paused) == ("broker incident", None, True)
    assert "resumes" in closure.message


class FakeConsumer:
    """Enough of AIOKafkaConsumer for the hold: its partitions, pause/resume/seek, and a poll that lets
    time pass (each poll moves the test's clock on by `step`) and may hand back stray records."""

    def __init__(self, clock: list[datetime], step: timedelta, strays: dict[TopicPartition, list[Any]]) -> None:
        self.partitions = {TopicPartition("lrs.batch.submitted.v1", number) for number in range(3)}
        self.paused_partitions: set[TopicPartition] = set()
        self.polls = 0
        self.seeks: list[tuple[TopicPartition, int]] = []
        self._clock = clock
        self._step = step
        self._strays = strays

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused_partitions.update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused_partitions.difference_update(partitions)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        assert self.paused_partitions == self.partitions, "polled while a partition was not paused"
        self.polls += 1
        self._clock[0] += self._step
        strays, self._strays = self._strays, {}
        return strays


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def gate_at(now: list[datetime], *windows: MaintenanceWindow, pause: str | None = None) -> MaintenanceGate:
    gate = MaintenanceGate("unused:9092", "lrs.operations.maintenance.v1", "tests", clock=lambda: now[0])
    gate.apply(schedule(*windows, pause=pause))
    gate.caught_up.set()
    return gate


async def test_outside_a_window_the_hold_returns_at_once_without_polling() -> None:
    now = [at(0)]
    gate = gate_at(now, window(1, 2))
    consumer = FakeConsumer(now, timedelta(minutes=10), {})
    await gate.hold(consumer)
    assert consumer.polls == 0
    assert gate.describe() is None


async def test_during_a_window_the_hold_polls_paused_until_the_end_then_resumes_every_partition() -> None:
    now = [at(1)]
    gate = gate_at(now, window(1, 2, "database upgrade"))
    consumer = FakeConsumer(now, timedelta(minutes=25), {})
    assert gate.describe() == "paused for maintenance until 2026-06-01T11:00:00Z (database upgrade)"

    await gate.hold(consumer)

    assert now[0] >= at(2)
    assert consumer.polls == 3  # 1:25, 1:50, 2:15: held until the window's end, no longer
    assert consumer.paused_partitions == set()
    assert not gate.holding


async def test_records_of_a_partition_assigned_during_the_hold_are_sent_back_not_lost() -> None:
    now = [at(1)]
    gate = gate_at(now, window(1, 1.5))
    stray = TopicPartition("lrs.batch.submitted.v1", 2)
    consumer = FakeConsumer(now, timedelta(minutes=20), {stray: [Record(41), Record(42)]})

    await gate.hold(consumer)

    assert consumer.seeks == [(stray, 41)]


async def test_an_older_schedule_arriving_late_changes_nothing() -> None:
    now = [at(1)]
    gate = gate_at(now)
    gate.apply(schedule(pause="incident", version=3))
    gate.apply(schedule(version=2))
    closure = gate.closure()
    assert closure is not None and closure.paused


async def test_a_schedule_from_a_new_ingest_database_replaces_the_old_one_whatever_its_version() -> None:
    now = [at(1)]
    gate = gate_at(now)
    gate.apply(schedule(pause="incident", version=7))
    gate.apply(schedule(version=1, schedule_id=uuid.uuid4()))
    assert gate.closure() is None
