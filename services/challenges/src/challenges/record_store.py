"""PostgreSQL: the challenges service's projection of the PLR log, and how far it has read the log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

from challenges.domain import AchievementOnRecord
from challenges.plr_log import AchievementChange, RecordChanges

Positions = dict[tuple[str, int], int]  # (topic, partition) -> next offset to apply

# Merge chains are short; the bound keeps a cycle in the links from looping.
_MAX_MERGE_HOPS = 32
_STORED_WITHDRAWN = "challenges.achievements_on_record.withdrawn"
_COLUMNS = AchievementChange._fields  # a change is copied as it is: its fields are the table's columns


class PlrRecord:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def apply(self, changes: RecordChanges) -> None:
        """Idempotent: the same changes again leave the same rows.

        The achievements these changes record are new rows, copied in (binary COPY: about half the
        server's work of an upsert); should one be on record already (these changes applied again),
        the copy fails and every change goes through the upserts instead."""
        if len(changes.recorded) == len(changes.achievements):  # the usual poll: it records every achievement
            recorded, others = list(changes.achievements.values()), []
        else:
            recorded = [changes.achievements[achievement_id] for achievement_id in changes.recorded]
            others = [
                change for change in changes.achievements.values() if change.achievement_id not in changes.recorded
            ]
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                if recorded:
                    await connection.copy_records_to_table(
                        "achievements_on_record", schema_name="challenges", columns=_COLUMNS, records=recorded
                    )
                await _upsert(connection, others, changes.merges)
        except asyncpg.UniqueViolationError:
            async with self._pool.acquire() as connection, connection.transaction():
                await _upsert(connection, list(changes.achievements.values()), changes.merges)

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        row = await self._pool.fetchrow(
            "SELECT achievement_id, uln, ao_id, withdrawn FROM challenges.achievements_on_record"
            " WHERE achievement_id = $1",
            achievement_id,
        )
        return AchievementOnRecord(row["achievement_id"], row["uln"], row["ao_id"], row["withdrawn"]) if row else None

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


async def _upsert(connection: asyncpg.Connection, changes: list[AchievementChange], merges: dict[str, str]) -> None:
    """One statement each (an achievement is in `changes` once): withdrawn as the log says, and as
    stored for an update or supersession (false for a new row); the merges."""
    known = [change for change in changes if change.withdrawn is not None]
    as_it_was = [change for change in changes if change.withdrawn is None]
    for rows, withdrawn in ((known, "EXCLUDED.withdrawn"), (as_it_was, _STORED_WITHDRAWN)):
        if rows:
            await connection.execute(
                "INSERT INTO challenges.achievements_on_record (achievement_id, uln, ao_id, withdrawn)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::boolean[])"
                " ON CONFLICT (achievement_id) DO UPDATE SET uln = EXCLUDED.uln, ao_id = EXCLUDED.ao_id,"
                f" withdrawn = {withdrawn}",
                [change.achievement_id for change in rows],
                [change.uln for change in rows],
                [change.ao_id for change in rows],
                [bool(change.withdrawn) for change in rows],
            )
    if merges:
        await connection.execute(
            "INSERT INTO challenges.learner_merges (merged_uln, master_uln)"
            " SELECT * FROM unnest($1::text[], $2::text[])"
            " ON CONFLICT (merged_uln) DO UPDATE SET master_uln = EXCLUDED.master_uln",
            list(merges),
            list(merges.values()),
        )
