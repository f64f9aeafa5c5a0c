"""Databases of their own for tests, on the session's PostgreSQL cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


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
