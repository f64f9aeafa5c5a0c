"""The PLR read model in PostgreSQL (asyncpg). One `ReadModel` per schema: the live `plr` or a rebuild.

Batches are written inside the caller's transaction, together with the next offsets: the effect and
the progress commit or vanish together. The large tables are written as the rebuild writes them:
binary COPY (an achievement that had no row straight into its table; one that had, into a temporary
table, then one set-based upsert); the small ones with one statement per table (`unnest` of arrays).
Rows and probes go in primary-key order (by ULN): each B-tree descent then finds the pages the
previous one read still in the CPU's caches (decision 0093).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import operator
import re
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from lrs_contracts.dead_letters import peek_event
from lrs_domain.identifiers import mask_uln
from lrs_platform import parking
from lrs_platform.database import where_given
from lrs_platform.logging import get_logger
from lrs_platform.paging import InvalidPageToken
from lrs_platform.parking import (
    FREE_TEXT,
    JSON_ESCAPE,
    DeadLetterAction,
    free_text_of,
    naming_one_of,
    without_erased_free_text,
)
from plr_projector.copy_format import CopyFormat
from plr_projector.projection import (
    CHALLENGE_TOPIC,
    LEARNER_TOPIC,
    PLR_TOPIC,
    AchievementKeyTuple,
    AchievementRow,
    BatchChanges,
    BatchPartition,
    CentreRow,
    HistoryEntry,
    LearnerRow,
    Mark,
    Needs,
    OperatorAction,
    Parked,
    ParkedHeads,
    Position,
    Snapshot,
    Stream,
    plr_learner,
)
from plr_projector.views import History, LearnerGroup

LIVE_SCHEMA = "plr"
# What a rebuild switch renames the live model to (`plr_retired_<rebuild id>`), kept until an operator drops it
RETIRED_SCHEMA_PREFIX = "plr_retired_"
# After a write to the parked table: its counts reach `parked_changes` as the transaction ends (PostgreSQL 15)
_PUBLISH_STATISTICS_WHEN_IDLE = "SELECT pg_stat_force_next_flush()"
OPS_SCHEMA = "plr_ops"
DEAD_LETTER_CONSUMER = "plr-projector"  # how its dead-letter actions name the projector, beside other services'
MIGRATIONS = "plr_projector.migrations"
OPS_MIGRATIONS = "plr_projector.ops_migrations"

TopicPartition = tuple[str, int]

_log = get_logger(__name__)

_ACHIEVEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uln", "text"),
    ("ao_id", "text"),
    ("qualification_number", "text"),
    ("award_date", "date"),
    ("achievement_id", "uuid"),
    ("status", "text"),
    ("withdrawn", "boolean"),
    ("version", "integer"),
    ("pathway", "text"),
    ("grade", "text"),
    ("ukprn", "text"),
    ("language_for_assessment", "text"),
    ("credits", "integer"),
    ("title", "text"),
    ("qualification_type", "text"),
    ("level", "text"),
    ("framework", "text"),
    ("kind", "text"),
    ("awarding_organisation_name", "text"),
    ("date_loaded", "timestamptz"),
    ("last_changed_at", "timestamptz"),
)
_HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uln", "text"),
    ("ao_id", "text"),
    ("qualification_number", "text"),
    ("award_date", "date"),
    ("version", "integer"),
    ("change", "text"),
    ("event_id", "uuid"),
    ("occurred_at", "timestamptz"),
    ("batch_id", "uuid"),
    ("line", "integer"),
    ("achievement_id", "uuid"),
    ("status", "text"),
    ("withdrawn", "boolean"),
    ("grade", "text"),
    ("ukprn", "text"),
    ("language_for_assessment", "text"),
    ("credits", "integer"),
    ("pathway", "text"),
)
_CENTRE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uln", "text"),
    ("provider_ukprn", "text"),
    ("qualification_number", "text"),
    ("report_id", "uuid"),
    ("event_id", "uuid"),
    ("provider_name", "text"),
    ("subject", "text"),
    ("grade", "text"),
    ("award_date", "date"),
    ("participation_start_date", "date"),
    ("participation_end_date", "date"),
    ("reported_at", "timestamptz"),
)
_LEARNER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uln", "text"),
    ("registered", "boolean"),
    ("ability_to_share", "smallint"),
    ("master_uln", "text"),
)
_LINK_COLUMNS: tuple[tuple[str, str], ...] = (("uln", "text"), ("provider_ukprn", "text"))
_CHALLENGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("challenge_id", "uuid"),
    ("achievement_id", "uuid"),
    ("ao_id", "text"),
    ("state", "text"),
)

_PARKED_COPY_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "park_key",
    "reason",
    "error",
    "event_id",
    "event_type",
    "message_key",
    "value",
    "kafka_timestamp_ms",
    "attempts",
    "batch_id",
)

# What a bulk rebuild writes with COPY, table by table: the columns, in the order of the records.
BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "achievements": tuple(name for name, _ in _ACHIEVEMENT_COLUMNS),
    "achievement_history": tuple(name for name, _ in _HISTORY_COLUMNS),
    "processed_events": ("event_id",),
    "centre_achievements": tuple(name for name, _ in _CENTRE_COLUMNS),
    "learners": tuple(name for name, _ in _LEARNER_COLUMNS),
    "provider_links": tuple(name for name, _ in _LINK_COLUMNS),
    "provider_links_ended": tuple(name for name, _ in _LINK_COLUMNS),
    "erased_learners": ("uln",),
    "challenges": tuple(name for name, _ in _CHALLENGE_COLUMNS),
    "parked": _PARKED_COPY_COLUMNS,
}

# The live writes encode their rows themselves: most values repeat within a poll (decision 0102).
_ACHIEVEMENT_COPY = CopyFormat(_ACHIEVEMENT_COLUMNS, distinct_on_each_row=("uln", "achievement_id"))
_HISTORY_COPY = CopyFormat(_HISTORY_COLUMNS, distinct_on_each_row=("uln", "event_id", "line", "achievement_id"))

_ACHIEVEMENT_KEY = ("uln", "ao_id", "qualification_number", "award_date")
# Achievement rows, history entries and keys start with the ULN, the primary keys' first column: in
# ULN order, rows and probes follow the B-trees' order (a learner's few rows share a leaf page).
_ULN = operator.itemgetter(0)
# Per connection, emptied at each commit; the same columns whatever the read model's schema.
_INCOMING_ACHIEVEMENTS = "plr_incoming_achievements"

# Tables compared by a rebuild, with the columns that identify a learner's rows.
MODEL_TABLES: tuple[tuple[str, str], ...] = (
    ("achievements", "uln"),
    ("achievement_history", "uln"),
    ("centre_achievements", "uln"),
    ("learners", "uln"),
    ("provider_links", "uln"),
    ("provider_links_ended", "uln"),
    ("erased_learners", "uln"),
    ("challenges", "challenge_id"),
    ("processed_events", "event_id"),
)


def _upsert_sql(table: str, columns: Sequence[tuple[str, str]], conflict: Sequence[str] | None) -> str:
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"${index}::{kind}[]" for index, (_, kind) in enumerate(columns, start=1))
    sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
    if conflict:
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name, _ in columns if name not in conflict)
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    return sql


def _columns_of(rows: Sequence[Any], columns: Sequence[tuple[str, str]]) -> list[list[Any]]:
    return [[getattr(row, name) for row in rows] for name, _ in columns]


async def _copy(
    connection: asyncpg.Connection, table: str, schema: str | None, copy_format: CopyFormat, rows: Sequence[Any]
) -> None:
    await connection.copy_to_table(
        table,
        schema_name=schema,
        columns=copy_format.columns,
        format="binary",
        source=memoryview(copy_format.encode(rows)),  # a buffer: bytes would be taken for a path
    )


def parked_row(parked: Parked) -> tuple[Any, ...]:
    """A parked event's row of `parked`, as the live projection and the rebuild write it."""
    message = parked.message
    return (
        message.topic,
        message.partition,
        message.offset,
        message.stream[1],
        parked.reason,
        parked.error,
        parked.event_id,
        parked.event_type,
        message.key,
        parked.value,
        message.timestamp_ms,
        parked.attempts,
        parked.batch_id,
    )


