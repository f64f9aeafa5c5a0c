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
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict

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
from lrs_contracts.registry import encode, wrap
from lrs_platform.consumer import Failure, classify_failure
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


class WindowAlreadyClosed(MaintenanceError):
    """The window was cancelled or is over: there is nothing to cancel."""


class AlreadyPaused(MaintenanceError):
    """An unplanned pause is already on."""


class NotPaused(MaintenanceError):
    """There is no unplanned pause to resume from."""


class WindowRecord(BaseModel):
    """A window with its audit: who scheduled it and when, and who cancelled it and when."""

    model_config = ConfigDict(frozen=True)

    window: MaintenanceWindow
    scheduled_by: str
    scheduled_at: datetime
    cancelled_by: str | None
    cancelled_at: datetime | None


class PauseRecord(BaseModel):
    """An unplanned pause with its audit: who paused and when, who resumed and when."""

    model_config = ConfigDict(frozen=True)
    pause_id: int
    reason: str
    paused_by: str
    paused_at: datetime
    resumed_by: str | None
    resumed_at: datetime | None


_WINDOW_COLUMNS = "window_id, starts_at, ends_at, reason, scheduled_by, scheduled_at, cancelled_by, cancelled_at"
_PAUSE_COLUMNS = "pause_id, reason, paused_by, paused_at, resumed_by, resumed_at"


def _window(row: asyncpg.Record) -> WindowRecord:
    return WindowRecord(
        window=MaintenanceWindow(
            window_id=row["window_id"], starts_at=row["starts_at"], ends_at=row["ends_at"], reason=row["reason"]
        ),
        scheduled_by=row["scheduled_by"],
        scheduled_at=row["scheduled_at"],
        cancelled_by=row["cancelled_by"],
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
        self, starts_at: datetime, ends_at: datetime, reason: str, by: str
    ) -> tuple[WindowRecord, bool]:
        """The window, and whether it is new: one with the same start, end and reason, neither cancelled nor
        over, is the one asked for again (a form sent twice, a retried request), not a second window."""
        check_window(starts_at, ends_at, utc_now())
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
            scheduled = await connection.fetch(
                "SELECT starts_at, ends_at FROM ingest.maintenance_windows WHERE cancelled_at IS NULL AND ends_at > now()"
            )
            check_hold(starts_at, ends_at, [(row["starts_at"], row["ends_at"]) for row in scheduled])
            await _next_version(connection)
            row = await connection.fetchrow(
                "INSERT INTO ingest.maintenance_windows (window_id, starts_at, ends_at, reason, scheduled_by)"
                f" VALUES ($1, $2, $3, $4, $5) RETURNING {_WINDOW_COLUMNS}",
                uuid.uuid4(),
                starts_at,
                ends_at,
                reason,
                by,
            )
        self._remembered = None  # after the commit: a read in between must not be remembered
        return _window(row), True

    async def cancel_window(self, window_id: uuid.UUID, by: str) -> WindowRecord:
        """A window not begun is dropped; one under way ends now."""
        async with self._pool.acquire() as connection, connection.transaction():
            await _next_version(connection)
            row = await connection.fetchrow(
                f"SELECT {_WINDOW_COLUMNS} FROM ingest.maintenance_windows WHERE window_id = $1 FOR UPDATE", window_id
            )
            if row is None:
                raise UnknownWindow(f"there is no maintenance window {window_id}")
            if row["cancelled_at"] is not None or row["ends_at"] <= utc_now():
                raise WindowAlreadyClosed(f"maintenance window {window_id} was cancelled or is over")
            row = await connection.fetchrow(
                "UPDATE ingest.maintenance_windows SET cancelled_by = $2, cancelled_at = now() WHERE window_id = $1"
                f" RETURNING {_WINDOW_COLUMNS}",
                window_id,
                by,
            )
        self._remembered = None  # after the commit: a read in between must not be remembered
        return _window(row)

    async def pause(self, reason: str, by: str) -> PauseRecord:
        async with self._pool.acquire() as connection, connection.transaction():
            await _next_version(connection)
            if await connection.fetchval("SELECT count(*) FROM ingest.maintenance_pauses WHERE resumed_at IS NULL"):
                raise AlreadyPaused("the LRS is already paused: resume it first")
            row = await connection.fetchrow(
                f"INSERT INTO ingest.maintenance_pauses (reason, paused_by) VALUES ($1, $2) RETURNING {_PAUSE_COLUMNS}",
                reason,
                by,
            )
        self._remembered = None
        return _pause(row)

    async def resume(self, by: str) -> PauseRecord:
        async with self._pool.acquire() as connection, connection.transaction():
            await _next_version(connection)
            row = await connection.fetchrow(
                "UPDATE ingest.maintenance_pauses SET resumed_by = $1, resumed_at = now() WHERE resumed_at IS NULL"
                f" RETURNING {_PAUSE_COLUMNS}",
                by,
            )
            if row is None:
                raise NotPaused("the LRS is not paused")
        self._remembered = None
        return _pause(row)

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


class MaintenanceAnnouncer:
    """Publishes the whole schedule after each change, at start-up, and again until Kafka has taken it."""

    def __init__(self, store: MaintenanceStore, publisher: TransactionalPublisher, topic: str) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic
        self._again = asyncio.Event()

    async def announce(self) -> bool:
        """True once the current schedule is on the topic; False leaves it to `run` to try again.

        The topic is compacted on one key, so it keeps the last schedule sent, not the highest version:
        another instance may send a newer one while this one's older send is still on its way. So after
        each send the schedule is read again, and sent again while a newer one was stored meanwhile: the
        last send of every instance is the schedule as it then stood."""
        sent_version: int | None = None
        while (schedule := await self._store.schedule()) is not None and schedule.version != sent_version:
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
            sent_version = schedule.version
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
    notice = MaintenanceNotice(
        reason=closure.reason, until=closure.until, paused=closure.paused, message=closure.message
    )
    return view.model_copy(update={"status": BatchStatus.QUEUED, "maintenance": notice})
