"""How much of a table a statement reads, from its plan: for tests that a read's work follows the rows
asked for, not the size of the table (never a timing)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import asyncpg


class RowCounter:
    """Stands in for a connection or a pool: runs each read, and counts the rows its plan read from
    `table` (returned or filtered out, times the loops) through EXPLAIN ANALYZE of the same statement.
    `generic` plans it as a prepared statement run many times may be planned: for its parameters' types,
    not their values."""

    def __init__(self, connection: asyncpg.Connection, table: str, *, generic: bool = False) -> None:
        self._connection = connection
        self._table = table
        self._generic = generic
        self.rows_read = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[RowCounter]:
        """As a pool's: the connection is this counter."""
        yield self

    def transaction(self) -> Any:
        return self._connection.transaction()

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._connection.execute(query, *args)  # a setting, not a read
        return status

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        mode = "force_generic_plan" if self._generic else "force_custom_plan"
        await self._connection.execute(f"SET plan_cache_mode = {mode}")
        await self._connection.execute(f"PREPARE counted AS {query}")
        try:
            arguments = f"({', '.join(map(_literal, args))})" if args else ""
            plan = await self._connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE counted{arguments}")
        finally:
            await self._connection.execute("DEALLOCATE counted")
            await self._connection.execute("RESET plan_cache_mode")
        self.rows_read += rows_read(json.loads(plan)[0]["Plan"], self._table)
        rows: list[Any] = await self._connection.fetch(query, *args)
        return rows

    async def fetchval(self, query: str, *args: Any) -> Any:
        rows = await self.fetch(query, *args)
        return rows[0][0] if rows else None


def _literal(value: Any) -> str:
    """`value` written in SQL (EXECUTE takes no parameters of the statement around it)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(value).lower()
    if isinstance(value, bytes):
        value = "\\x" + value.hex()
    if isinstance(value, datetime | date | uuid.UUID):
        value = str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):  # an array's text, of the type the statement gives it
        elements = ('"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"' for item in value)
        return _literal("{" + ",".join(elements) + "}")
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def rows_read(node: dict[str, Any], table: str) -> int:
    """The rows the plan `node` and the nodes under it read from `table`."""
    read = 0
    if node.get("Relation Name") == table:
        kept = (
            node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
        )
        read = round(kept * node["Actual Loops"])
    return read + sum(rows_read(child, table) for child in node.get("Plans", ()))
