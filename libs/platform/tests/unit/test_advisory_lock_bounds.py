"""`advisory_locked`'s bounds (the chaos walk, finding 1: a notifier frozen holding an email's lock stopped every
email of the other replica): a lock another session holds is waited for `wait_seconds` at most, and a holder's
session is ended by the server once idle `idle_seconds`, kept busy meanwhile while its process runs. Without
bounds, the statements are today's. Against a connection that records what it is asked (PostgreSQL's own side:
tests/integration/test_advisory_lock_bounds.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from lrs_platform.database import AdvisoryLockBusy, advisory_lock_key, advisory_locked

NAME = "notifier email 5f0e3e4e-0000-4000-8000-000000000001"
LOCK = advisory_lock_key(NAME)
SETTINGS = "SELECT set_config('lock_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $2, true)"


class FakeTransaction:
    def __init__(self, connection: FakeConnection) -> None:
        self._connection = connection

    async def start(self) -> None:
        self._connection.said.append(("BEGIN",))

    async def rollback(self) -> None:
        if self._connection.ended_unread:
            raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")
        if self._connection.closed:
            raise asyncpg.InterfaceError("cannot call Transaction.rollback(): the underlying connection is closed")
        self._connection.said.append(("ROLLBACK",))


class FakeConnection:
    """Records each statement; `busy`: another session holds the lock; `closed`: the server ended the session."""

    def __init__(self, *, busy: bool = False) -> None:
        self.said: list[tuple[Any, ...]] = []
        self.busy = busy
        self.closed = False
        self.ended_unread = False  # the server's end read but not yet taken in (a stuck event loop)
        self.terminated = False
        self.kept_busy = 0  # `SELECT 1`s run
        self.kept_three_times = asyncio.Event()
        self.found_closed = asyncio.Event()

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self)

    def terminate(self) -> None:
        self.terminated = True

    async def execute(self, query: str, *args: Any) -> str:
        if self.closed:
            self.found_closed.set()
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        if query == "SELECT 1":
            self.kept_busy += 1
            if self.kept_busy >= 3:
                self.kept_three_times.set()
            return "SELECT 1"
        self.said.append((query, *args))
        if "pg_advisory_xact_lock" in query and self.busy:
            raise asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout")
        return "SELECT 1"


class FakePool:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.released = False

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        try:
            yield self.connection
        finally:
            self.released = True


async def test_without_bounds_the_lock_is_taken_and_let_go_as_before() -> None:
    connection = FakeConnection()
    async with advisory_locked(FakePool(connection), NAME):
        pass
    assert connection.said == [("SELECT pg_advisory_lock($1)", LOCK), ("SELECT pg_advisory_unlock($1)", LOCK)]


async def test_a_lock_held_elsewhere_for_all_the_wait_is_said_busy_and_its_transaction_rolled_back() -> None:
    connection, ran = FakeConnection(busy=True), False
    pool = FakePool(connection)
    with pytest.raises(AdvisoryLockBusy) as raised:
        async with advisory_locked(pool, NAME, wait_seconds=10.0, idle_seconds=60.0):
            ran = True
    assert not ran
    assert (raised.value.name, raised.value.wait_seconds) == (NAME, 10.0)
    assert connection.said == [
        ("BEGIN",),
        (SETTINGS, "10000", "60000"),
        ("SELECT pg_advisory_xact_lock($1)", LOCK),
        ("ROLLBACK",),
    ]
    assert pool.released


async def test_a_bounded_lock_is_its_transactions_and_ends_with_it() -> None:
    connection = FakeConnection()
    with capture_logs() as logs:
        async with advisory_locked(FakePool(connection), NAME, wait_seconds=0.25, idle_seconds=60.0):
            assert connection.said[-1] == ("SELECT pg_advisory_xact_lock($1)", LOCK)
    assert connection.said == [
        ("BEGIN",),
        (SETTINGS, "250", "60000"),
        ("SELECT pg_advisory_xact_lock($1)", LOCK),
        ("ROLLBACK",),  # the lock and the SET LOCALs end with it: the connection goes back as it came
    ]
    assert logs == []


async def test_a_lock_only_waited_for_is_exempt_from_a_servers_idle_timeout_as_the_unbounded_one() -> None:
    connection = FakeConnection()
    async with advisory_locked(FakePool(connection), NAME, wait_seconds=5.0):
        pass
    assert connection.said[1] == (SETTINGS, "5000", "0")
    assert connection.kept_busy == 0


async def test_the_holders_session_is_kept_busy_while_the_block_runs() -> None:
    """The work is done on other connections: the lock's own would be idle all along, and lose the lock to the idle
    bound in a block merely as long as it (a slow relay's conversation)."""
    connection = FakeConnection()
    async with advisory_locked(FakePool(connection), NAME, wait_seconds=1.0, idle_seconds=0.04):
        await asyncio.wait_for(connection.kept_three_times.wait(), 10)
    assert connection.said[-1] == ("ROLLBACK",)
    # the keeper ended with the block: nothing more is run on the connection, back in the pool
    assert [task for task in asyncio.all_tasks() if _running(task, "_keep_session_busy")] == []


def _running(task: asyncio.Task[Any], function: str) -> bool:
    return getattr(task.get_coro(), "__name__", None) == function


async def test_a_holder_woken_after_the_server_ended_its_session_finishes_its_block_and_says_the_lock_was_lost() -> (
    None
):
    connection = FakeConnection()
    with capture_logs() as logs:
        async with advisory_locked(FakePool(connection), NAME, wait_seconds=1.0, idle_seconds=0.04):
            connection.closed = True  # frozen past the bound: the server ended the session, and its lock with it
            await asyncio.wait_for(connection.found_closed.wait(), 10)
    assert ("ROLLBACK",) not in connection.said
    assert [(log["event"], log["lock"], log["log_level"]) for log in logs] == [("advisory_lock_lost", NAME, "warning")]


async def test_a_session_ended_before_the_keeper_noticed_is_said_lost_too() -> None:
    connection = FakeConnection()
    with capture_logs() as logs:
        async with advisory_locked(FakePool(connection), NAME, idle_seconds=600.0):
            connection.closed = True
    assert [log["event"] for log in logs] == ["advisory_lock_lost"]


async def test_a_holder_whose_loop_was_stuck_past_the_bound_says_the_lock_lost_and_lets_the_connection_go() -> None:
    """The server's end of the session read but not taken in yet (the holder's event loop stuck past the bound): the
    rollback fails with asyncpg's InternalClientError, which escaped the block (review of the day, finding 5)."""
    connection = FakeConnection()
    with capture_logs() as logs:
        async with advisory_locked(FakePool(connection), NAME, idle_seconds=600.0):
            connection.ended_unread = True
    assert connection.terminated
    assert [log["event"] for log in logs] == ["advisory_lock_lost"]


async def test_a_block_that_raises_lets_the_lock_go_and_raises() -> None:
    connection = FakeConnection()

    async def failing() -> None:
        async with advisory_locked(FakePool(connection), NAME, wait_seconds=1.0, idle_seconds=0.04):
            await asyncio.wait_for(connection.kept_three_times.wait(), 10)
            raise RuntimeError("the relay")

    with pytest.raises(RuntimeError, match="the relay"):
        await failing()
    assert connection.said[-1] == ("ROLLBACK",)
