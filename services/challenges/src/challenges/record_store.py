"""PostgreSQL: the challenges service's projection of the PLR log, and how far it has read the log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from itertools import repeat
from operator import add

import asyncpg

from challenges.domain import AchievementOnRecord
from challenges.plr_log import AchievementChange, RecordChanges

Positions = dict[tuple[str, int], int]  # (topic, partition) -> next offset to apply

# Merge chains are short; the bound keeps a cycle in the links from looping.
_MAX_MERGE_HOPS = 32
_COLUMNS = (*AchievementChange._fields, "applied_in")  # a change as it is, then the number of its poll


class PlrRecord:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def apply(self, changes: RecordChanges) -> None:
        """Idempotent: the same changes again leave the same answers.

        Each changed achievement's state is appended (binary COPY; an update or supersession's
        withdrawn as NULL, "as it was"), stamped with the poll's number from a sequence: the record's
        polls are applied one after another, so the latest row of an achievement is the log's latest
        word on it (decision 0099)."""
        async with self._pool.acquire() as connection, connection.transaction():
            if changes.achievements:
                applied_in = await connection.fetchval("SELECT nextval('challenges.record_applications')")
                await connection.copy_records_to_table(
                    "achievements_on_record",
                    schema_name="challenges",
                    columns=_COLUMNS,
                    # each change's tuple and the poll's number, joined in C (a display per change cost 0.3 µs)
                    records=list(map(add, changes.achievements.values(), repeat((applied_in,)))),
                )
            if changes.merges:
                await connection.execute(
                    "INSERT INTO challenges.learner_merges (merged_uln, master_uln)"
                    " SELECT * FROM unnest($1::text[], $2::text[])"
                    " ON CONFLICT (merged_uln) DO UPDATE SET master_uln = EXCLUDED.master_uln",
                    list(changes.merges),
                    list(changes.merges.values()),
                )

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        """As its latest row says; withdrawn as the latest row that says it (false if none does)."""
        row = await self._pool.fetchrow(
            "SELECT uln, ao_id, coalesce(("
            "   SELECT withdrawn FROM challenges.achievements_on_record"
            "   WHERE achievement_id = $1 AND withdrawn IS NOT NULL ORDER BY applied_in DESC LIMIT 1"
            " ), false) AS withdrawn"
            " FROM challenges.achievements_on_record WHERE achievement_id = $1 ORDER BY applied_in DESC LIMIT 1",
            achievement_id,
        )
        return AchievementOnRecord(achievement_id, row["uln"], row["ao_id"], row["withdrawn"]) if row else None

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        """Every ULN of the learner: follow the merges to the end of the chain, then every ULN merged into it."""
        rows = await self._pool.fetch(
            "WITH RECURSIVE up(uln, hops) AS ("
            "   SELECT $1::text, 0"
            "   UNION ALL SELECT m.master_uln, up.hops + 1 FROM challenges.learner_merges m"
            "   JOIN up ON m.merged_uln = up.uln WHERE up.hops < $2"
            " ), chain_end AS (SELECT uln FROM up ORDER BY hops DESC LIMIT 1),"
            " down(uln, hops) AS ("
            "   SELECT uln, 0 FROM chain_end"
            "   UNION ALL SELECT m.merged_uln, down.hops + 1 FROM challenges.learner_merges m"
            "   JOIN down ON m.master_uln = down.uln WHERE down.hops < $2"
            " )"
            " SELECT uln FROM down UNION SELECT uln FROM up",
            uln,
            _MAX_MERGE_HOPS,
        )
        return frozenset(row["uln"] for row in rows)

    async def positions(self) -> Positions:
        rows = await self._pool.fetch("SELECT topic, partition, next_offset FROM challenges.log_positions")
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    async def record_positions(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Positions only move forward: a consumer that lost a partition cannot take it back."""
        # One statement for every partition of a poll (each (topic, partition) once: a mapping's keys).
        await self._pool.execute(
            "INSERT INTO challenges.log_positions (topic, partition, next_offset)"
            " SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])"
            " ON CONFLICT (topic, partition) DO UPDATE"
            " SET next_offset = greatest(challenges.log_positions.next_offset, EXCLUDED.next_offset)",
            [topic for topic, _ in positions],
            [partition for _, partition in positions],
            list(positions.values()),
        )
