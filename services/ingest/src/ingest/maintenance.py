"""The maintenance schedule ingest keeps (decision 0070): planned windows and unplanned pauses, who set
them and when, and the announcement of the whole schedule on `lrs.operations.maintenance.v1` after
every change, from which the decider learns when to hold (`lrs_platform.maintenance`).

Ingest itself never stops accepting: during a window a submission is answered 202 as always, and the
batch view says `queued` with when it will be processed (`notice_for`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
from aiokafka import TopicPartition
from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict, Field

from ingest.publisher import PublishUnavailable, TransactionalPublisher
from ingest.submission import BatchStatus
from ingest.views import BatchAccepted, BatchView, MaintenanceNotice
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment
from lrs_contracts.operations import (
    MAINTENANCE_KEY,
    MaintenancePause,
    MaintenanceScheduleChanged,
    MaintenanceWindow,
)
from lrs_contracts.registry import decode, encode, wrap
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.kafka import make_consumer, stop_within
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import Closure, closure_at

_log = get_logger("ingest.maintenance")

View = TypeVar("View", BatchAccepted, BatchView)

# Held batches wait on lrs.batch.submitted.v1, which is kept 7 days: a window must end well before.
LONGEST_WINDOW = timedelta(hours=48)
# Maintenance is planned weeks or months ahead, and every window not yet over goes out with each schedule
# announcement: a start more than a year away is a mistyped year. The bound also keeps every instant a
# window can have (from 48 hours ago to this bound and 48 hours more) storable as a timestamptz.
FURTHEST_START = timedelta(days=366)
# A start this far back is a clock's or a typist's moment ago ("from now"); further back, the audit would say
# batches were held from a time they were not, and a mistyped date would start holding at once
LATEST_START_BEHIND = timedelta(minutes=5)

UNPUBLISHED = Gauge(
    "lrs_ingest_maintenance_schedule_unpublished",
    "1 while a change to the maintenance schedule has not yet reached Kafka (ingest keeps trying)",
)


class MaintenanceError(Exception):
    """A schedule change ingest will not make; the HTTP edge (`ingest.maintenance_api`) says what each means."""


class InvalidWindow(MaintenanceError):
    """The window ends before it starts, is already over, is longer than `LONGEST_WINDOW`, or starts
    further than `FURTHEST_START` from now."""


class UnknownWindow(MaintenanceError):
    """No window has this id."""


def _instant_said(moment: datetime) -> str:
    """`2026-12-07T09:01:34Z`: an instant in a refusal's detail, in UTC to the second (the portal says it in UK
    time)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class WindowAlreadyClosed(MaintenanceError):
    """The window was cancelled or is over: there is nothing to cancel. `record`: the window as it is, so that a
    cancel sent again (a retry after a lost answer, a second click, a second operator) is told who cancelled it and
    when, or when it ended."""

    def __init__(self, record: WindowRecord) -> None:
        window_id = record.window.window_id
        if record.cancelled_at is not None:
            said = (
                f"maintenance window {window_id} was cancelled already, by {record.cancelled_by} at"
                f" {_instant_said(record.cancelled_at)}"
            )
        else:
            said = f"maintenance window {window_id} is over: it ended at {_instant_said(record.window.ends_at)}"
        super().__init__(f"{said}; nothing was changed")
        self.record = record


class AlreadyPaused(MaintenanceError):
    """An unplanned pause is already on. `pause`: that pause, so that a pause sent again is told who paused and
    when, and for what reason (another reason than the one sent is still a conflict: AOs read the pause's own)."""

    def __init__(self, pause: PauseRecord) -> None:
        super().__init__(
            f"the LRS is paused already, by {pause.paused_by} at {_instant_said(pause.paused_at)}, with the reason:"
            f" {pause.reason}"
        )
        self.pause = pause


class NotPaused(MaintenanceError):
    """There is no unplanned pause to resume from. `last`: the latest pause, resumed (None when there was none), so
    that a resume sent again is told who resumed and when."""

    def __init__(self, last: PauseRecord | None) -> None:
        said = "the LRS is not paused"
        if last is not None and last.resumed_at is not None:
            said += f": the last pause was resumed by {last.resumed_by} at {_instant_said(last.resumed_at)}"
        super().__init__(said)
        self.last = last


