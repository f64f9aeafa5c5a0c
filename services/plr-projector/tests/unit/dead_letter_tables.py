"""A `<schema>.dead_letter_actions` table as asyncpg answers the statements that write and read it, for the tests of
the dead-letter action records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

SERVICES_COLUMNS = [
    "id",
    "action",
    "operator",
    "reason",
    "replaced",
    "consumer",
    "topic",
    "partition",
    "offset",
    "event_id",
    "event_type",
    "applied",
    "skipped",
    "still_parked",
    "acted_at",
]


class DeadLetterTable:
    """`<schema>.dead_letter_actions` with `columns`: an INSERT writes a row stamped `acted_at`, an UPDATE of the row
    just inserted (`currval` of its id) sets its batch, and a read answers the newest rows first."""

    def __init__(self, columns: list[str], acted_at: datetime) -> None:
        self.columns = columns
        self.acted_at = acted_at
        self.rows: list[dict[str, Any]] = []
        self.schemas: list[str] = []

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        if "information_schema" in query:
            self.schemas.append(args[0])
            return [{"column_name": name} for name in self.columns]
        return list(reversed(self.rows))[: args[0]]

    async def execute(self, query: str, *args: Any) -> None:
        if query.startswith("UPDATE"):
            assert "SET batch_id = $1::uuid" in query and "currval" in query
            self.rows[-1]["batch_id"] = args[0]
            return
        named = query.split("(", 1)[1].split(")", 1)[0]
        written = [name.strip().strip('"') for name in named.split(",")]
        assert f'"{self.schemas[-1]}".dead_letter_actions' in query
        row = dict.fromkeys(self.columns) | dict(zip(written, args, strict=True))
        row["acted_at"] = self.acted_at
        self.rows.append(row)