def dead_letter_due(parked: Parked, *, publishing: bool, sent: Collection[Position] = ()) -> bool:
    """Whether parking `parked` sends a copy of it to its `<topic>.dlq`: a poison (not an event held behind one),
    parked by a runner that publishes, and once an event: one a retry parks again, whose copy went when it was
    first parked (`sent`), is not sent again (the topic would show it twice to whoever counts it)."""
    return publishing and parked.reason == "error" and parked.message.position not in sent


def _achievement_from(record: Mapping[str, Any]) -> AchievementRow:
    values = {name: record[name] for name, _ in _ACHIEVEMENT_COLUMNS}
    values["status"] = values["status"].strip()
    return AchievementRow(**values)


def _history_from(record: Mapping[str, Any]) -> HistoryEntry:
    values = {name: record[name] for name, _ in _HISTORY_COLUMNS}
    values["status"] = values["status"].strip()
    return HistoryEntry(**values)


def _centre_from(record: Mapping[str, Any]) -> CentreRow:
    return CentreRow(**{name: record[name] for name, _ in _CENTRE_COLUMNS})


@dataclasses.dataclass(frozen=True)
class ParkedRow:
    topic: str
    partition: int
    offset: int
    park_key: str
    reason: str
    error: str | None
    event_id: uuid.UUID | None
    event_type: str | None
    message_key: bytes | None
    value: bytes | None
    kafka_timestamp_ms: int
    attempts: int
    parked_at: Any  # when the event was first parked: a retry that parks it again keeps it (`keep_parked_times`)
    last_tried_at: Any = None  # when an operator last retried its stream and it stayed parked (migration 0010)
    batch_id: uuid.UUID | None = None  # the batch of a PLR batch's event (migration 0008): `Parked.batch_id`

    @property
    def position(self) -> Position:
        return (self.topic, self.partition, self.offset)


@dataclasses.dataclass(frozen=True)
class HiddenCentreReports:
    """A provider whose registration link to a learner ended (`provider_links_ended`) while it is linked to none of
    their ULNs: the PLR shows none of its centre reports for them (`ReadModel.centre`, decision 0121)."""

    uln: str  # the ULN its link ended under (the first, of several of the learner's)
    master_uln: str  # the ULN the learner's records go under
    provider_ukprn: str
    hidden_reports: int  # its centre reports under any of the learner's ULNs
    place: int = 0  # its ended link's place among its provider's, by ULN (`HiddenReportsPosition`)


_UKPRN = re.compile(r"[0-9]{8}")


@dataclasses.dataclass(frozen=True)
class HiddenReportsPosition:
    """Where a page of hidden centre reports ended: the last link listed, as its provider and its place among that
    provider's ended links by ULN (they are kept, never deleted, so a place only moves on). Not the ULN itself: the
    list masks ULNs, and a position is handed out as it is (`--after`), so it must not carry one in the clear."""

    provider_ukprn: str
    place: int

    def token(self) -> str:
        return base64.urlsafe_b64encode(f"{self.provider_ukprn}|{self.place}".encode()).decode().rstrip("=")

    @classmethod
    def of_token(cls, token: str) -> HiddenReportsPosition:
        refused = InvalidPageToken(
            "query.after: not a page position this list handed out: pass back its `next` as it is"
        )
        try:
            ukprn, place = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("|")
        except (binascii.Error, UnicodeDecodeError, ValueError) as error:
            raise refused from error
        if not _UKPRN.fullmatch(ukprn) or not place.isascii() or not place.isdigit() or not 0 < int(place) < 2**31:
            raise refused
        return cls(ukprn, int(place))