class WindowRecord(BaseModel):
    """A window with its audit: who scheduled it and when, and who cancelled it and when."""

    model_config = ConfigDict(frozen=True)

    window: MaintenanceWindow
    scheduled_by: str
    scheduled_with_key: str | None = Field(
        default=None, description="the id of the API key it was scheduled with (null before keys were kept)"
    )
    scheduled_at: datetime
    cancelled_by: str | None
    cancelled_with_key: str | None = Field(default=None, description="the id of the API key it was cancelled with")
    cancelled_at: datetime | None


class PauseRecord(BaseModel):
    """An unplanned pause with its audit: who paused and when, who resumed and when."""

    model_config = ConfigDict(frozen=True)
    pause_id: int
    reason: str
    paused_by: str
    paused_with_key: str | None = Field(
        default=None, description="the id of the API key it was paused with (null before keys were kept)"
    )
    paused_at: datetime
    resumed_by: str | None
    resumed_with_key: str | None = Field(default=None, description="the id of the API key it was resumed with")
    resumed_at: datetime | None


_WINDOW_COLUMNS = (
    "window_id, starts_at, ends_at, reason, scheduled_by, scheduled_with_key, scheduled_at, cancelled_by,"
    " cancelled_with_key, cancelled_at"
)
_PAUSE_COLUMNS = "pause_id, reason, paused_by, paused_with_key, paused_at, resumed_by, resumed_with_key, resumed_at"


def _window(row: asyncpg.Record) -> WindowRecord:
    return WindowRecord(
        window=MaintenanceWindow(
            window_id=row["window_id"], starts_at=row["starts_at"], ends_at=row["ends_at"], reason=row["reason"]
        ),
        scheduled_by=row["scheduled_by"],
        scheduled_with_key=row["scheduled_with_key"],
        scheduled_at=row["scheduled_at"],
        cancelled_by=row["cancelled_by"],
        cancelled_with_key=row["cancelled_with_key"],
        cancelled_at=row["cancelled_at"],
    )


def _pause(row: asyncpg.Record) -> PauseRecord:
    return PauseRecord(**dict(row))


