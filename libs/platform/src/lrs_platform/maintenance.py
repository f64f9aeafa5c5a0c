"""Maintenance windows and unplanned pauses: when batches are accepted but not decided.

Ingest keeps the schedule and publishes the whole of it, after every change, on the compacted topic
`lrs.operations.maintenance.v1` (`lrs_contracts.operations`). The pure part here says what a schedule
means at a moment (`closure_at`: closed or not, why, until when); `MaintenanceGate` follows the topic
for a consumer and holds it at a batch boundary while closed (decision 0070):

    gate = MaintenanceGate(settings.kafka_bootstrap_servers, MAINTENANCE.name, "validation.decider")
    tasks.start(gate.follow(), "maintenance-schedule")
    ...
    await gate.hold(consumer)   # before a batch starts: returns at once while open

Holding pauses every partition the consumer has and keeps polling it (nothing comes), so it stays in
its group with its heartbeats and no rebalance follows; at the end the partitions resume where they
were, so each AO's batches go on in their order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Counter, Gauge

from lrs_contracts.dead_letters import error_text
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment
from lrs_contracts.operations import MaintenanceScheduleChanged, MaintenanceWindow
from lrs_contracts.registry import decode
from lrs_contracts.text import with_bidi_controls_shown
from lrs_platform.kafka import make_consumer, stop_within
from lrs_platform.logging import get_logger

_log = get_logger("lrs.maintenance")

PAUSED = Gauge(
    "lrs_consumer_paused_for_maintenance",
    "1 while a consumer that decides batches is paused for a maintenance window or an unplanned pause",
    ["consumer"],
)
SKIPPED = Counter(
    "lrs_consumer_skipped_messages_total",
    "Messages a consumer that parks nothing could not read and passed over (the maintenance schedule's follower:"
    " the newest schedule it could read stays in force), by topic",
    ["consumer", "topic"],
)
HOLDING = Gauge(
    "lrs_consumer_holding_for_maintenance",
    "1 while the paused consumer waits at a batch boundary with batches behind it",
    ["consumer"],
)

Clock = Callable[[], datetime]


def bidi_control_in_reason(reason: str) -> str | None:
    """The first bidirectional control in a maintenance reason ("the bidirectional control U+202E at character 3
    ..."), or None. A reason is text over lines, but every AO reads it (the portal's banner on every page, each held
    batch's answer, `GET /v1/maintenance`): an embedding, override or isolate in it would make its words read in
    another order than they were written, as decision 0138 refuses them in one-line values. Ingest's API and the
    portal's form refuse it; one stored before is shown by its code point (`with_bidi_controls_shown`)."""
    for position, character in enumerate(reason, 1):
        if with_bidi_controls_shown(character) != character:
            return (
                f"the bidirectional control U+{ord(character):04X} at character {position} (a maintenance reason is"
                " shown to every AO as it is written)"
            )
    return None


@dataclass(frozen=True)
class Closure:
    """Batches are not being decided: why, and until when (None: until an operator resumes)."""

    reason: str
    until: datetime | None
    paused: bool
    """An unplanned pause (`lrs maintenance pause`), rather than a planned window."""
    environment: Environment = Environment.LIVE
    """Whose schedule it is: the Sandpit's pauses only the Sandpit, and its notices say so."""

    @property
    def message(self) -> str:
        if self.until is None:
            resumes = "the Sandpit" if self.environment.is_sandpit else "the LRS"
            return f"will be processed when {resumes} resumes after an unplanned pause"
        return f"will be processed after {self.until.isoformat().replace('+00:00', 'Z')}"

    def describe(self) -> str:
        until = "an operator resumes" if self.until is None else self.until.isoformat().replace("+00:00", "Z")
        return f"paused for maintenance until {until} ({self.reason})"


def active_windows(windows: Iterable[MaintenanceWindow], now: datetime) -> list[MaintenanceWindow]:
    """The windows open at `now` (a window includes its start and excludes its end), earliest first."""
    return sorted((window for window in windows if window.starts_at <= now < window.ends_at), key=_start)


def window_chain_end(windows: Iterable[MaintenanceWindow], now: datetime) -> datetime | None:
    """When decisions resume if the windows open at `now` run their course: the end of every window
    that overlaps or touches an open one, transitively. None when none is open."""
    ordered = sorted(windows, key=_start)
    open_now = active_windows(ordered, now)
    if not open_now:
        return None
    end = max(window.ends_at for window in open_now)
    for window in ordered:
        if window.starts_at <= end < window.ends_at:
            end = window.ends_at
    return end


def closure_at(
    schedule: MaintenanceScheduleChanged | None, now: datetime, environment: Environment = Environment.LIVE
) -> Closure | None:
    """Whether batches may be decided at `now` under the schedule of `environment`; None: they may."""
    if schedule is None:
        return None
    if schedule.pause is not None:
        return Closure(schedule.pause.reason, None, paused=True, environment=environment)
    open_now = active_windows(schedule.windows, now)
    if not open_now:
        return None
    return Closure(open_now[0].reason, window_chain_end(schedule.windows, now), paused=False, environment=environment)


def overlapping(
    windows: Iterable[MaintenanceWindow], starts_at: datetime, ends_at: datetime
) -> list[MaintenanceWindow]:
    """The windows that share a moment with [starts_at, ends_at), earliest first."""
    return sorted(
        (window for window in windows if window.starts_at < ends_at and starts_at < window.ends_at), key=_start
    )


def _start(window: MaintenanceWindow) -> datetime:
    return window.starts_at


class MaintenanceGate:
    """The schedule as read from the maintenance topic, and the hold at a batch boundary."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        consumer: str,
        *,
        clock: Clock = utc_now,
        poll_ms: int = 500,
    ) -> None:
        self.consumer = consumer
        self.schedule: MaintenanceScheduleChanged | None = None
        self.holding = False
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._clock = clock
        self._poll_ms = poll_ms
        self.caught_up = asyncio.Event()
        # exported at 0 from the start, so that `increase()` sees the first skip (a series born at 1 increases by
        # nothing) and a dashboard shows "not holding" rather than no data
        SKIPPED.labels(consumer, topic)
        HOLDING.labels(consumer).set(0)

    def apply(self, schedule: MaintenanceScheduleChanged) -> None:
        """Keeps the newest schedule: an older version of the same schedule arriving late changes nothing."""
        current = self.schedule
        if current is None or schedule.schedule_id != current.schedule_id or schedule.version > current.version:
            self.schedule = schedule

    def closure(self) -> Closure | None:
        closure = closure_at(self.schedule, self._clock())
        PAUSED.labels(self.consumer).set(0 if closure is None else 1)
        return closure

    def describe(self) -> str | None:
        """For `/readyz`: what the consumer waits for, if anything."""
        if not self.caught_up.is_set():
            return "reading the maintenance schedule"
        closure = self.closure()
        if closure is None:
            return None
        return closure.describe() + ("; waiting at a batch boundary" if self.holding else "")

    async def follow(self) -> None:
        """Reads the schedule topic from its start, then every change, for as long as the service runs."""
        attempt = 0
        while True:
            consumer = make_consumer(self._bootstrap, group_id=None)
            partition = TopicPartition(self._topic, 0)
            try:
                await consumer.start()
                consumer.assign([partition])
                await consumer.seek_to_beginning(partition)
                end = (await consumer.end_offsets([partition]))[partition]
                if end == 0:
                    self.caught_up.set()
                while True:
                    polled = await consumer.getmany(partition, timeout_ms=1_000)
                    for record in polled.get(partition, ()):
                        self._read(record.value, record.partition, record.offset)
                    if not self.caught_up.is_set() and await consumer.position(partition) >= end:
                        self.caught_up.set()
                    attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                attempt += 1
                _log.warning("maintenance_schedule_unreadable", error=error_text(error))
                await asyncio.sleep(min(10.0, 0.2 * 2**attempt))
            finally:
                with contextlib.suppress(Exception):
                    await stop_within(consumer.stop(), "maintenance schedule consumer")

    def _read(self, value: bytes | None, partition: int, offset: int) -> None:
        """Keeps the schedule a message carries. One that cannot be read is passed over, counted and logged, never
        parked (decision 0030): every replica of every reader reads the topic from its start with no group, so a
        dead letter would be sent by each; and parking holds the message's key, the one key `schedule`, behind it,
        so no later schedule would reach the decider until an operator acted. Passed over, the newest schedule read
        stays in force until the next change, which ingest publishes whole."""
        if value is None:
            return
        try:
            _, payload = decode(value)
        except ValueError as error:
            SKIPPED.labels(self.consumer, self._topic).inc()
            _log.error(
                "maintenance_schedule_undecodable",
                consumer=self.consumer,
                topic=self._topic,
                partition=partition,
                offset=offset,
                error=error_text(error),
            )
            return
        if isinstance(payload, MaintenanceScheduleChanged):
            self.apply(payload)
            _log.info("maintenance_schedule_read", version=payload.version, paused=payload.pause is not None)

    async def hold(self, consumer: AIOKafkaConsumer) -> None:
        """Returns at once while batches may be decided; otherwise waits, partitions paused, until they may.

        Records a poll returns meanwhile (from a partition a rebalance gave the consumer since the last
        pause) are not lost: the partition is sent back to the first of them and paused too.
        """
        if self.caught_up.is_set() and self.closure() is None:
            return
        self.holding = True
        HOLDING.labels(self.consumer).set(1)
        _log.info("consumer_paused_for_maintenance", consumer=self.consumer)
        try:
            while not self.caught_up.is_set() or self.closure() is not None:
                consumer.pause(*consumer.assignment())
                strays = await consumer.getmany(timeout_ms=self._poll_ms)
                for partition, records in strays.items():
                    consumer.seek(partition, records[0].offset)
        finally:
            consumer.resume(*consumer.paused())
            self.holding = False
            HOLDING.labels(self.consumer).set(0)
        _log.info("consumer_resumed_after_maintenance", consumer=self.consumer)
