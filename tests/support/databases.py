"""Databases of their own for tests, on the session's PostgreSQL cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg

from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool
from lrs_platform.keyring import migrate
from lrs_platform.parking import ParkedMessages


def unique_name(label: str) -> str:
    return f"{label}_{uuid.uuid4().hex[:10]}"


async def create_database(server_url: str, name: str) -> str:
    """A new, empty database called `name` on the cluster `server_url` reaches: its URL."""
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def create_key_store(database_url: str) -> None:
    """The learner key store, as the validation service creates it at its start: for tests that run ingest
    without validation (ingest seals personal fields under the learners' keys, decision 0080)."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await migrate(pool)
    finally:
        await pool.close()


@asynccontextmanager
async def throwaway_database(server_url: str, label: str) -> AsyncIterator[str]:
    """A new database's URL, dropped (its connections ended) on the way out."""
    name = unique_name(label)
    yield await create_database(server_url, name)
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def tables_holding(database_url: str, needles: Iterable[str]) -> dict[str, list[str]]:
    """Every table of every schema with a row holding one of the needles: `schema.table` → the needles found.

    A row is read as its text (`SELECT t::text FROM schema.table t`), case-insensitively; a bytea column
    shows there in hex, so each needle's UTF-8 bytes (as given, lower and upper case) are looked for in
    hex too. Bytes a service compressed before storing them are not seen.
    """
    patterns = {
        needle: [
            f"%{text}%"
            for text in (needle, *(variant.encode().hex() for variant in {needle, needle.lower(), needle.upper()}))
        ]
        for needle in needles
    }
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
            " ORDER BY 1"
        )
        found: dict[str, list[str]] = {}
        for table in (row["name"] for row in tables):
            for needle, alternatives in patterns.items():
                if await connection.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM {table} t WHERE t::text ILIKE ANY($1::text[]))", alternatives
                ):
                    found.setdefault(table, []).append(needle)
        return found
    finally:
        await connection.close()


async def prepare_validation_database(pool: asyncpg.Pool) -> None:
    """Validation's schema, the learner key store and the API keys (`identity`: an ended registration link revokes
    the ULN's learner keys), as the validation service makes them at its start."""
    await migrate(pool)
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await CredentialStore(pool).migrate()


@asynccontextmanager
async def migrated_connection(database_url: str, schema: str, migrations: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to `database_url` with a service's schema made by its migrations (`migrations`, their
    package), as the service makes it at its start."""
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, schema, migrations)
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def ingest_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on `database_url` with ingest's schema and its parked messages, as ingest makes them at its start."""
    async with migrated_connection(database_url, "ingest", "ingest.migrations"):
        pass
    pool = await create_pool(database_url, max_size=2)
    try:
        await ParkedMessages(pool, "ingest_parked").migrate()
        yield pool
    finally:
        await pool.close()
