"""PostgreSQL: one pool per service, and versioned SQL migrations applied at start-up.

Each service keeps its tables in its own schema. Migrations are files `NNNN_description.sql` in the
service's `migrations/` package folder, applied in order, once, under an advisory lock so that two
instances starting together do not race.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg
import structlog
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LARGEST_BIGINT = 2**63 - 1
"""The largest id a `bigint` column holds: a bound for ids taken from a request."""

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_log = structlog.get_logger("lrs.database")

MIGRATION_LOCK_TIMEOUT_MS = 5_000
"""How long a migration waits for a lock (`lock_timeout`). The old replicas keep serving while the new ones
migrate: an `ALTER TABLE` queued behind one of their long transactions would hold every later query on the table
behind it for as long as that transaction lasts. Given up after this, the file is tried again later."""

MIGRATION_LOCK_PAUSE_SECONDS = 5.0
"""Between two tries of a migration that could not take its locks: the queries queued meanwhile go through."""

MIGRATION_LOCK_PATIENCE_SECONDS = 20 * 60.0
"""How long a migration is tried again before the service gives up: within the 30 minutes a pod is given to start
(the startupProbe's budget, deploy/k8s/base/kustomization.yaml)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationChanged(RuntimeError):
    """An applied migration's file was edited afterwards: write a new migration instead."""


class MigrationBlocked(RuntimeError):
    """A migration could not take its locks in all its tries: a transaction held them all along."""


def migrations_in(package: str) -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def advisory_lock_key(name: str) -> int:
    """The key of PostgreSQL's advisory lock named `name`: the first eight bytes of its SHA-256, signed (a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLockBusy(Exception):
    """Another session held the advisory lock for all of the wait `advisory_locked` was given."""

    def __init__(self, name: str, wait_seconds: float) -> None:
        super().__init__(f"the lock {name!r} was held by another session for all of {wait_seconds:g} s")
        self.name = name
        self.wait_seconds = wait_seconds


@asynccontextmanager
async def advisory_locked(
    pool: asyncpg.Pool, name: str, *, wait_seconds: float | None = None, idle_seconds: float | None = None
) -> AsyncIterator[None]:
    """Holds the advisory lock named `name` (waiting for it) on a connection of its own until the block ends: work
    that every replica of a service may start, done by one at a time. A replica that dies holding it lets it go with
    its connection.

    Without bounds, the lock is waited for as long as another session holds it, and held for as long as the block
    lasts. A replica that is frozen rather than dead (SIGSTOP, a cgroup freeze, a VM or host stall) keeps its
    session: its kernel still answers the TCP keepalives (`SERVICE_SESSION_SETTINGS`), so its lock is held for as
    long as the freeze lasts, and every replica that comes to the lock waits as long, whatever else it has to do
    (the chaos walk: a notifier frozen mid-email stopped every email of the other replica).

    `wait_seconds`: the lock is waited for that long at most (PostgreSQL's `lock_timeout`, which advisory locks
    honour), then `AdvisoryLockBusy` is raised: the caller sets the work aside for later instead of blocking.

    `idle_seconds`: the server ends the lock's session, and so lets the lock go, once the session has been idle
    that long (`idle_in_transaction_session_timeout`): a frozen holder's lock is let go after it. While the block
    runs, the session is kept busy (`SELECT 1` every quarter of the bound, `_keep_session_busy`): the work inside
    it is done on other connections, so the lock's own would otherwise be idle all along, and a block as long as
    the bound (an SMTP conversation of a slow relay) would lose its lock mid-way while its process was well. Kept
    busy by the process's own event loop, the session is idle beyond the bound only while the process does not run
    (frozen) or its event loop is stuck, so no bound on the work itself is needed. A holder woken after its session
    was ended finishes its block without the lock (another replica may have done the same work meanwhile: at
    least once, not exactly once), and the end of its block logs `advisory_lock_lost`.

    With either bound, the lock is taken for a transaction on that connection (`pg_advisory_xact_lock`; it conflicts
    with the session-level lock of the same name, so a replica that takes it unbounded still excludes one that
    takes it bounded), the bounds are `SET LOCAL`, and the transaction is rolled back at the end of the block: the
    lock and the settings end with it, and the connection goes back to the pool as it came. Without `idle_seconds`
    the transaction is exempt from a server's idle-in-transaction timeout (0), as the unbounded lock is."""
    lock = advisory_lock_key(name)
    async with pool.acquire() as connection:
        if wait_seconds is None and idle_seconds is None:
            await connection.execute("SELECT pg_advisory_lock($1)", lock)
            try:
                yield
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", lock)
            return
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute(
                "SELECT set_config('lock_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $2,"
                " true)",
                _milliseconds(wait_seconds),
                _milliseconds(idle_seconds),
            )
            try:
                await connection.execute("SELECT pg_advisory_xact_lock($1)", lock)
            except asyncpg.exceptions.LockNotAvailableError as error:
                raise AdvisoryLockBusy(name, wait_seconds or 0.0) from error
        except BaseException:
            with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
                await transaction.rollback()
            raise
        stop = asyncio.Event()
        keeper = asyncio.create_task(_keep_session_busy(connection, idle_seconds / 4, stop)) if idle_seconds else None
        try:
            yield
        finally:
            kept = True
            if keeper is not None:
                stop.set()
                try:
                    kept = await keeper
                except BaseException:
                    keeper.cancel()
                    raise
            try:
                await transaction.rollback()  # lets the lock go; the transaction changed nothing else
            except (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresError, OSError):
                # the connection is closed, or the server's end of it (idle past the bound) is read but not yet taken
                # in (a stuck event loop): the pool gets a new one in its place
                kept = False
                with contextlib.suppress(asyncpg.InterfaceError):  # closed already: the pool has let it go
                    connection.terminate()
            if not kept:
                # the server ended the session (idle past the bound: this process was frozen), and the lock with it
                _log.warning("advisory_lock_lost", lock=name, idle_seconds=idle_seconds)


def _milliseconds(seconds: float | None) -> str:
    """A bound as PostgreSQL's settings of a duration read it (milliseconds); none as 0, which there means none."""
    return "0" if seconds is None else str(max(1, round(seconds * 1000)))


async def _keep_session_busy(connection: asyncpg.Connection, every: float, stop: asyncio.Event) -> bool:
    """Runs `SELECT 1` on `connection` every `every` seconds until `stop` is set: the session holding a lock is never
    idle for longer while this process runs. False once the session is gone (the server ended it)."""
    while True:
        try:
            async with asyncio.timeout(every):
                await stop.wait()
            return True
        except TimeoutError:
            pass
        try:
            await connection.execute("SELECT 1")
        except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
            return False


async def apply_migrations(
    connection: asyncpg.Connection,
    schema: str,
    package: str,
    *,
    lock_timeout_ms: int = MIGRATION_LOCK_TIMEOUT_MS,
    pause_seconds: float = MIGRATION_LOCK_PAUSE_SECONDS,
    patience_seconds: float = MIGRATION_LOCK_PATIENCE_SECONDS,
) -> list[str]:
    """Applies the package's pending migrations to `schema`; returns the names applied.

    Each file runs in a transaction that waits at most `lock_timeout_ms` for a lock; one that could not take its
    locks is rolled back and tried again `pause_seconds` later, for `patience_seconds` in all (`MigrationBlocked`).
    """
    lock_key = advisory_lock_key(schema)
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await connection.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await connection.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
        applied = {row["version"]: row["checksum"] for row in rows}
        for migration in migrations_in(package):
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationChanged(f"{schema}: {migration.name} changed after it was applied")
                continue
            deadline = time.monotonic() + patience_seconds
            for attempt in itertools.count(1):
                try:
                    await _apply_one(connection, schema, migration, lock_timeout_ms)
                    break
                except asyncpg.exceptions.LockNotAvailableError as error:
                    if time.monotonic() + pause_seconds > deadline:
                        raise MigrationBlocked(
                            f"{schema}: {migration.name} could not take its locks in {attempt} tries over"
                            f" {patience_seconds:g} s: a transaction holds them (pg_locks, pg_stat_activity)"
                        ) from error
                    _log.warning(
                        "migration_lock_busy",
                        schema=schema,
                        migration=migration.name,
                        attempt=attempt,
                        lock_timeout_ms=lock_timeout_ms,
                        retry_in_s=pause_seconds,
                    )
                    await asyncio.sleep(pause_seconds)
            applied_now.append(migration.name)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied_now


async def _apply_one(connection: asyncpg.Connection, schema: str, migration: Migration, lock_timeout_ms: int) -> None:
    async with connection.transaction():
        await connection.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        await connection.execute(f'SET LOCAL search_path TO "{schema}", public')
        await connection.execute(migration.sql)
        await connection.execute(
            f'INSERT INTO "{schema}".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
            migration.version,
            migration.name,
            migration.checksum,
        )


# A statement that may take a session-level advisory lock names `pg_advisory_lock`, `pg_try_advisory_lock`
# or their `_shared` forms; `pg_advisory_xact_lock` is let go with its transaction.
_SESSION_LOCK = re.compile("advisory_lock", re.IGNORECASE)
_UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"


class ServiceConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection whose return to the pool resets only what our code can leave in a session
    (decision 0110).

    asyncpg resets every released connection with `SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL;`: a round trip and the server's work for every acquire. Our statements set
    parameters only with `SET LOCAL` (or at connection start, `server_settings`, which `RESET ALL`
    keeps anyway), declare no cursor and listen to no channel. A connection that ran a statement
    naming a session-level advisory lock (the migrations', a rebuild worker's; a `pg_try_advisory_lock`
    is read with `fetchval`) is released with `pg_advisory_unlock_all()`, any other with no statement.
    An open transaction is still rolled back and the client's listeners dropped (asyncpg's `_reset`,
    always run).
    """

    _session_locked = False

    def _note(self, query: str) -> None:
        if _SESSION_LOCK.search(query) is not None:
            self._session_locked = True

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        self._note(query)
        result: str = await super().execute(query, *args, timeout=timeout)
        return result

    async def executemany(self, command: str, args: Any, *, timeout: float | None = None) -> None:
        self._note(command)
        await super().executemany(command, args, timeout=timeout)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None, record_class: Any = None) -> Any:
        self._note(query)
        return await super().fetch(query, *args, timeout=timeout, record_class=record_class)

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        self._note(query)
        return await super().fetchval(query, *args, column=column, timeout=timeout)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None, record_class: Any = None) -> Any:
        self._note(query)
        return await super().fetchrow(query, *args, timeout=timeout, record_class=record_class)

    async def fetchmany(
        self, query: str, args: Any, *, timeout: float | None = None, record_class: Any = None
    ) -> list[Any]:
        self._note(query)
        rows: list[Any] = await super().fetchmany(query, args, timeout=timeout, record_class=record_class)
        return rows

    def get_reset_query(self) -> str:
        return _UNLOCK_ALL if self._session_locked else ""

    async def reset(self, *, timeout: float | None = None) -> None:
        await super().reset(timeout=timeout)
        self._session_locked = False


# What every service's session asks of PostgreSQL (decision 0090): no JIT. Our statements are short and
# some work on arrays of 10,000 values, whose row estimates pushed validation's registry look-up past
# `jit_above_cost`: PostgreSQL spent ~235 ms compiling it for each batch, for a ~40 ms query.
# And TCP keepalives from the server's end: a replica whose node vanished (no FIN, no RST) leaves a backend that
# holds its advisory locks (a stream's dead-letter action, an email being sent) until the operating system's
# default of two hours ends it; probing after 60 s idle, every 10 s, 6 times, ends it within two minutes.
SERVICE_SESSION_SETTINGS = {
    "jit": "off",
    "tcp_keepalives_idle": "60",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "6",
}


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10, **options: Any) -> asyncpg.Pool:
    """A pool whose sessions say which service they are (`application_name`, the service its log lines name, as
    `pg_stat_activity` shows it: every service logs in as one role locally) and ask what every service asks. Its
    connections are on /metrics (`POOLS`) until it is closed."""
    named = {"application_name": service} if (service := structlog.contextvars.get_contextvars().get("service")) else {}
    options["server_settings"] = {**SERVICE_SESSION_SETTINGS, **named, **options.get("server_settings", {})}
    options.setdefault("connection_class", ServiceConnection)
    pool = await asyncpg.create_pool(database_url, min_size=min_size, max_size=max_size, **options)
    assert pool is not None
    POOLS.watch(database_name(database_url), pool)
    return pool


def database_name(database_url: str) -> str:
    """The database a URL names (`postgresql://…/lrs_sandpit?…` → `lrs_sandpit`), `default` when it names none."""
    with contextlib.suppress(ValueError):
        if name := urllib.parse.unquote(urllib.parse.urlsplit(database_url).path.lstrip("/")):
            return name
    return "default"


class PoolGauges(Collector):
    """`lrs_db_pool_connections{database,state}` and `lrs_db_pool_max_connections{database}`, read from the pools
    as /metrics is scraped. A pool worn out by slow queries (every connection in use, `max_size` reached: the next
    `acquire` waits, with no timeout) showed only as latency, then as a readiness check "no answer within 2.5 s"
    naming PostgreSQL; PostgreSQL's own `cnpg_backends_total` does not see the client's pool. Labelled by the
    database the pool connects to, a process's pools on one database summed (a service has one pool a database: the
    portal's Sandpit pool and validation's pool of live's keys are on databases of their own), so the values are the
    few databases a deployment names."""

    def __init__(self) -> None:
        self._pools: list[tuple[str, Any]] = []  # asyncpg's pools take no weak reference: let go once closing

    def watch(self, database: str, pool: Any) -> None:
        self._pools = [(name, each) for name, each in self._pools if not each.is_closing()]
        self._pools.append((database, pool))

    def collect(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "lrs_db_pool_connections",
            "PostgreSQL connections the service's pools hold now, by state: in_use (acquired) or idle",
            labels=["database", "state"],
        )
        most = GaugeMetricFamily(
            "lrs_db_pool_max_connections",
            "The most connections the service's pools may open (max_size): in_use reaching it, acquires wait",
            labels=["database"],
        )
        totals: dict[str, list[int]] = {}
        for database, pool in list(self._pools):
            if pool.is_closing():
                continue
            size, idle = pool.get_size(), pool.get_idle_size()
            total = totals.setdefault(database, [0, 0, 0])
            total[0] += max(0, size - idle)
            total[1] += idle
            total[2] += pool.get_max_size()
        for database, (in_use, idle, max_size) in sorted(totals.items()):
            connections.add_metric([database, "in_use"], in_use)
            connections.add_metric([database, "idle"], idle)
            most.add_metric([database], max_size)
        yield connections
        yield most


POOLS = PoolGauges()
REGISTRY.register(POOLS)


async def database_reachable(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.fetchval("SELECT 1")


def where_given(filters: Mapping[str, object], *, also: Sequence[str] = (), first: int = 1) -> tuple[str, list[object]]:
    """` WHERE column = $first AND ...` for each filter whose value is not None, after the conditions
    `also` (`""` when there is none at all), and those filters' values in order, the statement's
    arguments from `$first` on. A filter whose value is a list, tuple or set matches any of its values
    (`column = ANY($n)`); one of a single value is an equality, as a plain value is.

    A statement that names only the filters given has a plan of its own for each set of them, over the
    index that serves it. One statement with `($n IS NULL OR column = $n)` for every filter has one
    generic plan once asyncpg has prepared it and PostgreSQL has run it five times, and that plan can
    use no index for them (decision 0117)."""
    given = [(column, _one_or_all(value)) for column, value in filters.items() if value is not None]
    conditions = [
        *also,
        *(
            f"{column} = ANY(${number})" if isinstance(value, list) else f"{column} = ${number}"
            for number, (column, value) in enumerate(given, start=first)
        ),
    ]
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), [value for _, value in given]


def _one_or_all(value: object) -> object:
    """A collection of one value as that value (an equality keeps an index's order), any other as a list."""
    if isinstance(value, list | tuple | set | frozenset):
        values = list(value)
        return values[0] if len(values) == 1 else values
    return value