class MaintenanceStore:
    """PostgreSQL: the windows and pauses, and the schedule as of a moment."""

    def __init__(
        self, pool: asyncpg.Pool, *, environment: Environment = Environment.LIVE, remember_for: float = 1.0
    ) -> None:
        self._pool = pool
        self._environment = environment  # the Sandpit's notices say the Sandpit resumes
        self._remember_for = remember_for
        self._remembered: tuple[float, MaintenanceScheduleChanged | None] | None = None

    async def schedule(self) -> MaintenanceScheduleChanged | None:
        """The current schedule (None before the first change): waits for a change being made to
        commit, so that what it returns is complete for its version."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT FROM ingest.maintenance_version FOR SHARE")
            return await _schedule(connection)

    async def current(self) -> MaintenanceScheduleChanged | None:
        """The schedule for answers to callers. Every submission, batch view and portal page asks, so it
        is read at most once a `remember_for` (a change made here is seen at once; one made by another
        ingest instance within that time)."""
        remembered = self._remembered
        if remembered is None or time.monotonic() - remembered[0] > self._remember_for:
            async with self._pool.acquire() as connection:
                current = await _schedule(connection)
            remembered = self._remembered = (time.monotonic(), current)
        return remembered[1]

    async def closure(self) -> Closure | None:
        """Whether batches wait now: the schedule judged against the clock."""
        return closure_at(await self.current(), utc_now(), self._environment)

    async def add_window(
        self, starts_at: datetime, ends_at: datetime, reason: str, by: str, with_key: str | None = None
    ) -> tuple[WindowRecord, bool]:
        """The window, and whether it is new: one with the same start, end and reason, neither cancelled nor
        over, is the one asked for again (a form sent twice, a retried request), not a second window. It is answered
        whatever the rules for a new window now say (a repeat sent once the window is more than 5 minutes under way
        names a window in force, not one starting in the past): they are judged only for a new one."""
        now = utc_now()
        if not _may_be_in_force(starts_at, ends_at, now):
            check_window(starts_at, ends_at, now)  # no window in force has such instants: refused before any query
        async with self._pool.acquire() as connection, connection.transaction():
            # the schedule's lock, so that two such requests at once do not both insert
            await connection.execute("SELECT version FROM ingest.maintenance_version FOR UPDATE")
            same = await connection.fetchrow(
                f"SELECT {_WINDOW_COLUMNS} FROM ingest.maintenance_windows WHERE starts_at = $1 AND ends_at = $2"
                " AND reason = $3 AND cancelled_at IS NULL AND ends_at > now()",
                starts_at,
                ends_at,
                reason,
            )
            if same is not None:
                return _window(same), False
            check_window(starts_at, ends_at, utc_now())
            scheduled = await connection.fetch(
                "SELECT starts_at, ends_at FROM ingest.maintenance_windows WHERE cancelled_at IS NULL AND ends_at > now()"
            )
            check_hold(starts_at, ends_at, [(row["starts_at"], row["ends_at"]) for row in scheduled])
            await _next_version(connection)
            row = await connection.fetchrow(
                "INSERT INTO ingest.maintenance_windows"
                " (window_id, starts_at, ends_at, reason, scheduled_by, scheduled_with_key)"
                f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_WINDOW_COLUMNS}",
                uuid.uuid4(),
                starts_at,
                ends_at,
                reason,
                by,
                with_key,
            )
        self._remembered = None  # after the commit: a read in between must not be remembered
        return _window(row), True

    async def cancel_window(self, window_id: uuid.UUID, by: str, with_key: str | None = None) -> WindowRecord:
        """A window not begun is dropped; one under way ends now."""
        async with self._pool.acquire() as connection, connection.transaction():
            await _next_version(connection)
            row = await connection.fetchrow(
                f"SELECT {_WINDOW_COLUMNS} FROM ingest.maintenance_windows WHERE window_id = $1 FOR UPDATE", window_id
            )
            if row is None:
                raise UnknownWindow(f"there is no maintenance window {window_id}")
            if row["cancelled_at"] is not None or row["ends_at"] <= utc_now():
                raise WindowAlreadyClosed(_window(row))
            row = await connection.fetchrow(
                "UPDATE ingest.maintenance_windows SET cancelled_by = $2, cancelled_with_key = $3, cancelled_at = now()"
                f" WHERE window_id = $1 RETURNING {_WINDOW_COLUMNS}",
                window_id,
                by,
                with_key,
            )
        self._remembered = None  # after the commit: a read in between must not be remembered
        return _window(row)

    async def pause(self, reason: str, by: str, with_key: str | None = None) -> PauseRecord:
        async with self._pool.acquire() as connection, connection.transaction():
            await _next_version(connection)
            on = await connection.fetchrow(
                f"SELECT {_PAUSE_COLUMNS} FROM ingest.maintenance_pauses WHERE resumed_at IS NULL"
                " ORDER BY paused_at DESC LIMIT 1"
            )
            if on is not None:
                raise AlreadyPaused(_pause(on))
            row = await connection.fetchrow(
                "INSERT INTO ingest.maintenance_pauses (reason, paused_by, paused_with_key) VALUES ($1, $2, $3)"
                f" RETURNING {_PAUSE_COLUMNS}",
                reason,
                by,
                with_key,
            )
        self._remembered = None
        return _pause(row)

    async def resume(self, by: str, with_key: str | None = None) -> PauseRecord:
        async with self._pool.acquire() as connection, connection.transaction():
            await _next_version(connection)
            row = await connection.fetchrow(
                "UPDATE ingest.maintenance_pauses SET resumed_by = $1, resumed_with_key = $2, resumed_at = now()"
                f" WHERE resumed_at IS NULL RETURNING {_PAUSE_COLUMNS}",
                by,
                with_key,
            )
            if row is None:
                last = await connection.fetchrow(
                    f"SELECT {_PAUSE_COLUMNS} FROM ingest.maintenance_pauses"
                    " ORDER BY paused_at DESC, pause_id DESC LIMIT 1"
                )
                raise NotPaused(_pause(last) if last is not None else None)
        self._remembered = None
        return _pause(row)

    async def past_what_readers_hold(self, on_topic: Sequence[MaintenanceScheduleChanged]) -> bool:
        """Makes the stored schedule one the topic's readers will take, given the schedules `on_topic` (in its order):
        True when it had to. A database restored to an earlier point has the schedule_id they know with a lower
        version than theirs; they keep the highest version of a schedule_id (`MaintenanceGate.apply`), so they would
        ignore the restored schedule and the next changes, which number again the versions the restore lost. Then
        the schedule is given a new schedule_id, which readers take whatever its version, and a version of its own
        (the schedule as restored, announced anew). The same version with other windows or pause is such a loss too
        (a change made here before the topic was read took the lost change's number); with the same ones, readers
        already hold this schedule."""
        async with self._pool.acquire() as connection, connection.transaction():
            state = await connection.fetchrow("SELECT schedule_id, version FROM ingest.maintenance_version FOR UPDATE")
            theirs = [schedule for schedule in on_topic if schedule.schedule_id == state["schedule_id"]]
            if not theirs:
                return False  # none of this schedule on the topic (a first start, a new one): they take ours
            newest = max(theirs, key=lambda schedule: schedule.version)
            if newest.version < state["version"]:
                return False
            if newest.version == state["version"] and _holds(newest) == _holds(await _schedule(connection)):
                return False
            schedule_id = uuid.uuid4()
            await connection.execute(
                "UPDATE ingest.maintenance_version SET schedule_id = $1, version = version + 1", schedule_id
            )
        self._remembered = None
        _log.warning(
            "maintenance_schedule_behind_the_topic",
            stored_version=state["version"],
            topic_version=newest.version,
            schedule_id=str(schedule_id),
            reason="the database was restored to an earlier point: the schedule is announced under a new schedule_id",
        )
        return True

    async def history(self, limit: int) -> tuple[list[WindowRecord], list[PauseRecord]]:
        """The latest `limit` windows and the latest `limit` pauses, each with its audit, newest first."""
        async with self._pool.acquire() as connection:
            windows = await connection.fetch(
                f"SELECT {_WINDOW_COLUMNS} FROM ingest.maintenance_windows ORDER BY starts_at DESC LIMIT $1", limit
            )
            pauses = await connection.fetch(
                f"SELECT {_PAUSE_COLUMNS} FROM ingest.maintenance_pauses ORDER BY paused_at DESC LIMIT $1", limit
            )
        return [_window(row) for row in windows], [_pause(row) for row in pauses]


def check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """Raises InvalidWindow unless a window from `starts_at` to `ends_at` may be scheduled at `now`. It
    compares and subtracts instants, never converts one: near year 1 or 9999 an instant may have no UTC form."""
    if ends_at <= starts_at:
        raise InvalidWindow("a window must end after it starts")
    if ends_at <= now:
        raise InvalidWindow("the window would already be over")
    if now - starts_at > LATEST_START_BEHIND:
        raise InvalidWindow(
            "a window cannot start in the past: start it now or later (for a hold already begun, pause the LRS:"
            " lrs maintenance pause)"
        )
    if ends_at - starts_at > LONGEST_WINDOW:
        raise InvalidWindow("a window lasts at most 48 hours: the batches it holds wait on a topic kept for 7 days")
    if starts_at - now > FURTHEST_START:
        raise InvalidWindow("a window starts at most 366 days from now: schedule it nearer the time")


def _may_be_in_force(starts_at: datetime, ends_at: datetime, now: datetime) -> bool:
    """Whether a window neither cancelled nor over may have these instants: scheduled by the rules (`check_window`),
    it lasts at most 48 hours, ends after now and starts at most 366 days from now. Others are not looked up (near
    year 1 or 9999 an instant may have no UTC form for PostgreSQL), only refused."""
    return (
        starts_at < ends_at
        and ends_at > now
        and ends_at - starts_at <= LONGEST_WINDOW
        and starts_at - now <= FURTHEST_START
    )


def check_hold(starts_at: datetime, ends_at: datetime, scheduled: Iterable[tuple[datetime, datetime]]) -> None:
    """Raises InvalidWindow when the window, with the `scheduled` windows it overlaps or touches (transitively),
    would hold batches for longer than `LONGEST_WINDOW` in one go: back-to-back windows hold as one."""
    first, last = starts_at, ends_at
    others, grown = list(scheduled), True
    while grown:  # a window touching one that touches this one holds with it too
        grown = False
        for other_start, other_end in others:
            if other_start <= last and other_end >= first and (other_start < first or other_end > last):
                first, last, grown = min(first, other_start), max(last, other_end), True
    if last - first > LONGEST_WINDOW:
        raise InvalidWindow(
            f"with the windows it overlaps or touches, batches would be held from {_utc(first)} to {_utc(last)},"
            " more than 48 hours in one go: the batches wait on a topic kept for 7 days"
        )


_Holds = tuple[MaintenancePause | None, frozenset[tuple[object, ...]]]


def _holds(schedule: MaintenanceScheduleChanged | None) -> _Holds:
    """What a schedule holds batches by from now on: its pause and its windows not yet over."""
    if schedule is None:
        return None, frozenset()
    now = utc_now()
    windows = frozenset(
        (window.window_id, window.starts_at, window.ends_at, window.reason)
        for window in schedule.windows
        if window.ends_at > now
    )
    return schedule.pause, windows


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _next_version(connection: asyncpg.Connection) -> None:
    await connection.execute("UPDATE ingest.maintenance_version SET version = version + 1")


async def _schedule(connection: asyncpg.Connection) -> MaintenanceScheduleChanged | None:
    """None before the first change."""
    state = await connection.fetchrow("SELECT schedule_id, version FROM ingest.maintenance_version")
    if not state["version"]:
        return None
    rows = await connection.fetch(
        "SELECT window_id, starts_at, ends_at, reason, NULL::timestamptz AS since FROM ingest.maintenance_windows"
        " WHERE cancelled_at IS NULL AND ends_at > now()"
        " UNION ALL"
        " SELECT NULL, NULL, NULL, reason, paused_at FROM ingest.maintenance_pauses WHERE resumed_at IS NULL"
        " ORDER BY starts_at NULLS FIRST"
    )
    windows = tuple(
        MaintenanceWindow(
            window_id=row["window_id"], starts_at=row["starts_at"], ends_at=row["ends_at"], reason=row["reason"]
        )
        for row in rows
        if row["window_id"] is not None
    )
    pause = next(
        (MaintenancePause(since=row["since"], reason=row["reason"]) for row in rows if row["window_id"] is None), None
    )
    return MaintenanceScheduleChanged(
        schedule_id=state["schedule_id"], version=state["version"], windows=windows, pause=pause
    )


def _named(schedule: MaintenanceScheduleChanged) -> tuple[uuid.UUID, int]:
    return schedule.schedule_id, schedule.version


ScheduleReader = Callable[[], Awaitable[list[MaintenanceScheduleChanged]]]


async def schedules_on_topic(bootstrap_servers: str, topic: str) -> list[MaintenanceScheduleChanged]:
    """The schedules on the maintenance topic, in its order, as a reader reads them from its start (the compacted
    topic keeps at least the last one sent). A topic not made yet holds none; an unreadable message is passed over,
    as readers pass it over."""
    consumer = make_consumer(bootstrap_servers, group_id=None)
    partition = TopicPartition(topic, 0)
    try:
        await consumer.start()
        if topic not in await consumer.topics():
            return []
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        found: list[MaintenanceScheduleChanged] = []
        while await consumer.position(partition) < end:
            polled = await consumer.getmany(partition, timeout_ms=1_000)
            for record in polled.get(partition, ()):
                try:
                    _, payload = decode(record.value) if record.value is not None else (None, None)
                except ValueError:
                    continue
                if isinstance(payload, MaintenanceScheduleChanged):
                    found.append(payload)
        return found
    finally:
        await stop_within(consumer.stop(), "maintenance schedule reader")


class MaintenanceAnnouncer:
    """Publishes the whole schedule after each change, at start-up, and again until Kafka has taken it. Before its
    first send it reads what the topic holds (`read_topic`): after a restore of ingest's database to an earlier point
    the stored schedule is behind what the readers hold, and is moved past it (`past_what_readers_hold`)."""

    def __init__(
        self,
        store: MaintenanceStore,
        publisher: TransactionalPublisher,
        topic: str,
        *,
        read_topic: ScheduleReader | None = None,
        read_within: float = 30.0,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic
        self._again = asyncio.Event()
        self._read_topic = read_topic
        self._read_within = read_within
        self._topic_read = read_topic is None

    async def announce(self) -> bool:
        """True once the current schedule is on the topic; False leaves it to `run` to try again.

        The topic is compacted on one key, so it keeps the last schedule sent, not the highest version:
        another instance may send a newer one while this one's older send is still on its way. So after
        each send the schedule is read again, and sent again while a newer one was stored meanwhile: the
        last send of every instance is the schedule as it then stood."""
        if not await self._behind_the_topic_checked():
            return False
        sent: tuple[uuid.UUID, int] | None = None
        while (schedule := await self._store.schedule()) is not None and _named(schedule) != sent:
            envelope = wrap(schedule, source="ingest", correlation_id=f"maintenance-{schedule.version}")
            try:
                await self._publisher.publish(self._topic, MAINTENANCE_KEY, [encode(envelope)])
            except PublishUnavailable as error:
                UNPUBLISHED.set(1)
                _log.warning("maintenance_schedule_unpublished", version=schedule.version, error=str(error))
                self._again.set()
                return False
            UNPUBLISHED.set(0)
            _log.info("maintenance_schedule_published", version=schedule.version, windows=len(schedule.windows))
            sent = _named(schedule)
        return True

    async def _behind_the_topic_checked(self) -> bool:
        """Once, before this instance's first send (a change made meanwhile included): the stored schedule moved past
        the topic's if a restore left it behind. False while the topic cannot be read (`run` tries again)."""
        if self._topic_read or self._read_topic is None:
            return True
        try:
            on_topic = await asyncio.wait_for(self._read_topic(), self._read_within)
        except Exception as error:  # Kafka away: nothing is sent before the topic is read
            UNPUBLISHED.set(1)
            _log.warning("maintenance_schedule_topic_unreadable", error=type(error).__name__)
            self._again.set()
            return False
        await self._store.past_what_readers_hold(on_topic)
        self._topic_read = True
        return True

    async def run(self, retry_every: float = 5.0) -> None:
        """From start-up: the schedule as stored (a change made while Kafka was away, or by an instance that
        died before publishing, reaches the consumers), then every failed announcement again."""
        self._again.set()
        while True:
            await self._again.wait()
            self._again.clear()
            if not await self._announced_or_unavailable():
                await asyncio.sleep(retry_every)

    async def _announced_or_unavailable(self) -> bool:
        try:
            return await self.announce()
        except Exception as error:  # PostgreSQL away (a connection dropped mid-query too): tried again
            if classify_failure(error) is not Failure.TRANSIENT:
                raise
            _log.warning("maintenance_schedule_unreadable", error=type(error).__name__)
            self._again.set()
            return False


def status_shown(closure: Closure | None, status: BatchStatus) -> BatchStatus:
    """A stored state as every view of the batch shows it: an accepted batch is `queued` while batches wait."""
    return BatchStatus.QUEUED if closure is not None and status is BatchStatus.ACCEPTED else status


def notice_for(closure: Closure | None, view: View) -> View:
    """A batch view (or submission answer) as seen while batches wait: an accepted batch is `queued`,
    with a `maintenance` notice saying when it will be processed."""
    if closure is None or status_shown(closure, view.status) is view.status:
        return view
    return view.model_copy(update={"status": BatchStatus.QUEUED, "maintenance": maintenance_notice(closure)})


def maintenance_notice(closure: Closure) -> MaintenanceNotice:
    """What a held batch's answer says of the hold (and the queue limit's 429 while one is on, decision 0171)."""
    return MaintenanceNotice(reason=closure.reason, until=closure.until, paused=closure.paused, message=closure.message)
