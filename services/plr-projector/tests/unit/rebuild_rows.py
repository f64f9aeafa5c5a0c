"""A stand-in for the projector's pool as a rebuild's supervisor uses it: its workers' rows, changed by the statements
run as PostgreSQL would change them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class RebuildRowsPool:
    """The worker rows as read in turn (the last read again), changed by the statements run as the database would
    change them, and those statements; `finishing`: the workers that write `done` just before the rebuild is failed
    (after the supervisor last read the rows)."""

    def __init__(self, reads: list[list[dict[str, Any]]], finishing: tuple[int, ...] = ()) -> None:
        self._reads: Iterator[list[dict[str, Any]]] = iter(reads)
        self._last: list[dict[str, Any]] = []
        self.executed: list[tuple[str, tuple[Any, ...]]] = []
        self.finishing = finishing

    async def fetch(self, statement: str, *arguments: Any) -> list[dict[str, Any]]:
        if statement.startswith("WITH failed AS"):
            self.executed.append((statement, arguments))
            self._reads = iter([])  # from here on, the rows are as the statements leave them
            for row in self._last:
                if row["worker"] in self.finishing:
                    row["state"], row["passes_done"] = "done", row["passes"]
            ended = [row for row in self._last if row["state"] in ("pending", "running")]
            for row in ended:
                row["state"], row["error"] = "failed", arguments[2]
            return [{"worker": row["worker"]} for row in ended]
        self._last = [dict(row) for row in next(self._reads, self._last)]
        return [dict(row) for row in self._last]

    async def execute(self, statement: str, *arguments: Any) -> None:
        self.executed.append((statement, arguments))
        if statement.startswith("UPDATE plr_ops.rebuild_workers SET state = 'failed'"):
            for row in self._last:
                if row["worker"] == arguments[1] and row["state"] != "done":
                    row["state"], row["error"] = "failed", arguments[2]

    async def fetchval(self, statement: str, *arguments: Any) -> Any:
        """One worker's state, as the next read of the rows will say it."""
        upcoming = next(self._reads, self._last)
        self._reads = iter([upcoming])
        return next(row["state"] for row in upcoming if row["worker"] == arguments[1])
