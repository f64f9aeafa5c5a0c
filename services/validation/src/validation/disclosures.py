"""The audit of disclosures: who was handed a learner's personal data (`GET /v1/admin/learners/{uln}/personal-data`,
decision 0191), when and why, in PostgreSQL (`validation.disclosures`, migration 0130).

A row is written before the answer is sent, and a failed write sends none: no operator reads a learner's data
without a trace. The ULN is kept in clear, as the erasure audit keeps it; the operator's reason, which may name the
learner, is not kept beyond their erasure (the migration's trigger empties it, and a disclosure of a learner erased
already keeps none).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from lrs_contracts.envelope import utc_now
from lrs_platform.database import where_given
from lrs_platform.paging import PagePosition, beyond

_COLUMNS = "disclosure_id, uln, read_by, read_at, reason, reason_erased"


@dataclass(frozen=True)
class Disclosure:
    """One answer of a learner's personal data, as audited: under which ULN, to whom, when and why."""

    disclosure_id: uuid.UUID
    uln: str
    read_by: str  # the operator's principal
    read_at: datetime
    reason: str | None  # None when none was given, or once the learner was erased
    reason_erased: bool  # a reason was given, and not kept: the learner was erased

    @property
    def position(self) -> PagePosition:
        return PagePosition(self.read_at, self.disclosure_id)


class Disclosures:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, uln: str, read_by: str, reason: str | None) -> Disclosure | None:
        """Audits a disclosure of the learner `uln` names to `read_by`, before anything of theirs is read; None (and
        nothing audited) when the registry never held `uln`.

        The registry row of `uln` is locked first (FOR SHARE), as an erasure updates it: an erasure under way is
        waited for and then read as done, and one that starts later waits for this row to be committed before its
        trigger empties the reasons. A learner erased by then keeps no reason: `reason_erased` says one was given.
        The learner's data is read after this commits, so an answer never holds what an erasure committed before
        it had emptied."""
        async with self._pool.acquire() as connection, connection.transaction():
            registered = await connection.fetchrow(
                "SELECT erased_at FROM validation.learners WHERE uln = $1 FOR SHARE", uln
            )
            if registered is None:
                return None
            erased = registered["erased_at"] is not None
            kept_reason = None if erased else reason
            row = await connection.fetchrow(
                f"INSERT INTO validation.disclosures ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
                uuid.uuid4(),
                uln,
                read_by,
                utc_now(),
                kept_reason,
                erased and reason is not None,
            )
        return Disclosure(**row)

    async def earlier(self, disclosure: Disclosure, learners_ulns: Collection[str]) -> list[Disclosure]:
        """Every disclosure before `disclosure` under any of `learners_ulns` (every ULN of the learner), newest first."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM validation.disclosures WHERE uln = ANY($1::text[]) AND disclosure_id <> $2"
            " ORDER BY read_at DESC, disclosure_id",
            [disclosure.uln, *learners_ulns],
            disclosure.disclosure_id,
        )
        return [Disclosure(**each) for each in rows]

    async def listing(
        self, ulns: Collection[str] | None, *, after: PagePosition | None, limit: int
    ) -> list[Disclosure]:
        """The audit, newest first (then by id), after `after`, at most `limit`; of those ULNs when given (one
        learner's). Over an index in that order (migration 0130): a page reads its own rows (of a learner with several
        ULNs, their own few rows, sorted)."""
        also, positions = beyond(after, at="read_at", row_id="disclosure_id", newest_first=True) if after else ([], [])
        where, values = where_given({"uln": ulns}, also=also, first=len(positions) + 1)
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM validation.disclosures{where}"
            f" ORDER BY read_at DESC, disclosure_id LIMIT ${len(positions) + len(values) + 1}",
            *positions,
            *values,
            limit,
        )
        return [Disclosure(**row) for row in rows]