class ReadModel:
    """SQL over one read-model schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        q = f'"{schema}"'
        self._q = q
        achievement_names = ", ".join(name for name, _ in _ACHIEVEMENT_COLUMNS)
        achievement_updates = ", ".join(
            f"{name} = EXCLUDED.{name}" for name, _ in _ACHIEVEMENT_COLUMNS if name not in _ACHIEVEMENT_KEY
        )
        self._sql_temp_achievements = (
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING_ACHIEVEMENTS} (LIKE {q}.achievements) ON COMMIT DELETE ROWS"
        )
        self._sql_merge_achievements = (
            f"INSERT INTO {q}.achievements ({achievement_names}) SELECT {achievement_names}"
            f" FROM {_INCOMING_ACHIEVEMENTS} ON CONFLICT ({', '.join(_ACHIEVEMENT_KEY)})"
            f" DO UPDATE SET {achievement_updates}"
        )
        self._sql_upsert_centre = _upsert_sql(
            f"{q}.centre_achievements", _CENTRE_COLUMNS, ("uln", "provider_ukprn", "qualification_number")
        )
        self._sql_upsert_learners = _upsert_sql(f"{q}.learners", _LEARNER_COLUMNS, ("uln",))
        self._sql_insert_links = _upsert_sql(f"{q}.provider_links", _LINK_COLUMNS, None) + " ON CONFLICT DO NOTHING"
        self._sql_delete_links = (
            f"DELETE FROM {q}.provider_links"
            " WHERE (uln, provider_ukprn) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
        )
        self._sql_insert_ended_links = (
            _upsert_sql(f"{q}.provider_links_ended", _LINK_COLUMNS, None) + " ON CONFLICT DO NOTHING"
        )
        # A learner's centre reports (of the ULNs given: one learner's), but those of a provider whose registration
        # link to one of the ULNs ended because the ULN was another learner's (`provider_links_ended`, decision 0121)
        # while that provider is linked to none of them: what it reported then was about whoever it registered. An
        # operator who links it again (to any of the learner's ULNs) shows them again; the rows stay as the log has
        # them, so the live projection, a replay and a rebuild keep them alike, whichever topic was read first.
        self._sql_centre = (
            f"SELECT * FROM {q}.centre_achievements WHERE uln = ANY($1::text[])"
            f" AND provider_ukprn NOT IN (SELECT provider_ukprn FROM {q}.provider_links_ended WHERE uln = ANY($1::text[])"
            f" EXCEPT SELECT provider_ukprn FROM {q}.provider_links WHERE uln = ANY($1::text[]))"
            " ORDER BY uln, provider_ukprn, qualification_number"
        )
        self._sql_insert_erased = (
            f"INSERT INTO {q}.erased_learners (uln) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING"
        )
        # An erased learner's centre reports keep no free text (`CentreRow.without_free_text`): of the ULNs given,
        # or ($1 NULL) of every erased learner, as a rebuild's workers left them (each knew its own erasures only)
        self._sql_erase_centre_text = (
            f"UPDATE {q}.centre_achievements SET provider_name = NULL, subject = NULL"
            f" WHERE uln IN (SELECT uln FROM {q}.erased_learners WHERE $1::text[] IS NULL OR uln = ANY($1::text[]))"
            " AND (provider_name IS NOT NULL OR subject IS NOT NULL)"
        )
        self._sql_upsert_challenges = _upsert_sql(f"{q}.challenges", _CHALLENGE_COLUMNS, ("challenge_id",))
        # The marks of a poll's batches, and which of them were applied before marks (line NULL).
        self._sql_marks = (
            f'SELECT batch_id, partition, line, "offset" FROM {q}.applied_lines WHERE batch_id = ANY($1::uuid[])'
            f" UNION ALL SELECT batch_id, NULL, NULL, NULL FROM {q}.legacy_batches WHERE batch_id = ANY($1::uuid[])"
        )
        # Which of the ids were applied: each in the applied ids, and those of batches applied before marks
        # ($2) in the ids of that time too (a table of every achievement event then, which a plan for a
        # poll's many other ids scanned whole).
        self._sql_seen = f"SELECT event_id FROM {q}.processed_events WHERE event_id = ANY($1::uuid[])"
        self._sql_seen_or_legacy = (
            f"{self._sql_seen} UNION ALL SELECT event_id FROM {q}.legacy_events WHERE event_id = ANY($2::uuid[])"
        )
        self.sql_raise_marks = (
            f'INSERT INTO {q}.applied_lines (batch_id, partition, line, "offset")'
            " SELECT * FROM unnest($1::uuid[], $2::integer[], $3::integer[], $4::bigint[])"
            ' ON CONFLICT (batch_id, partition) DO UPDATE SET line = EXCLUDED.line, "offset" = EXCLUDED."offset"'
            f' WHERE (EXCLUDED.line, EXCLUDED."offset") > (applied_lines.line, applied_lines."offset")'
        )

    def table(self, name: str) -> str:
        return f"{self._q}.{name}"

    # --- projection -----------------------------------------------------------------------------

    async def offsets(self, connection: asyncpg.Connection) -> dict[TopicPartition, int]:
        rows = await connection.fetch(f"SELECT topic, partition, next_offset FROM {self._q}.offsets")
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    async def load_snapshot(
        self, connection: asyncpg.Connection, needs: Needs, parked_streams: Mapping[Stream, tuple[int, int]]
    ) -> Snapshot:
        snapshot = Snapshot(parked_streams=dict(parked_streams))
        if needs.ulns:
            for record in await connection.fetch(
                f"SELECT * FROM {self._q}.achievements WHERE uln = ANY($1::text[])", list(needs.ulns)
            ):
                row = _achievement_from(record)
                snapshot.achievements[row.key] = row
        if needs.keys:
            # One primary-key probe per key (LIMIT 1 keeps the planner from joining instead): a join of
            # a poll's thousands of keys was planned as a hash of the whole table.
            for record in await connection.fetch(
                "SELECT a.* FROM unnest($1::text[], $2::text[], $3::text[], $4::date[])"
                f" AS k (uln, ao_id, qualification_number, award_date), LATERAL (SELECT * FROM {self._q}.achievements a"
                " WHERE (a.uln, a.ao_id, a.qualification_number, a.award_date)"
                " = (k.uln, k.ao_id, k.qualification_number, k.award_date) LIMIT 1) a",
                *(list(column) for column in zip(*sorted(needs.keys, key=_ULN), strict=True)),
            ):
                row = _achievement_from(record)
                snapshot.achievements[row.key] = row
        if needs.learner_ulns:
            # Planned anew each time: a generic plan made while the table was nearly empty compared every
            # row with every ULN once registrations had filled it (706 ms a poll at 50,000; decision 0090).
            await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            for record in await connection.fetch(
                f"SELECT uln, registered, ability_to_share, master_uln FROM {self._q}.learners"
                " WHERE uln = ANY($1::text[])",
                list(needs.learner_ulns),
            ):
                snapshot.learners[record["uln"]] = LearnerRow(
                    record["uln"], record["registered"], record["ability_to_share"], record["master_uln"]
                )
        if needs.centre_ulns:
            snapshot.erased_ulns = {
                record["uln"]
                for record in await connection.fetch(
                    f"SELECT uln FROM {self._q}.erased_learners WHERE uln = ANY($1::text[])", list(needs.centre_ulns)
                )
            }
        seen = list(needs.event_ids)
        legacy_ids: list[uuid.UUID] = []
        if needs.batches:
            legacy: set[uuid.UUID] = set()
            for record in await connection.fetch(self._sql_marks, list({batch_id for batch_id, _ in needs.batches})):
                if record["line"] is None:
                    legacy.add(record["batch_id"])
                else:
                    snapshot.marks[(record["batch_id"], record["partition"])] = (record["line"], record["offset"])
            if legacy:  # batches applied (in part) before marks: their events' ids are looked up too
                legacy_ids = sorted(needs.marked_ids(legacy))
                seen += legacy_ids
        if legacy_ids:
            found = await connection.fetch(self._sql_seen_or_legacy, sorted(seen), legacy_ids)
        elif seen:
            found = await connection.fetch(self._sql_seen, sorted(seen))
        else:
            found = []
        snapshot.seen_event_ids = {record["event_id"] for record in found}
        return snapshot

    async def write(
        self,
        connection: asyncpg.Connection,
        changes: BatchChanges,
        next_offsets: Mapping[TopicPartition, int],
        *,
        publish_dead_letters: bool,
        dead_letters_sent: Collection[Position] = (),
    ) -> None:
        """`dead_letters_sent`: the events, parked again here, whose copy is on their dead-letter topic already."""
        if changes.erased:
            await self._erase(connection, changes.erased)
        created = changes.created  # keys of `changes.achievements` that had no row
        rows = sorted(changes.achievements.values(), key=_ULN)
        stored = [row for row in rows if row.key not in created] if len(created) < len(rows) else []
        if created:  # no row to merge with: straight into the table
            await _copy(
                connection,
                "achievements",
                self.schema,
                _ACHIEVEMENT_COPY,
                [row for row in rows if row.key in created] if stored else rows,
            )
        if stored:
            await connection.execute(self._sql_temp_achievements)
            await connection.execute(
                f"TRUNCATE {_INCOMING_ACHIEVEMENTS}"
            )  # a replay writes many batches per transaction
            await _copy(connection, _INCOMING_ACHIEVEMENTS, None, _ACHIEVEMENT_COPY, stored)
            await connection.execute(self._sql_merge_achievements)
        if changes.history:  # each entry is a new version: nothing to merge
            await _copy(
                connection, "achievement_history", self.schema, _HISTORY_COPY, sorted(changes.history, key=_ULN)
            )
        if changes.centre:
            await connection.execute(
                self._sql_upsert_centre, *_columns_of(list(changes.centre.values()), _CENTRE_COLUMNS)
            )
        if changes.learners:
            await connection.execute(
                self._sql_upsert_learners, *_columns_of(list(changes.learners.values()), _LEARNER_COLUMNS)
            )
        if changes.links:
            await connection.execute(self._sql_insert_links, *_columns_of(sorted(changes.links), _LINK_COLUMNS))
        if changes.unlinks:
            await connection.execute(self._sql_delete_links, *_columns_of(sorted(changes.unlinks), _LINK_COLUMNS))
        if changes.ended_links:
            await connection.execute(
                self._sql_insert_ended_links, *_columns_of(sorted(changes.ended_links), _LINK_COLUMNS)
            )
        if changes.erased_ulns:  # after the centre reports: a report of the batch stays without its text too
            await connection.execute(self._sql_insert_erased, sorted(changes.erased_ulns))
            await self.erase_centre_text(connection, sorted(changes.erased_ulns))
            if self.schema == LIVE_SCHEMA:  # a rebuild's model reads the erasure itself, and leaves the others be
                await erase_retired_centre_text(connection, sorted(changes.erased_ulns))
                await erase_replaced_free_text(connection, sorted(changes.erased_ulns))
        if changes.challenges:
            await connection.execute(
                self._sql_upsert_challenges, *_columns_of(list(changes.challenges.values()), _CHALLENGE_COLUMNS)
            )
        if changes.applied_event_ids:  # none is stored yet: the snapshots looked each one up in this transaction
            await connection.copy_records_to_table(
                "processed_events",
                schema_name=self.schema,
                records=[(event_id,) for event_id in sorted(set(changes.applied_event_ids))],
                columns=BULK_COLUMNS["processed_events"],
            )
        if changes.marks:
            await self.raise_marks(connection, changes.marks)
        if changes.parked:
            await connection.executemany(
                f'INSERT INTO {self._q}.parked (topic, partition, "offset", park_key, reason, error, event_id,'
                " event_type, message_key, value, kafka_timestamp_ms, attempts, batch_id, dlq_pending)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                # an event parked already and read again (offsets set back) keeps its row: its reason, its
                # tries, its dead letter (sent once)
                ' ON CONFLICT (topic, partition, "offset") DO NOTHING',
                [
                    (
                        *parked_row(parked),
                        dead_letter_due(parked, publishing=publish_dead_letters, sent=dead_letters_sent),
                    )
                    for parked in changes.parked
                ],
            )
            # an erased learner's event parked now (read after the erasure, or with it) keeps no free text either
            if free_text := [parked.message.position for parked in changes.parked if parked.event_type in FREE_TEXT]:
                await erase_parked_free_text(connection, self.schema, positions=free_text)
            await connection.execute(_PUBLISH_STATISTICS_WHEN_IDLE)
        if next_offsets:
            await connection.execute(
                f"INSERT INTO {self._q}.offsets (topic, partition, next_offset)"
                " SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])"
                " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
                [topic for topic, _ in next_offsets],
                [partition for _, partition in next_offsets],
                list(next_offsets.values()),
            )

    async def raise_marks(self, connection: asyncpg.Connection, marks: Mapping[BatchPartition, Mark]) -> None:
        """Stores the marks, each where it is higher than the one stored."""
        await connection.execute(
            self.sql_raise_marks,
            [batch_id for batch_id, _ in marks],
            [partition for _, partition in marks],
            [line for line, _ in marks.values()],
            [offset for _, offset in marks.values()],
        )

    async def _erase(self, connection: asyncpg.Connection, keys: Iterable[AchievementKeyTuple]) -> None:
        """Deletes achievements and their history (a Sandpit reset, decision 0060)."""
        columns: list[list[Any]] = [[], [], [], []]
        for key in keys:
            for column, value in zip(columns, key, strict=True):
                column.append(value)
        for table in ("achievement_history", "achievements"):
            await connection.execute(
                f"DELETE FROM {self._q}.{table} t USING unnest($1::text[], $2::text[], $3::text[], $4::date[])"
                " AS erased(uln, ao_id, qualification_number, award_date) WHERE (t.uln, t.ao_id,"
                " t.qualification_number, t.award_date) = (erased.uln, erased.ao_id, erased.qualification_number,"
                " erased.award_date)",
                *columns,
            )

    # --- dead letters ---------------------------------------------------------------------------

    async def parked_streams(self, connection: asyncpg.Connection) -> ParkedHeads:
        """Each parked stream's head: its first poison in the log (its first parked event where none is one).
        A release before decision 0163 parked a replayed stream's earlier events too, as `blocked` rows
        ahead of the poison; the head is the poison all the same."""
        rows = await connection.fetch(
            f'SELECT DISTINCT ON (topic, park_key) topic, park_key, partition, "offset" FROM {self._q}.parked'
            " ORDER BY topic, park_key, reason <> 'error', partition, \"offset\""
        )
        return {(row["topic"], row["park_key"]): (row["partition"], row["offset"]) for row in rows}

    async def parked(
        self,
        connection: asyncpg.Connection,
        *,
        key: str | None = None,
        topic: str | None = None,
        limit: int = 1000,
        after: ParkedRow | None = None,
    ) -> list[ParkedRow]:
        """Parked events in the order they are retried, of one stream's key and/or topic if given; `after`: the
        page that follows that row (keyset paging: a page at a time, each read from the index where the last
        ended). The statement names only the filters given, each combination planned over its index in this
        order (`parked_by_key`, `parked_by_stream`; decision 0117), and pages on the columns they leave free."""
        where, values = where_given({"park_key": key, "topic": topic})
        if after is not None:
            columns = [name for name, given in (("topic", topic), ("park_key", key)) if given is None]
            columns += ["partition", "offset"]
            first = len(values) + 1
            keyset = ", ".join(f"${number}" for number in range(first, first + len(columns)))
            names = ", ".join(f'"{name}"' for name in columns)
            where += f"{' AND' if where else ' WHERE'} ({names}) > ({keyset})"
            values += [getattr(after, name) for name in columns]  # a row's fields are named as its columns
        rows = await connection.fetch(
            f'SELECT * FROM {self._q}.parked{where} ORDER BY topic, park_key, partition, "offset"'
            f" LIMIT ${len(values) + 1}",
            *values,
            limit,
        )
        return [_parked_from(row) for row in rows]

    async def parked_topics(self, connection: asyncpg.Connection, *, key: str, topic: str | None = None) -> list[str]:
        """The topics (just `topic`, when given) on which the stream of `key` has parked events, in retry order."""
        where, values = where_given({"park_key": key, "topic": topic})
        rows = await connection.fetch(f"SELECT DISTINCT topic FROM {self._q}.parked{where} ORDER BY topic", *values)
        return [row["topic"] for row in rows]

    async def unsent_dead_letter(self, connection: asyncpg.Connection, *, key: str, topic: str) -> ParkedRow | None:
        """The stream's first parked poison whose copy is not on its `<topic>.dlq` yet (`dlq_pending`), if any."""
        row = await connection.fetchrow(
            f"SELECT * FROM {self._q}.parked WHERE park_key = $1 AND topic = $2 AND dlq_pending"
            ' ORDER BY partition, "offset" LIMIT 1',
            key,
            topic,
        )
        return _parked_from(row) if row is not None else None

    async def parked_head(self, connection: asyncpg.Connection, *, key: str, topic: str) -> ParkedRow | None:
        """A stream's head as `parked_streams` reads it (its first poison, else its first parked event), whole."""
        row = await connection.fetchrow(
            f"SELECT * FROM {self._q}.parked WHERE park_key = $1 AND topic = $2"
            " ORDER BY reason <> 'error', partition, \"offset\" LIMIT 1",
            key,
            topic,
        )
        return _parked_from(row) if row is not None else None

    async def parked_firsts(
        self, connection: asyncpg.Connection, *, after: Stream | None = None, limit: int = 1000
    ) -> list[ParkedRow]:
        """Each parked stream's first event in retry order (`parked`'s first row of the stream), the first
        `limit` streams after `after` (keyset paging on `parked_by_stream`)."""
        where, values = ("", []) if after is None else (" WHERE (topic, park_key) > ($1, $2)", list(after))
        rows = await connection.fetch(
            f"SELECT DISTINCT ON (topic, park_key) * FROM {self._q}.parked{where}"
            f' ORDER BY topic, park_key, partition, "offset" LIMIT ${len(values) + 1}',
            *values,
            limit,
        )
        return [_parked_from(row) for row in rows]

    async def parked_offsets(
        self, connection: asyncpg.Connection, topic: str, partition: int, *, after: int, limit: int
    ) -> list[int]:
        """The offsets of a partition's parked events past `after`, the first `limit` in log order (keyset paging
        on the table's key)."""
        rows = await connection.fetch(
            f'SELECT "offset" FROM {self._q}.parked WHERE topic = $1 AND partition = $2 AND "offset" > $3'
            ' ORDER BY "offset" LIMIT $4',
            topic,
            partition,
            after,
            limit,
        )
        return [row["offset"] for row in rows]

    async def parked_count(
        self, connection: asyncpg.Connection, *, key: str | None = None, topic: str | None = None
    ) -> int:
        """How many parked events `parked` has to show in all, whatever its limit."""
        where, values = where_given({"park_key": key, "topic": topic})
        total: int = await connection.fetchval(f"SELECT count(*) FROM {self._q}.parked{where}", *values)
        return total

    async def parked_changes(self, connection: asyncpg.Connection) -> int:
        """A number that grows whenever a committed transaction of any process writes to the parked table
        (PostgreSQL's cumulative statistics: rows inserted, updated, deleted). A backend publishes its
        counts when idle, at most once a second (else up to 10 s later): the projector's writes of parked
        rows ask for theirs at once; others' show within seconds. Reads no row; 0 where the server keeps
        no counts."""
        changes: int = await connection.fetchval(
            "SELECT pg_stat_get_tuples_inserted(t) + pg_stat_get_tuples_updated(t) + pg_stat_get_tuples_deleted(t)"
            " FROM (SELECT to_regclass($1) AS t) AS parked",
            f"{self._q}.parked",
        )
        return changes or 0

    async def parked_depth(self, connection: asyncpg.Connection) -> dict[str, int]:
        rows = await connection.fetch(f"SELECT reason, count(*) AS n FROM {self._q}.parked GROUP BY reason")
        depth = {"error": 0, "blocked": 0}
        depth.update({row["reason"]: row["n"] for row in rows})
        return depth

    async def oldest_parked_at(self, connection: asyncpg.Connection) -> datetime | None:
        """When the event parked longest ago, poison or held behind one, was first parked; None when none is."""
        oldest: datetime | None = await connection.fetchval(f"SELECT min(parked_at) FROM {self._q}.parked")
        return oldest

    async def delete_parked(self, connection: asyncpg.Connection, positions: Iterable[Position]) -> None:
        items = list(positions)
        if not items:
            return
        await connection.execute(
            f'DELETE FROM {self._q}.parked WHERE (topic, partition, "offset") IN'
            " (SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[]))",
            [topic for topic, _, _ in items],
            [partition for _, partition, _ in items],
            [offset for _, _, offset in items],
        )
        await connection.execute(_PUBLISH_STATISTICS_WHEN_IDLE)

    async def keep_parked_times(self, connection: asyncpg.Connection, rows: Sequence[ParkedRow]) -> None:
        """Of `rows`, the events a retry or skip just parked again (as new rows, `delete_parked` then `write`):
        each keeps the time it was first parked, and is marked tried now. The rest are gone (applied, skipped)."""
        if not rows:
            return
        await connection.execute(
            f"UPDATE {self._q}.parked AS p SET parked_at = t.parked_at, last_tried_at = now()"
            ' FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::timestamptz[]) AS t(topic, partition, "offset",'
            ' parked_at) WHERE (p.topic, p.partition, p."offset") = (t.topic, t.partition, t."offset")',
            [row.topic for row in rows],
            [row.partition for row in rows],
            [row.offset for row in rows],
            [row.parked_at for row in rows],
        )

    async def mark_stream_tried(self, connection: asyncpg.Connection, *, key: str, topic: str) -> None:
        """A retry or skip of the stream of `key` on `topic` that left its rows as they were (it could not store
        them): each is marked tried now, its first parked time kept."""
        await connection.execute(
            f"UPDATE {self._q}.parked SET last_tried_at = now() WHERE park_key = $1 AND topic = $2", key, topic
        )

    async def pending_dead_letters(self, connection: asyncpg.Connection, limit: int = 500) -> list[ParkedRow]:
        rows = await connection.fetch(
            f'SELECT * FROM {self._q}.parked WHERE dlq_pending ORDER BY topic, partition, "offset" LIMIT $1', limit
        )
        return [_parked_from(row) for row in rows]

    async def mark_dead_letters_published(self, connection: asyncpg.Connection, positions: Sequence[Position]) -> None:
        await connection.execute(
            f'UPDATE {self._q}.parked SET dlq_pending = false WHERE (topic, partition, "offset") IN'
            " (SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[]))",
            [topic for topic, _, _ in positions],
            [partition for _, partition, _ in positions],
            [offset for _, _, offset in positions],
        )

    # --- reads ----------------------------------------------------------------------------------

    async def learner_group(
        self, connection: asyncpg.Connection, uln: str, *, with_links: bool = False
    ) -> LearnerGroup:
        """The learners connected to `uln` by merges, whichever way; `plr_learner` decides.

        Found a step at a time, each one statement over two indexes: the rows of the ULNs just reached
        and of every ULN merged into one of them; their masters and those merged ULNs are the next
        step's. A learner in no merge takes one step, a merge a step more for each link. Each ULN is
        looked up once, which also ends cycles. (One recursive statement let the planner, which cannot
        know that a merge group is a handful of rows, hash every merged learner or the whole table for
        each read; the read's transaction gives every step the same snapshot.) `with_links`: the providers
        linked to the learner too, which only a provider's read needs."""
        connected: dict[str, LearnerRow] = {}
        looked_up: set[str] = set()
        reached = {uln}
        while reached:
            looked_up |= reached
            for record in await connection.fetch(
                f"SELECT uln, registered, ability_to_share, master_uln FROM {self._q}.learners"
                " WHERE uln = ANY($1::text[])"
                f" UNION SELECT uln, registered, ability_to_share, master_uln FROM {self._q}.learners"
                " WHERE master_uln = ANY($1::text[])",
                list(reached),
            ):
                connected[record["uln"]] = LearnerRow(
                    record["uln"], record["registered"], record["ability_to_share"], record["master_uln"]
                )
            reached = {
                linked
                for row in connected.values()
                for linked in (row.uln, row.master_uln)
                if linked is not None and linked not in looked_up
            }
        learner = plr_learner(uln, connected.values())
        master = connected.get(learner.recorded_uln)
        ulns = tuple(sorted(learner.ulns))
        linked = (  # only a provider's access turns on them (decision 0121)
            await connection.fetch(
                f"SELECT DISTINCT provider_ukprn FROM {self._q}.provider_links WHERE uln = ANY($1::text[])", list(ulns)
            )
            if with_links
            else []
        )
        return LearnerGroup(
            requested_uln=uln,
            master_uln=learner.recorded_uln,
            ulns=ulns,
            registered=bool(master and master.registered),
            ability_to_share=master.ability_to_share if master else 0,
            linked_providers=frozenset(record["provider_ukprn"] for record in linked),
        )

    async def erase_centre_text(self, connection: asyncpg.Connection, ulns: Sequence[str] | None = None) -> int:
        """Empties the free text of the erased learners' centre reports (of `ulns`, or of every erased learner), and
        of their parked events (`erase_parked_free_text`); returns how many reports had some."""
        done = await connection.execute(self._sql_erase_centre_text, None if ulns is None else list(ulns))
        await erase_parked_free_text(connection, self.schema, ulns)
        return int(done.split()[-1])

    async def any_erased(self, connection: asyncpg.Connection, ulns: Sequence[str]) -> bool:
        """Whether a learner with one of `ulns` was erased, as far as the projection has read."""
        found = await connection.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self._q}.erased_learners WHERE uln = ANY($1::text[]))", list(ulns)
        )
        return bool(found)

    async def achievements(
        self, connection: asyncpg.Connection, ulns: Sequence[str], ao_id: str | None = None
    ) -> list[AchievementRow]:
        rows = await connection.fetch(
            f"SELECT * FROM {self._q}.achievements WHERE uln = ANY($1::text[]) AND ($2::text IS NULL OR ao_id = $2)"
            " ORDER BY uln, ao_id, qualification_number, award_date",
            list(ulns),
            ao_id,
        )
        return [_achievement_from(row) for row in rows]

    async def centre(self, connection: asyncpg.Connection, ulns: Sequence[str]) -> list[CentreRow]:
        """The centre reports shown on the PLR of the learner whose ULNs are `ulns` (every one of theirs: a link
        to any of them counts for all): all but those of a provider whose registration of one of them named another
        learner, while it is linked to none of them (`_sql_centre`)."""
        rows = await connection.fetch(self._sql_centre, list(ulns))
        return [_centre_from(row) for row in rows]

    async def hidden_centre_reports(
        self,
        connection: asyncpg.Connection,
        *,
        uln: str | None = None,
        ukprn: str | None = None,
        limit: int = 100,
        after: HiddenReportsPosition | None = None,
    ) -> tuple[list[HiddenCentreReports], HiddenReportsPosition | None]:
        """The providers whose registration link to a learner ended because the ULN was another learner's
        (`provider_links_ended`, decision 0121) and that are linked to none of that learner's ULNs now: each once a
        learner, with how many of its centre reports for them the PLR does not show (`centre`), by UKPRN then ULN, at
        most `limit` after the position `after` (a page's last link); and where the next page starts (None: this is
        the last). Of the learner `uln` names (any of their ULNs), of the provider `ukprn`, when given. Read in the
        caller's transaction (one snapshot, for the answer to add up). An ended link whose provider is linked again to
        that same ULN is passed over at once; the others are looked up a learner at a time, as links end rarely (a
        learner file or a merge naming a squatted ULN's learner). A learner is listed under the first of their ULNs
        whose link to the provider ended: a later one is passed over, on a later page too."""
        ulns = (await self.learner_group(connection, uln)).ulns if uln is not None else None
        inner, values = where_given({"provider_ukprn": ukprn})
        if after is not None:
            values.append(after.provider_ukprn)
            inner += f"{' AND' if inner else ' WHERE'} provider_ukprn >= ${len(values)}"
        outer = [
            f"NOT EXISTS (SELECT 1 FROM {self._q}.provider_links k"
            " WHERE k.uln = x.uln AND k.provider_ukprn = x.provider_ukprn)"
        ]
        if ulns is not None:
            values.append(list(ulns))
            outer.append(f"x.uln = ANY(${len(values)}::text[])")
        if after is not None:
            values += [after.provider_ukprn, after.place]
            outer.append(f"(x.provider_ukprn > ${len(values) - 1} OR x.place > ${len(values)})")
        ended = await connection.fetch(
            "SELECT x.uln, x.provider_ukprn, x.place FROM (SELECT uln, provider_ukprn,"
            " row_number() OVER (PARTITION BY provider_ukprn ORDER BY uln) AS place"
            f" FROM {self._q}.provider_links_ended{inner}) x WHERE {' AND '.join(outer)}"
            " ORDER BY x.provider_ukprn, x.uln",
            *values,
        )
        found: dict[tuple[str, str], HiddenCentreReports] = {}
        for row in ended:
            group = await self.learner_group(connection, row["uln"], with_links=True)
            key = (group.master_uln, row["provider_ukprn"])
            if key in found or row["provider_ukprn"] in group.linked_providers:
                continue
            if (
                after is not None
                and row["provider_ukprn"] == after.provider_ukprn
                and await connection.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM {self._q}.provider_links_ended"
                    " WHERE provider_ukprn = $1 AND uln = ANY($2::text[]) AND uln < $3)",
                    row["provider_ukprn"],
                    list(group.ulns),
                    row["uln"],
                )
            ):
                continue  # listed under an earlier ULN of theirs, at or before `after`
            if len(found) == limit:
                last = list(found.values())[-1]
                return list(found.values()), HiddenReportsPosition(last.provider_ukprn, last.place)
            hidden = await connection.fetchval(
                f"SELECT count(*) FROM {self._q}.centre_achievements WHERE uln = ANY($1::text[]) AND provider_ukprn = $2",
                list(group.ulns),
                row["provider_ukprn"],
            )
            found[key] = HiddenCentreReports(
                row["uln"], group.master_uln, row["provider_ukprn"], int(hidden), int(row["place"])
            )
        return list(found.values()), None

    async def history(self, connection: asyncpg.Connection, ulns: Sequence[str], ao_id: str | None = None) -> History:
        """The versions of the learner's achievements by key, marking those made from an operator's corrected copy
        of a parked event (`corrected_by_operator`)."""
        rows = await connection.fetch(
            f"SELECT * FROM {self._q}.achievement_history WHERE uln = ANY($1::text[])"
            " AND ($2::text IS NULL OR ao_id = $2) ORDER BY uln, ao_id, qualification_number, award_date, version",
            list(ulns),
            ao_id,
        )
        grouped: dict[AchievementKeyTuple, list[HistoryEntry]] = {}
        for row in rows:
            entry = _history_from(row)
            grouped.setdefault((entry.uln, entry.ao_id, entry.qualification_number, entry.award_date), []).append(entry)
        event_ids = {entry.event_id for entries in grouped.values() for entry in entries}
        return History(grouped, await corrected_by_operator(connection, ulns, event_ids) if event_ids else ())

    async def challenged(self, connection: asyncpg.Connection, achievement_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        rows = await connection.fetch(
            f"SELECT DISTINCT achievement_id FROM {self._q}.challenges"
            " WHERE achievement_id = ANY($1::uuid[]) AND state <> 'resolved'",
            list(achievement_ids),
        )
        return {row["achievement_id"] for row in rows}

    async def parked_count_of_learner(
        self, connection: asyncpg.Connection, ulns: Sequence[str], achievement_ids: Iterable[uuid.UUID]
    ) -> int:
        """Every event the projector holds for a learner, whatever its topic: the PLR and learner topics park under
        the learner's ULNs, the challenge topic under their achievements' ids (decision 0011)."""
        value = await connection.fetchval(
            f"SELECT (SELECT count(*) FROM {self._q}.parked WHERE topic = ANY($1::text[]) AND park_key = ANY($2::text[]))"
            f" + (SELECT count(*) FROM {self._q}.parked WHERE topic = $3 AND park_key = ANY($4::text[]))",
            [PLR_TOPIC, LEARNER_TOPIC],
            list(ulns),
            CHALLENGE_TOPIC,
            [str(achievement_id) for achievement_id in achievement_ids],
        )
        return int(value or 0)

    async def batch_events_held(
        self, connection: asyncpg.Connection, batch_id: uuid.UUID, ulns: Sequence[str] | None = None
    ) -> int:
        """The batch's events parked (a poison, or held behind one): under the ULNs `ulns` when given, else
        anywhere; each event once, however many copies of it the log holds (`parked_by_batch`). Only events
        parked since migration 0008 name their batch: one parked before counts once it is parked again."""
        value = await connection.fetchval(
            f"SELECT count(DISTINCT event_id) + count(*) FILTER (WHERE event_id IS NULL) FROM {self._q}.parked"
            " WHERE batch_id = $1 AND ($2::text[] IS NULL OR park_key = ANY($2::text[]))",
            batch_id,
            None if ulns is None else list(ulns),
        )
        return int(value or 0)

    async def batch_events_applied(
        self,
        connection: asyncpg.Connection,
        batch_id: uuid.UUID,
        ulns: Sequence[str] | None = None,
        *,
        ao_id: str | None = None,
    ) -> int:
        """The batch's events projected: on the PLRs of `ulns` when given, else anywhere; only `ao_id`'s when
        given (another AO's batch is, to an AO, one that put nothing on the PLR)."""
        value = await connection.fetchval(
            f"SELECT count(*) FROM {self._q}.achievement_history WHERE batch_id = $1"
            " AND ($2::text[] IS NULL OR uln = ANY($2::text[])) AND ($3::text IS NULL OR ao_id = $3)",
            batch_id,
            None if ulns is None else list(ulns),
            ao_id,
        )
        return int(value or 0)

    # --- comparison -----------------------------------------------------------------------------

    async def counts(self, connection: asyncpg.Connection) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table, _ in (*MODEL_TABLES, ("parked", "")):
            counts[table] = int(await connection.fetchval(f"SELECT count(*) FROM {self._q}.{table}") or 0)
        return counts

    def learner_checksums_sql(self) -> str:
        """Per learner: md5 over the text of every row of theirs, in a fixed order."""
        q = self._q
        return (
            "SELECT uln, md5(string_agg(line, E'\\n' ORDER BY line)) AS checksum FROM ("
            f" SELECT uln, 'a' || a::text AS line FROM {q}.achievements a"
            f" UNION ALL SELECT uln, 'h' || h::text FROM {q}.achievement_history h"
            f" UNION ALL SELECT uln, 'c' || c::text FROM {q}.centre_achievements c"
            f" UNION ALL SELECT uln, 'l' || l::text FROM {q}.learners l"
            f" UNION ALL SELECT uln, 'k' || k::text FROM {q}.provider_links k"
            f" UNION ALL SELECT uln, 'x' || x::text FROM {q}.provider_links_ended x"
            f" UNION ALL SELECT uln, 'e' FROM {q}.erased_learners"
            f" UNION ALL SELECT park_key, 'p' || concat_ws('|', topic, partition, \"offset\", reason, event_id)"
            f" FROM {q}.parked WHERE topic = '{PLR_TOPIC}'"
            ") rows GROUP BY uln"
        )

    def global_checksums_sql(self, live: ReadModel) -> str:
        """`live`'s batches applied before marks (migration 0003) are left out of the marks: a rebuild
        marks them, the upgraded live model knows them by their events' ids."""
        q = self._q
        return (
            "SELECT"
            f" (SELECT md5(coalesce(string_agg(c::text, E'\\n' ORDER BY c::text), '')) FROM {q}.challenges c)"
            " AS challenges,"
            f" (SELECT md5(coalesce(string_agg(event_id::text, E'\\n' ORDER BY event_id), ''))"
            f" FROM {q}.processed_events) AS processed_events,"
            f" (SELECT md5(coalesce(string_agg(m::text, E'\\n' ORDER BY m.batch_id, m.partition), ''))"
            f" FROM {q}.applied_lines m WHERE m.batch_id NOT IN (SELECT batch_id FROM {live.table('legacy_batches')}))"
            " AS applied_lines,"
            " (SELECT md5(coalesce(string_agg(concat_ws('|', topic, partition, \"offset\", park_key, reason,"
            f" event_id), E'\\n' ORDER BY topic, partition, \"offset\"), '')) FROM {q}.parked) AS parked"
        )


def quoted(identifier: str) -> str:
    """`identifier` as SQL names it whatever it holds (PostgreSQL's `quote_ident`, always quoted)."""
    return '"' + identifier.replace('"', '""') + '"'


async def erase_retired_centre_text(connection: asyncpg.Connection, ulns: Sequence[str]) -> int:
    """Empties the free text of the centre reports of `ulns` in every retired model (`plr_retired_<n>`, the live
    model before a rebuild switch, kept until an operator drops it), in the caller's transaction; returns how many
    reports had some. No retired model reads the log: an erasure projected after the switch reaches it only here.
    The live projection calls it, and only it; a schema dropped meanwhile has nothing left to empty, and one the
    projector may not write (made by hand under another owner) is left, with a warning."""
    schemas = await connection.fetch(
        "SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid"
        " WHERE starts_with(n.nspname, $1) AND c.relname = 'centre_achievements' AND c.relkind = 'r'"
        " ORDER BY n.nspname",
        RETIRED_SCHEMA_PREFIX,
    )
    emptied = 0
    for schema in (row["nspname"] for row in schemas):
        try:
            async with connection.transaction():  # a savepoint: what fails here leaves the live write whole
                done = await connection.execute(
                    f"UPDATE {quoted(schema)}.centre_achievements SET provider_name = NULL, subject = NULL"
                    " WHERE uln = ANY($1::text[]) AND (provider_name IS NOT NULL OR subject IS NOT NULL)",
                    list(ulns),
                )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            continue  # dropped since it was listed
        except asyncpg.InsufficientPrivilegeError as error:
            _log.warning("retired_model_not_emptied", schema=schema, error=type(error).__name__)
            continue
        emptied += int(done.split()[-1])
        try:
            async with connection.transaction():  # its parked events: never retried, kept as long as the model
                await erase_parked_free_text(connection, schema, ulns)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            continue  # dropped since, or a schema made by hand without one
        except asyncpg.InsufficientPrivilegeError as error:
            _log.warning("retired_model_not_emptied", schema=schema, error=type(error).__name__)
    return emptied


async def erase_parked_free_text(
    connection: asyncpg.Connection,
    schema: str,
    ulns: Sequence[str] | None = None,
    *,
    positions: Sequence[Position] | None = None,
) -> int:
    """Empties the free text of erased learners' parked PLR events in `schema`'s `parked` (`without_erased_free_text`:
    a centre report's `subject` and `provider_name`, an earlier achievement event's MIS identifier), in the caller's
    transaction; returns how many it changed. The learners: `ulns` (every ULN of theirs, as the erasure names them),
    else those of the model's `erased_learners`; the events: those at `positions`, else every one. A retry then
    applies what the event applies for an erased learner (the read model keeps no such text), and `lrs dlq show`
    shows none. Given `ulns`, only rows whose bytes may be about one of them are read (`naming_one_of`)."""
    table = f"{quoted(schema)}.parked"
    where = ["value IS NOT NULL", "(event_type IS NULL OR event_type = ANY($1::text[]))"]
    values: list[Any] = [sorted(FREE_TEXT)]
    if ulns is not None:
        where.append(f"(park_key = ANY($2::text[]) OR {naming_one_of('value', '$2', '$3')})")
        values += [list(ulns), JSON_ESCAPE]
    if positions is not None:
        n = len(values)
        where.append(
            f'(topic, partition, "offset") IN (SELECT * FROM unnest(${n + 1}::text[], ${n + 2}::integer[],'
            f" ${n + 3}::bigint[]))"
        )
        values += [[topic for topic, _, _ in positions], [p for _, p, _ in positions], [o for _, _, o in positions]]
    rows = await connection.fetch(
        f'SELECT topic, partition, "offset", value FROM {table} WHERE {" AND ".join(where)}', *values
    )
    if ulns is not None:
        erased = set(ulns)
    else:
        named = {about[0] for row in rows if (about := free_text_of(row["value"])) is not None}
        erased = (
            {
                row["uln"]
                for row in await connection.fetch(
                    f"SELECT uln FROM {quoted(schema)}.erased_learners WHERE uln = ANY($1::text[])", sorted(named)
                )
            }
            if named
            else set()
        )
    emptied = 0
    for row in rows:
        if (value := without_erased_free_text(row["value"], erased)) is not None:
            await connection.execute(
                f'UPDATE {table} SET value = $4 WHERE topic = $1 AND partition = $2 AND "offset" = $3',
                row["topic"],
                row["partition"],
                row["offset"],
                value,
            )
            emptied += 1
    return emptied


# --- bulk loading ---------------------------------------------------------------------------------


Deferred = dict[str, list[tuple[str, str]]]  # table -> [(constraint or index name, how to create it)]


async def defer_bulk_indexes(connection: asyncpg.Connection, schema: str) -> Deferred:
    """Makes the bulk-loaded tables of a fresh `schema` UNLOGGED and without keys or indexes, and
    returns how to give them back (`restore_bulk_table`): a bulk load then writes heap pages only,
    and each index is built once, sorted, at the end."""
    deferred: Deferred = {}
    for table in BULK_COLUMNS:
        name = f'"{schema}"."{table}"'
        constraints = await connection.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname",
            name,
        )
        indexes = await connection.fetch(
            "SELECT i.relname, pg_get_indexdef(i.oid) AS definition FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname",
            name,
        )
        deferred[table] = []
        for row in constraints:
            await connection.execute(f'ALTER TABLE {name} DROP CONSTRAINT "{row["conname"]}"')
            deferred[table].append(
                (row["conname"], f'ALTER TABLE {name} ADD CONSTRAINT "{row["conname"]}" {row["definition"]}')
            )
        for row in indexes:
            await connection.execute(f'DROP INDEX "{schema}"."{row["relname"]}"')
            deferred[table].append((row["relname"], row["definition"]))
        await connection.execute(f"ALTER TABLE {name} SET UNLOGGED")
    return deferred


