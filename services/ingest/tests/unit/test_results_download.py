"""A results CSV (of a decided batch only: an undecided one is 409 before any is written) is written a slice of records
at a time (other requests are answered between slices), every record once, in line order."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ingest.api import CSV_SLICE, _records_csv
from ingest.submission import BatchStatus


class Records:
    """The batch view's records of one batch, read as the repository reads them."""

    def __init__(self, count: int) -> None:
        self.rows: list[dict[str, Any]] = [
            {
                "line": line,
                "mis_identifier": f"M{line}",
                "action": "Create",
                "uln_masked": "******0043",
                "status": "accepted",
                "errors": [],
                "warnings": [],
                "achievement_id": None,
            }
            for line in range(1, count + 1)
        ]
        self.reads: list[int | None] = []

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        self.reads.append(limit)
        chosen = self.rows[offset:] if limit is None else self.rows[offset : offset + limit]
        return chosen, len(self.rows)


async def _written(records: Records, status: BatchStatus) -> list[str]:
    pieces = [piece async for piece in _records_csv(records, uuid.uuid4(), status)]  # type: ignore[arg-type]
    return "".join(pieces).removeprefix("\ufeff").splitlines()


@pytest.mark.parametrize("count", [0, 1, CSV_SLICE, CSV_SLICE + 1, 2 * CSV_SLICE + 500])
async def test_a_decided_batch_is_written_a_slice_at_a_time_every_record_once(count: int) -> None:
    records = Records(count)

    lines = await _written(records, BatchStatus.COMPLETED)

    assert lines[0].startswith("Line,MISIdentifier")
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, count + 1))
    assert records.reads == [CSV_SLICE] * max(1, -(-count // CSV_SLICE))
