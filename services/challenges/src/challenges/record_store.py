"""PostgreSQL: the challenges service's projection of the PLR log, and how far it has read the log."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from operator import add

import asyncpg

from challenges.domain import AchievementOnRecord, BatchOnRecord
from challenges.plr_log import (
    AchievementFacts,
    AchievementSoFar,
    BatchTouch,
    RecordChanges,
    fold_poll,
    positions_after,
    read_poll,
    unapplied,
)
from lrs_contracts.plr import ResultStatus
from lrs_platform.consumer import Message

Positions = dict[tuple[str, int], int]  # (topic, partition) -> next offset to apply

# Merge chains are short; the bound keeps a cycle in the links from looping.
_MAX_MERGE_HOPS = 32
_COLUMNS = (*AchievementFacts._fields, "applied_in")  # a change as it is, then the number of its poll
# The latest word of an achievement's rows on a fact a row may leave as it was (NULL).
_LATEST = (
    "SELECT {0} FROM challenges.achievements_on_record"
    " WHERE achievement_id = $1 AND {0} IS NOT NULL ORDER BY applied_in DESC LIMIT 1"
)
# Its status, as the latest poll that said one (decision 0183).
_LATEST_STATUS = (
    "SELECT status FROM challenges.achievement_statuses WHERE achievement_id = $1 ORDER BY applied_in DESC LIMIT 1"
)
# The data of an achievement is all of its latest row that has a grade (a row without says none: "as it was").
_DATA_COLUMNS = ("pathway", "grade", "ukprn", "language_for_assessment", "credits")
_LATEST_DATA = (
    "SELECT " + ", ".join(_DATA_COLUMNS) + " FROM challenges.achievements_on_record"
    " WHERE achievement_id = $1 AND grade IS NOT NULL ORDER BY applied_in DESC LIMIT 1"
)
# The state the fold needs of each of a poll's achievements the record holds (one with no status has none): its
# status, then withdrawn as the latest row that says it, and its data as the latest row that has one. Each table
# read once for all the poll's ids (its hash index probed per id): a lateral look-up per id cost PostgreSQL about
# twice as much.
_SO_FAR = (
    "WITH said AS ("
    "   SELECT DISTINCT ON (achievement_id) achievement_id, status FROM challenges.achievement_statuses"
    "   WHERE achievement_id = ANY($1::uuid[]) ORDER BY achievement_id, applied_in DESC"
    " ), kept AS ("
    "   SELECT achievement_id,"
    "   (array_agg(withdrawn ORDER BY applied_in DESC) FILTER (WHERE withdrawn IS NOT NULL))[1] AS withdrawn,"
    + ",".join(
        f" (array_agg({column} ORDER BY applied_in DESC) FILTER (WHERE grade IS NOT NULL))[1] AS {column}"
        for column in _DATA_COLUMNS
    )
    + "   FROM challenges.achievements_on_record WHERE achievement_id = ANY($1::uuid[]) GROUP BY achievement_id"
    " )"
    " SELECT said.achievement_id, said.status, coalesce(kept.withdrawn, false),"
    + ", ".join(f" kept.{column}" for column in _DATA_COLUMNS)
    + " FROM said LEFT JOIN kept USING (achievement_id)"
)
_WITHDRAWN_AMONG = (
    "SELECT achievement_id FROM ("
    "   SELECT DISTINCT ON (achievement_id) achievement_id, withdrawn FROM challenges.achievements_on_record"
    "   WHERE achievement_id = ANY($1::uuid[]) AND withdrawn IS NOT NULL ORDER BY achievement_id, applied_in DESC"
    " ) AS latest WHERE withdrawn"
)
_STATUSES = {status.value: status for status in ResultStatus}  # a look-up, not an enum call: a row each
# The positions of a poll's partitions, each row locked until the poll's transaction ends (a missing one
# inserted at 0): the no-op update is what locks a row that is there, and returns it as stored.
_LOCK_POSITIONS = (
    "INSERT INTO challenges.log_positions (topic, partition, next_offset)"
    " SELECT topic, partition, 0 FROM unnest($1::text[], $2::integer[]) AS poll(topic, partition)"
    " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = challenges.log_positions.next_offset"
    " RETURNING topic, partition, next_offset"
)
# Positions only move forward: a consumer that lost a partition cannot take it back. One statement for
# every partition of a poll (each (topic, partition) once: a mapping's keys).
_STORE_POSITIONS = (
    "INSERT INTO challenges.log_positions (topic, partition, next_offset)"
    " SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])"
    " ON CONFLICT (topic, partition) DO UPDATE"
    " SET next_offset = greatest(challenges.log_positions.next_offset, EXCLUDED.next_offset)"
)

# Challenges raised before the record kept the rest of an achievement's data (migration 0012) take it from the record
# once it has read the log again: its latest data, where nothing has put another batch's event of the achievement's
# learner and qualification on the log since the challenge was raised and the grade is the one the challenge kept
# (else the data may have changed since, and the challenge says none rather than what it was not raised against).
_FILL_PENDING = (
    "WITH latest AS ("
    "   SELECT DISTINCT ON (r.achievement_id) r.achievement_id, r.uln, r.ao_id, r.qualification_number, "
    + ", ".join(f"r.{column}" for column in _DATA_COLUMNS)
    + "   FROM challenges.achievements_on_record r"
    "   WHERE r.grade IS NOT NULL AND r.achievement_id IN"
    "   (SELECT achievement_id FROM challenges.challenges WHERE achievement_data_pending)"
    "   ORDER BY r.achievement_id, r.applied_in DESC"
    " )"
    " UPDATE challenges.challenges c SET pathway = latest.pathway, ukprn = latest.ukprn,"
    " language_for_assessment = latest.language_for_assessment, credits = latest.credits,"
    " achievement_data_pending = false, updated_at = now()"
    " FROM latest WHERE c.achievement_data_pending AND c.achievement_id = latest.achievement_id"
    " AND c.ao_id = latest.ao_id AND (c.grade IS NULL OR c.grade = latest.grade)"
    " AND NOT EXISTS (SELECT 1 FROM challenges.batch_touches t WHERE t.ao_id = latest.ao_id AND t.uln = latest.uln"
    "   AND t.qualification_number = latest.qualification_number AND t.decided_at > c.raised_at)"
)


class PlrRecord:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def apply_messages(
        self,
        messages: Sequence[Message],
        forget_learners: Callable[[asyncpg.Connection, Collection[str]], Awaitable[None]],
        *,
        parked: bool = False,
    ) -> RecordChanges:
        """A poll's messages applied, fenced by offset, and the changes they made. Idempotent.

        In one transaction: the positions of the poll's partitions are locked, every message below its
        partition's position is dropped, the rest folded over the achievements as the record holds them (one
        statement, `fold_poll`: an event the fold refuses raises, and the loop's guard parks it) and applied, the
        positions moved past them, and the erased learners handed to `forget_learners`, with the poll's
        connection, in its transaction: the redaction commits with the poll, or neither
        does and both come again with the poll (idempotent). A message below the position was applied by whoever
        holds the partition now: a replica that lost the partition part-way through a poll, its new holder
        applying that poll and later ones meanwhile, would otherwise append its older word after theirs (decision
        0099).

        `parked`: messages an operator applies again (`OperatorReplays`), below the positions, which they
        neither check, lock nor move: the loop may not have passed what lies between the stored position and
        them.
        """
        polled = read_poll(messages)  # outside the transaction: reading is most of a poll's time
        async with self._pool.acquire() as connection, connection.transaction():
            if not parked:
                passing = positions_after(messages)
                partitions = sorted(passing)  # every replica locks in the same order
                rows = await connection.fetch(
                    _LOCK_POSITIONS, [topic for topic, _ in partitions], [partition for _, partition in partitions]
                )
                fresh = unapplied(messages, {(row["topic"], row["partition"]): row["next_offset"] for row in rows})
                if fresh is not messages:
                    polled, passing = read_poll(fresh), positions_after(fresh)
                await _store_positions(connection, passing)
            # folded over the record as this transaction holds it: the poll before is committed, the next waits
            changes = fold_poll(polled, await _so_far(connection, polled.achievement_ids()))
            await _append(connection, changes)
            await forget_learners(connection, changes.erasures)
        return changes

    async def apply(self, changes: RecordChanges) -> None:
        """Idempotent: the same changes again leave the same answers. Unfenced: what the follower applies goes
        through `apply_messages`."""
        async with self._pool.acquire() as connection, connection.transaction():
            await _append(connection, changes)

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        """As its latest row says; each fact a row may leave as it was (withdrawn, title) as the latest row that says
        it (withdrawn: false if none does), its data (grade, pathway, UKPRN, language, credits) as the latest row with
        a grade, and its status as the latest poll that said one."""
        row = await self._pool.fetchrow(
            "SELECT latest.uln, latest.ao_id, latest.qualification_number, latest.award_date,"
            f" coalesce(({_LATEST.format('withdrawn')}), false) AS withdrawn, ({_LATEST.format('title')}) AS title,"
            f" ({_LATEST_STATUS}) AS status, "
            + ", ".join(f"data.{column}" for column in _DATA_COLUMNS)
            + " FROM (SELECT uln, ao_id, qualification_number, award_date FROM challenges.achievements_on_record"
            " WHERE achievement_id = $1 ORDER BY applied_in DESC LIMIT 1) AS latest"
            f" LEFT JOIN LATERAL ({_LATEST_DATA}) AS data ON true",
            achievement_id,
        )
        if row is None:
            return None
        return AchievementOnRecord(
            achievement_id,
            row["uln"],
            row["ao_id"],
            row["withdrawn"],
            row["qualification_number"],
            row["award_date"],
            row["grade"],
            row["title"],
            ResultStatus(row["status"]) if row["status"] is not None else None,
            row["pathway"],
            row["ukprn"],
            row["language_for_assessment"],
            row["credits"],
        )

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        """Those of `achievement_ids` withdrawn now: the latest row that says withdrawn or not says it, as
        `achievement` reads it; one statement for a page of challenges."""
        if not achievement_ids:
            return frozenset()
        rows = await self._pool.fetch(_WITHDRAWN_AMONG, sorted(set(achievement_ids)))
        return frozenset(row["achievement_id"] for row in rows)

    async def batches_touching(
        self,
        ao_id: str,
        qualification_number: str,
        ulns: Collection[str],
        since: datetime | None = None,
        batch_id: uuid.UUID | None = None,
        limit: int = 50,
    ) -> list[BatchOnRecord]:
        """The batches (just `batch_id`, when given) that put an event of the learner's (any of `ulns`)
        achievement of this AO and qualification on the log, decided at or after `since` if given: newest first."""
        rows = await self._pool.fetch(
            "SELECT batch_id, max(decided_at) AS decided_at FROM challenges.batch_touches"
            " WHERE ao_id = $1 AND qualification_number = $2 AND uln = ANY($3::text[]) AND ($4::timestamptz IS NULL OR decided_at >= $4)"
            " AND ($5::uuid IS NULL OR batch_id = $5) GROUP BY batch_id ORDER BY decided_at DESC LIMIT $6",
            ao_id,
            qualification_number,
            list(ulns),
            since,
            batch_id,
            limit,
        )
        return [BatchOnRecord(row["batch_id"], row["decided_at"]) for row in rows]

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        """Every ULN of the learner: follow the merges to the end of the chain, then every ULN merged into it."""
        return await self.ulns_of_learners((uln,))

    async def ulns_of_learners(self, ulns: Collection[str]) -> frozenset[str]:
        """Every ULN of the learners `ulns` name (`learner_ulns` of each), in one statement: an AO's filter names
        up to 50."""
        rows = await self._pool.fetch(
            "WITH RECURSIVE up(asked, uln, hops) AS ("
            "   SELECT asked, asked, 0 FROM unnest($1::text[]) AS asked"
            "   UNION ALL SELECT up.asked, m.master_uln, up.hops + 1 FROM challenges.learner_merges m"
            "   JOIN up ON m.merged_uln = up.uln WHERE up.hops < $2"
            " ), chain_ends AS ("
            "   SELECT DISTINCT uln FROM (SELECT DISTINCT ON (asked) uln FROM up ORDER BY asked, hops DESC) AS ends"
            " ), down(uln, hops) AS ("
            "   SELECT uln, 0 FROM chain_ends"
            "   UNION ALL SELECT m.merged_uln, down.hops + 1 FROM challenges.learner_merges m"
            "   JOIN down ON m.master_uln = down.uln WHERE down.hops < $2"
            " )"
            " SELECT uln FROM down UNION SELECT uln FROM up",
            sorted(ulns),
            _MAX_MERGE_HOPS,
        )
        return frozenset(row["uln"] for row in rows)

    async def challenges_data_pending(self) -> bool:
        """Whether a challenge raised before the record kept an achievement's data waits for it (migration 0012)."""
        pending: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM challenges.challenges WHERE achievement_data_pending)"
        )
        return pending

    async def fill_challenges_data(self) -> int:
        """Once the record has read the log again (migration 0012), each challenge raised before it kept an
        achievement's data takes the pathway, centre UKPRN, language for assessment and credits the record knows,
        where the achievement has not changed since the challenge was raised (`_FILL_PENDING`); the rest keep none.
        Each is then filled: run again, it changes nothing. Returns how many were given data."""
        async with self._pool.acquire() as connection, connection.transaction():
            filled = await connection.execute(_FILL_PENDING)
            await connection.execute(
                "UPDATE challenges.challenges SET achievement_data_pending = false WHERE achievement_data_pending"
            )
        return int(filled.split()[-1])

    async def positions(self) -> Positions:
        rows = await self._pool.fetch("SELECT topic, partition, next_offset FROM challenges.log_positions")
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    async def record_positions(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Positions only move forward: a consumer that lost a partition cannot take it back."""
        await _store_positions(self._pool, positions)


async def _so_far(
    connection: asyncpg.Connection, achievement_ids: list[uuid.UUID]
) -> dict[uuid.UUID, AchievementSoFar]:
    """The fold's state of those of `achievement_ids` the record holds, in one statement."""
    if not achievement_ids:
        return {}
    rows = await connection.fetch(_SO_FAR, achievement_ids)
    # the data columns in `_DATA_COLUMNS` order (pathway first), the fold's in its own (grade first)
    return {row[0]: AchievementSoFar(_STATUSES[row[1]], row[2], row[4], row[3], row[5], row[6], row[7]) for row in rows}


async def _append(connection: asyncpg.Connection, changes: RecordChanges) -> None:
    """Each changed achievement's state is appended (binary COPY; withdrawn as NULL where the fold left it as it
    was: an update or supersession, or a re-recording of a live achievement), and its status where the poll said one, stamped with the poll's number from a sequence. Polls are
    applied one after another, fenced by their offsets (`PlrRecord.apply_messages`), so the latest row of an
    achievement is the log's latest word on it (decision 0099)."""
    if changes.achievements or changes.statuses:
        applied_in = await connection.fetchval("SELECT nextval('challenges.record_applications')")
        if changes.achievements:
            await connection.copy_records_to_table(
                "achievements_on_record",
                schema_name="challenges",
                columns=_COLUMNS,
                # each change's tuple and the poll's number, joined in C (a display per change cost 0.3 µs)
                records=list(map(add, changes.achievements.values(), repeat((applied_in,)))),
            )
        if changes.statuses:
            await connection.copy_records_to_table(
                "achievement_statuses",
                schema_name="challenges",
                columns=("achievement_id", "status", "applied_in"),
                records=[(achievement_id, status, applied_in) for achievement_id, status in changes.statuses.items()],
            )
    if changes.touches:
        await connection.copy_records_to_table(
            "batch_touches", schema_name="challenges", columns=BatchTouch._fields, records=changes.touches
        )
    if changes.merges:
        await connection.execute(
            "INSERT INTO challenges.learner_merges (merged_uln, master_uln)"
            " SELECT * FROM unnest($1::text[], $2::text[])"
            " ON CONFLICT (merged_uln) DO UPDATE SET master_uln = EXCLUDED.master_uln",
            list(changes.merges),
            list(changes.merges.values()),
        )


async def _store_positions(
    executor: asyncpg.Pool | asyncpg.Connection, positions: Mapping[tuple[str, int], int]
) -> None:
    if positions:
        await executor.execute(
            _STORE_POSITIONS,
            [topic for topic, _ in positions],
            [partition for _, partition in positions],
            list(positions.values()),
        )