async def restore_bulk_table(
    connection: asyncpg.Connection, schema: str, table: str, deferred: Sequence[tuple[str, str]]
) -> None:
    """SET LOGGED first (a rewrite of the heap: indexes present would be built twice), then the keys
    and indexes, then statistics, in one transaction. Tables can be restored side by side; one that a
    resumed rebuild finds done is left as it is, but for its statistics, taken again. Without them the
    rebuild's runner, and the readers after the switch, would be planned on a table thought empty until
    autovacuum came by: a hash of every row where the primary key finds a few."""
    async with connection.transaction():
        await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")  # sorts in memory
        await connection.execute(f'ALTER TABLE "{schema}"."{table}" SET LOGGED')
        for name, statement in deferred:
            exists = await connection.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relname = $2)",
                schema,
                name,
            )
            if not exists:  # a key's index has the key's name
                await connection.execute(statement)
        await connection.execute(f'ANALYZE "{schema}"."{table}"')


def _parked_from(row: Mapping[str, Any]) -> ParkedRow:
    return ParkedRow(
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        park_key=row["park_key"],
        reason=row["reason"],
        error=row["error"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        message_key=row["message_key"],
        value=row["value"],
        kafka_timestamp_ms=row["kafka_timestamp_ms"],
        attempts=row["attempts"],
        parked_at=row["parked_at"],
        last_tried_at=row.get("last_tried_at"),
        batch_id=row.get("batch_id"),
    )


async def compare_models(connection: asyncpg.Connection, live: ReadModel, other: ReadModel) -> dict[str, Any]:
    """Counts per table and a checksum per learner, live against `other`."""
    live_counts = await live.counts(connection)
    other_counts = await other.counts(connection)
    differing = await connection.fetch(
        f"SELECT coalesce(l.uln, o.uln) AS uln FROM ({live.learner_checksums_sql()}) l"
        f" FULL OUTER JOIN ({other.learner_checksums_sql()}) o ON l.uln = o.uln"
        " WHERE l.checksum IS DISTINCT FROM o.checksum ORDER BY 1"
    )
    learners = await connection.fetchval(f"SELECT count(*) FROM ({live.learner_checksums_sql()}) x")
    live_global = dict(await connection.fetchrow(live.global_checksums_sql(live)) or {})
    other_global = dict(await connection.fetchrow(other.global_checksums_sql(live)) or {})
    global_differences = sorted(name for name in live_global if live_global[name] != other_global.get(name))
    identical = live_counts == other_counts and not differing and not global_differences
    return {
        "identical": identical,
        "counts": {"live": live_counts, "rebuilt": other_counts},
        "learners_compared": int(learners or 0),
        "learners_differing": len(differing),
        "differing_ulns_masked": [mask_uln(str(row["uln"])) for row in differing[:20]],
        "global_checksums_differing": global_differences,
    }


async def operator_actions(connection: asyncpg.Connection) -> dict[Position, OperatorAction]:
    rows = await connection.fetch(
        f'SELECT topic, partition, "offset", action, replacement FROM {OPS_SCHEMA}.operator_actions'
    )
    return {
        (row["topic"], row["partition"], row["offset"]): OperatorAction(row["action"], row["replacement"])
        for row in rows
    }


_DIGIT_ESCAPE = b"\\u003"  # how JSON escapes a digit: a ULN spelt with one is not found as its bytes


async def corrected_by_operator(
    connection: asyncpg.Connection, ulns: Sequence[str], event_ids: Collection[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """Which of `event_ids`, events about the learner's `ulns`, the projector applied as an operator's corrected copy
    of the parked event (`lrs dlq retry --replacement`): the copy, kept for good in `operator_actions`, carries the
    parked event's id. The copies are stored as bytes, with no column to index, so one statement reads only those
    whose bytes name one of the ULNs or spell a digit as a JSON escape (`naming_one_of`; other escapes, of a name's
    accents, say, do not count), and their event ids are read here. The copies are an operator's mends of poisons,
    few, however many versions the learner has."""
    rows = await connection.fetch(
        f"SELECT replacement FROM {OPS_SCHEMA}.operator_actions"
        f" WHERE action = 'replace' AND replacement IS NOT NULL AND {naming_one_of('replacement', '$1', '$2')}",
        list(ulns),
        _DIGIT_ESCAPE,
    )
    wanted = set(event_ids)
    found: set[uuid.UUID] = set()
    for row in rows:
        event_id, _ = peek_event(row["replacement"])
        if event_id is not None and (corrected := uuid.UUID(event_id)) in wanted:
            found.add(corrected)
    return frozenset(found)


async def record_operator_action(
    connection: asyncpg.Connection,
    position: Position,
    action: OperatorAction,
    operator: str,
    reason: str | None,
) -> None:
    """Keeps an operator's skip or replacement of the event at `position`, which every projection run applies again.
    A replacement of an event about a learner the live model knows to be erased is kept without the free text that
    may name them (`without_erased_free_text`), as their erasure left the stored replacements made before it."""
    replacement = action.replacement
    if action.action == "replace" and replacement is not None:
        about = free_text_of(replacement)
        if about is not None and await connection.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {quoted(LIVE_SCHEMA)}.erased_learners WHERE uln = $1)", about[0]
        ):
            replacement = without_erased_free_text(replacement, {about[0]}) or replacement
    await connection.execute(
        f'INSERT INTO {OPS_SCHEMA}.operator_actions (topic, partition, "offset", action, replacement, operator, reason)'
        ' VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (topic, partition, "offset") DO UPDATE SET'
        " action = EXCLUDED.action, replacement = EXCLUDED.replacement, operator = EXCLUDED.operator,"
        " reason = EXCLUDED.reason, acted_at = now()",
        *position,
        action.action,
        replacement,
        operator,
        reason,
    )


async def erase_replaced_free_text(connection: asyncpg.Connection, ulns: Sequence[str]) -> int:
    """Empties the free text of the operator's stored replacements (`operator_actions`) of PLR events about `ulns`,
    erased learners (`without_erased_free_text`), in the caller's transaction; returns how many it changed. The live
    projection calls it as it projects the erasures: a replacement is a copy the operator wrote, kept for ever so that
    rebuilds apply it again, not the log. Only the rows whose bytes name one of the ULNs (or escape a character, as
    JSON may spell a digit) are read."""
    rows = await connection.fetch(
        f'SELECT topic, partition, "offset", replacement FROM {OPS_SCHEMA}.operator_actions'
        " WHERE action = 'replace' AND replacement IS NOT NULL AND (position($2::bytea IN replacement) > 0"
        " OR EXISTS (SELECT 1 FROM unnest($1::text[]) AS erased (uln)"
        " WHERE position(convert_to(erased.uln, 'UTF8') IN replacement) > 0))",
        list(ulns),
        b"\\u",
    )
    erased = set(ulns)
    emptied = 0
    for row in rows:
        if (replacement := without_erased_free_text(row["replacement"], erased)) is not None:
            await connection.execute(
                f"UPDATE {OPS_SCHEMA}.operator_actions SET replacement = $4"
                ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
                row["topic"],
                row["partition"],
                row["offset"],
                replacement,
            )
            emptied += 1
    return emptied


@dataclasses.dataclass(frozen=True)
class ProjectorDeadLetterAction(DeadLetterAction):
    """A retry or skip of a parked PLR event, with the batch whose event it was (ops migration 0013): a skipped
    event of a decided batch was accepted but never reached the learner's record, and the batch still counts it."""

    batch_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.batch_id, uuid.UUID):  # as its column reads back
            object.__setattr__(self, "batch_id", str(self.batch_id))


async def record_dead_letter_action(connection: asyncpg.Connection, action: DeadLetterAction) -> None:
    await parking.record_dead_letter_action(connection, OPS_SCHEMA, action)


async def dead_letter_actions(connection: asyncpg.Connection, limit: int) -> list[ProjectorDeadLetterAction]:
    """The newest `limit` retries and skips of parked events, newest first, each with its event's batch (None for
    an event of no batch, and for an action recorded before the column)."""
    return await parking.dead_letter_actions(connection, OPS_SCHEMA, limit, ProjectorDeadLetterAction)
