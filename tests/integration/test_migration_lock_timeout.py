"""A migration waits for its locks only briefly (`lock_timeout`) and is tried again: while an old replica's long
transaction holds its table, the queries queued behind the `ALTER TABLE` go on with little delay, and the
migration is applied once the transaction ends. Given up after its patience, with a named error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog.testing
from tests.support.databases import unique_name
from tests.support.waiting import eventually

from lrs_platform.database import MigrationBlocked, apply_migrations

pytestmark = pytest.mark.integration

CREATE = "CREATE TABLE notes (id integer PRIMARY KEY);\n"
ALTER = "ALTER TABLE notes ADD COLUMN said text;\n"
LOCK_TIMEOUT_MS = 1_000
PAUSE_SECONDS = 0.05  # short beside the lock timeout: the migration is waiting on the lock nearly all the time


def _package(root: Path, files: dict[str, str]) -> str:
    name = unique_name("migrations")
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    for file, sql in files.items():
        (root / name / file).write_text(sql)
    return name


@pytest.fixture
async def schema(database_url: str) -> AsyncIterator[str]:
    name = unique_name("lock_timeout")
    yield name
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()


async def _alter_waiting(watcher: asyncpg.Connection, schema: str) -> bool:
    """Whether an `ALTER TABLE` on the schema's table waits in the lock queue now."""
    waiting: bool = await watcher.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'"
        " AND relation = to_regclass($1))",
        f'"{schema}".notes',
    )
    return waiting


async def _tried_again(logs: list[MutableMapping[str, Any]]) -> bool:
    return len([entry for entry in logs if entry["event"] == "migration_lock_busy"]) >= 2


async def test_a_blocked_migration_lets_readers_through_and_is_applied_once_the_lock_is_let_go(
    database_url: str, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _package(tmp_path, {"0001_notes.sql": CREATE})
    both = _package(tmp_path, {"0001_notes.sql": CREATE, "0002_said.sql": ALTER})
    migrating, old_replica, reader, watcher = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        assert await apply_migrations(migrating, schema, first) == ["0001_notes.sql"]
        # an old replica's long transaction has read the table: the ALTER must wait for it
        old_transaction = old_replica.transaction()
        await old_transaction.start()
        await old_replica.fetch(f'SELECT * FROM "{schema}".notes')

        with structlog.testing.capture_logs() as logs:
            applying = asyncio.create_task(
                apply_migrations(
                    migrating,
                    schema,
                    both,
                    lock_timeout_ms=LOCK_TIMEOUT_MS,
                    pause_seconds=PAUSE_SECONDS,
                    patience_seconds=120,
                )
            )
            await eventually(lambda: _alter_waiting(watcher, schema), within=30, what="the ALTER waiting for its lock")
            # a reader arriving now queues behind the ALTER: it goes on once the ALTER gives up its wait
            started = time.monotonic()
            await asyncio.wait_for(reader.fetch(f'SELECT * FROM "{schema}".notes'), timeout=10 * LOCK_TIMEOUT_MS / 1000)
            assert time.monotonic() - started < LOCK_TIMEOUT_MS / 1000 + 2  # its wait, and room for a busy machine
            await eventually(lambda: _tried_again(logs), within=30, what="the migration tried again")
            assert not applying.done()

            await old_transaction.rollback()
            applied = await asyncio.wait_for(applying, timeout=30)

        assert applied == ["0002_said.sql"]
        busy = [entry for entry in logs if entry["event"] == "migration_lock_busy"]
        assert {(entry["schema"], entry["migration"]) for entry in busy} == {(schema, "0002_said.sql")}
        assert [entry["attempt"] for entry in busy] == list(range(1, len(busy) + 1))
        columns = await reader.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'notes'",
            schema,
        )
        assert {row["column_name"] for row in columns} == {"id", "said"}
    finally:
        for connection in (migrating, old_replica, reader, watcher):
            await connection.close()


async def test_a_migration_whose_locks_stay_taken_gives_up_after_its_patience(
    database_url: str, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _package(tmp_path, {"0001_notes.sql": CREATE})
    both = _package(tmp_path, {"0001_notes.sql": CREATE, "0002_said.sql": ALTER})
    migrating, old_replica = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        await apply_migrations(migrating, schema, first)
        async with old_replica.transaction():
            await old_replica.fetch(f'SELECT * FROM "{schema}".notes')
            with pytest.raises(MigrationBlocked, match=r"0002_said\.sql"):
                await apply_migrations(
                    migrating, schema, both, lock_timeout_ms=100, pause_seconds=0.05, patience_seconds=0.5
                )
        versions = await migrating.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        assert [row["version"] for row in versions] == [1]
        # the advisory lock was let go: another start migrates
        assert await apply_migrations(migrating, schema, both) == ["0002_said.sql"]
    finally:
        await migrating.close()
        await old_replica.close()
