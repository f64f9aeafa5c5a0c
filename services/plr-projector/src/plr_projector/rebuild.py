"""Bulk rebuild of the PLR read model (decision 0033): the log folded in memory, written with COPY.

Rebuilding into an empty schema needs no lookups per event: nothing is in the new schema yet, and
the log was validated when it was written. A worker process takes a disjoint set of partitions (a
stream never spans partitions) and reads them up to the rebuild's target offsets. An achievement
event, nearly every record, is decoded once into plain values (`lrs_contracts.fast_decode.
decode_plain`, with the contracts' checks), folded by the domain's one fold
(`lrs_domain.achievements.step`) into rows kept as lists of their columns, and written with binary
COPY: no model, no row object per event. Everything else (the learner and challenge topics, a
centre's report, an event the plain path does not take, an operator's skip or replacement, a
parked stream) goes through the projector's own `decode_message` and `project_batch`, so it lands
exactly as it did live. The tables are UNLOGGED and without keys or indexes while loading (the
projector restores them when every worker is done).

Memory is bounded by passes: a slice with more PLR events than `events_per_pass` is folded in
several passes, each folding only the learners whose key hashes to it. The first pass reads the
partitions and keeps the records of the later passes in local files (`PROJECTOR_REBUILD_SPILL_DIR`,
default the temporary directory), which the later passes read instead of the log: every record is
read from Kafka once and decoded once. That first pass also takes the batches' marks of the whole slice
(`SliceMarks`): a copy of a decision's event is known by its batch's highest line, which another pass's
learner may hold (decision 0097). A pass is one PostgreSQL transaction together with its
progress record, so a worker that dies starts again at its first unfinished pass (reading the log
again: its files went with it). The learner and challenge topics go whole to worker 0: a merge writes the merged
learner's row from the master's stream, so one learner row may combine two partitions.

    python -m plr_projector.rebuild --worker N [--rebuild-id ID]

runs one worker; the projector starts them itself, or an indexed Job does (`--worker
$JOB_COMPLETION_INDEX`, see docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import math
import operator
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_fields
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.sandpit import SandpitAchievementsErased as Erasure
from lrs_domain.achievements import (
    KIND_OF_EVENT_TYPE,
    AchievementChange,
    AchievementEvent,
    AchievementEventMismatch,
    implied_status,
    step,
)
from lrs_platform.database import advisory_lock_key, create_pool
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import configure_logging, get_logger
from lrs_platform.settings import load_settings
from plr_projector.config import ProjectorSettings
from plr_projector.consumer import Topics
from plr_projector.projection import (
    DECIDER,
    PLR_TOPIC,
    AchievementKeyTuple,
    AchievementRow,
    BatchChanges,
    BatchPartition,
    CentreKey,
    CentreRow,
    ChallengeRow,
    Decoded,
    LearnerRow,
    Mark,
    Message,
    OperatorAction,
    ParkedHeads,
    Position,
    ProviderLinkRow,
    Snapshot,
    achievement_key,
    decode_message,
    held_behind,
    is_copy,
    marked_line,
    note_head,
    project_batch,
    stream_of,
)
from plr_projector.storable import ESCAPE, INT4_MAX, INT4_MIN, may_spell_unstorable
from plr_projector.store import BULK_COLUMNS, OPS_SCHEMA, ReadModel, operator_actions, parked_row

_log = get_logger("plr_projector.rebuild")

Partition = tuple[str, int]  # (logical topic, partition)
Ranges = dict[Partition, tuple[int, int]]  # partition -> (first offset, target offset)

# Records read and folded at a time: with the fetch sizes in `_load`, a worker's memory beside its pass.
CHUNK_RECORDS = 5_000
FLUSH_ROWS = 20_000
PROGRESS_SECONDS = 0.5


# --- the plan -----------------------------------------------------------------------------------


def plan_slices(ranges: Mapping[Partition, tuple[int, int]], workers: int) -> list[Ranges]:
    """The PLR topic's partitions dealt round robin; the learner and challenge topics to worker 0."""
    slices: list[Ranges] = [{} for _ in range(max(1, workers))]
    plr = sorted(partition for partition in ranges if partition[0] == PLR_TOPIC)
    for number, partition in enumerate(plr):
        slices[number % len(slices)][partition] = ranges[partition]
    for partition in sorted(ranges):
        if partition[0] != PLR_TOPIC:
            slices[0][partition] = ranges[partition]
    return slices


def events_in(ranges: Mapping[Partition, tuple[int, int]], topic: str | None = None) -> int:
    return sum(target - first for (name, _), (first, target) in ranges.items() if topic is None or name == topic)


def passes_for(ranges: Mapping[Partition, tuple[int, int]], events_per_pass: int) -> int:
    """Passes of at most about `events_per_pass` PLR events (10% more rather than one more pass)."""
    return max(1, math.ceil(events_in(ranges, PLR_TOPIC) / max(1, events_per_pass) - 0.1))


def ranges_to_json(ranges: Mapping[Partition, tuple[int, int]]) -> str:
    return json.dumps({f"{topic}:{partition}": list(span) for (topic, partition), span in sorted(ranges.items())})


def ranges_from_json(text: str | dict[str, list[int]]) -> Ranges:
    data: dict[str, list[int]] = json.loads(text) if isinstance(text, str) else text
    ranges: Ranges = {}
    for name, (first, target) in data.items():
        topic, _, partition = name.rpartition(":")
        ranges[(topic, int(partition))] = (int(first), int(target))
    return ranges


def worker_environment(settings: ProjectorSettings) -> dict[str, str]:
    """The environment a local worker process reads its settings from: the projector's own."""
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PROJECTOR_TOPIC_PREFIX": settings.topic_prefix,
        "PROJECTOR_LOG_LEVEL": settings.log_level,
    }
    if settings.log_json is not None:
        environment["PROJECTOR_LOG_JSON"] = str(settings.log_json).lower()
    if settings.rebuild_spill_dir is not None:
        environment["PROJECTOR_REBUILD_SPILL_DIR"] = settings.rebuild_spill_dir
    return environment


# --- decoding and folding -----------------------------------------------------------------------

# An achievement's state in a pass, beside its key: what its final row needs and nothing more,
# [achievement_id, status, withdrawn, version, data, qualification, date_loaded, last_changed_at],
# `data` and `qualification` being the decoder's shared tuples of AchievementData's and
# QualificationSummary's values.
Row = list[Any]


class Record(Protocol):
    """What the fold reads of a record: Kafka's, or one kept in a pass's file."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


Records = tuple[str, int, Sequence[Record]]  # (logical topic, partition, records in log order)


def _layout(model: type[Any], *names: str) -> None:
    """The plain path unpacks the contracts' tuples by position: refuse to run on another layout."""
    if plain_fields(model) != names:
        raise RuntimeError(f"the rebuild reads {model.__name__} as {names}, not {plain_fields(model)}")


_layout(AchievementRecorded, "event_type", "achievement_id", "key", "data", "status", "qualification", "provenance")
_layout(AchievementUpdated, "event_type", "achievement_id", "key", "data", "status", "provenance")
_layout(AchievementSuperseded, "event_type", "achievement_id", "key", "data", "provenance")
_layout(AchievementWithdrawn, "event_type", "achievement_id", "key", "provenance")
_layout(AchievementReinstated, "event_type", "achievement_id", "key", "provenance")
_layout(AchievementKey, "ao_id", "uln", "qualification_number", "award_date")
_layout(AchievementData, "pathway", "grade", "ukprn", "language_for_assessment", "credits")
_layout(QualificationSummary, "title", "qualification_type", "level", "framework", "kind", "awarding_organisation_name")
_layout(Provenance, "batch_id", "line", "mis_identifier")
if BULK_COLUMNS["achievements"][:8] != (
    "uln",
    "ao_id",
    "qualification_number",
    "award_date",
    "achievement_id",
    "status",
    "withdrawn",
    "version",
) or BULK_COLUMNS["achievements"][8:] != (
    *plain_fields(AchievementData),
    *plain_fields(QualificationSummary),
    "date_loaded",
    "last_changed_at",
):
    raise RuntimeError(f"the rebuild does not know the achievement columns {BULK_COLUMNS['achievements']}")
if BULK_COLUMNS["achievement_history"] != (
    "uln",
    "ao_id",
    "qualification_number",
    "award_date",
    "version",
    "change",
    "event_id",
    "occurred_at",
    "batch_id",
    "line",
    "achievement_id",
    "status",
    "withdrawn",
    "grade",
    "ukprn",
    "language_for_assessment",
    "credits",
    "pathway",
):
    raise RuntimeError(f"the rebuild does not know the history columns {BULK_COLUMNS['achievement_history']}")

_SOURCE = plain_fields(Envelope).index("source")
# The status an event that says none carries, as the domain's fold takes it (a supersession's: Final)
_IMPLIED_STATUS = {kind: implied_status(kind) for kind in AchievementChange}
_STATUS = {status.value: status for status in ResultStatus}
_TEXT: dict[ResultStatus | AchievementChange, str] = {  # `.value` of an enum is a property: slow
    member: member.value for members in (ResultStatus, AchievementChange) for member in members
}


class FoldState:
    """A pass's model in memory: each key's row, and what the fold skips (applied ids, parked streams)."""

    def __init__(
        self, actions: Mapping[Position, OperatorAction], slice_marks: Mapping[tuple[str, int], Mark] | None = None
    ) -> None:
        self.achievements: dict[AchievementKeyTuple, Row] = {}
        self.centre: dict[CentreKey, CentreRow] = {}
        self.learners: dict[str, LearnerRow] = {}
        self.links: set[ProviderLinkRow] = set()
        self.ended_links: set[ProviderLinkRow] = set()  # `provider_links_ended`: never taken back
        self.erased_ulns: set[str] = set()
        self.challenges: dict[uuid.UUID, ChallengeRow] = {}
        self.blocked: ParkedHeads = {}
        self._actions = actions
        self._applied: set[int] = set()  # ids (as integers: half the memory of their text) of unmarked events
        # The marks of the decisions' events (decision 0097), by the batch id's canonical text (the
        # plain decode's): a string's hash is kept with it, a UUID's is computed in Python each time.
        self._marks: dict[tuple[str, int], Mark] = {}
        # The slice's marks (`SliceMarks`), of every learner's lines: what a copy is also checked against,
        # never written (the pass's own marks are).
        self._slice_marks: Mapping[tuple[str, int], Mark] = {} if slice_marks is None else slice_marks
        self._names: dict[str, str] = {}

    @property
    def marks(self) -> dict[BatchPartition, Mark]:
        return {(uuid.UUID(batch_id), partition): mark for (batch_id, partition), mark in self._marks.items()}

    def fold(self, chunk: Sequence[Records], rows: Rows) -> None:
        """Folds a chunk of records (each partition's in log order) into the state, adding the rows
        known at once (history, applied ids, parked records) to `rows`."""
        for topic, partition, records in chunk:
            if topic == PLR_TOPIC:
                self._fold_plain(partition, records, rows)
            else:
                self._fold_slow([_message(topic, partition, record) for record in records], rows)

    def _fold_plain(self, partition: int, records: Sequence[Record], rows: Rows) -> None:
        """PLR records: each achievement event as `project_batch` folds it, from plain values; a
        record the plain path does not take (one whose values the read model may not hold among them,
        `storable`) goes through `_fold_slow`, in its place in the order."""
        achievements, applied_ids, marks, slice_marks, names, blocked, actions = (
            self.achievements,
            self._applied,
            self._marks,
            self._slice_marks,
            self._names,
            self.blocked,
            self._actions,
        )
        history, applied_rows = rows.history.append, rows.applied.append
        for record in records:
            value = record.value
            if (
                value is None
                or (blocked and stream_of(PLR_TOPIC, partition, record.offset, record.key) in blocked)
                or (actions and (PLR_TOPIC, partition, record.offset) in actions)
            ):
                self._fold_slow([_message(PLR_TOPIC, partition, record)], rows)
                continue
            try:
                envelope, payload = decode_plain(value)
            except NotFast:
                self._fold_slow([_message(PLR_TOPIC, partition, record)], rows)
                continue
            event_id, event_type, occurred_at = envelope[0], envelope[1], envelope[2]
            kind = KIND_OF_EVENT_TYPE.get(event_type)
            if kind is None:
                self._fold_slow([_message(PLR_TOPIC, partition, record)], rows)
                continue
            provenance = payload[-1]
            marked = envelope[_SOURCE] == DECIDER
            if marked:
                batch, line, offset = (provenance[0], partition), provenance[1], record.offset
                mark = marks.get(batch)
                if mark is not None and line <= mark[0] and offset > mark[1]:  # is_copy
                    continue  # a copy of an applied event
                if (
                    slice_marks
                    and (slice_mark := slice_marks.get(batch)) is not None
                    and line <= slice_mark[0]
                    and offset > slice_mark[1]
                ):
                    continue  # a copy, by a line of the batch another pass folds
            else:
                event_number = int(event_id.replace("-", ""), 16)  # the canonical text the plain decode gives
                if event_number in applied_ids:
                    continue  # a duplicate: the log's own copy of an applied event
            event_achievement, (ao_id, uln, qualification_number, award_date) = payload[1], payload[2]
            key = (uln, ao_id, qualification_number, award_date)
            if kind is AchievementChange.RECORDED or kind is AchievementChange.UPDATED:
                data, event_status = payload[3], payload[4]
            elif kind is AchievementChange.SUPERSEDED:
                data, event_status = payload[3], _IMPLIED_STATUS[kind]
            else:
                data, event_status = None, _IMPLIED_STATUS[kind]
            # A value the read model may not hold (`storable`): `_fold_slow` parks it, in the projector's own
            # words. The bytes are searched after decoding them, when they are in the cache.
            if (
                provenance[1] > INT4_MAX
                or (data is not None and (credits := data[4]) is not None and not INT4_MIN <= credits <= INT4_MAX)
                or (value.find(ESCAPE) != -1 and may_spell_unstorable(value))
            ):
                self._fold_slow([_message(PLR_TOPIC, partition, record)], rows)
                continue
            row = achievements.get(key)
            try:
                if row is None:
                    moved = step(
                        None,
                        kind,
                        withdrawn=False,
                        event_status=event_status,
                        data_differs=True,
                        event_achievement_id=event_achievement,
                        achievement_id=None,
                    )
                else:
                    achievement_id, status_text, is_withdrawn, _version, current_data, _, _, _ = row  # `Row`
                    moved = step(
                        _STATUS[status_text],
                        kind,
                        withdrawn=is_withdrawn,
                        event_status=event_status,
                        data_differs=data is not None and data != current_data,
                        event_achievement_id=event_achievement,
                        achievement_id=achievement_id,
                    )
            except AchievementEventMismatch:  # parked, with the projector's own words
                self._fold_slow([_message(PLR_TOPIC, partition, record)], rows)
                continue
            if not marked:
                applied_ids.add(event_number)
                applied_rows((event_id,))
            elif mark is None or line > mark[0] or (line == mark[0] and offset > mark[1]):
                marks[batch] = (line, offset)
            if moved is None:
                continue
            change, status, withdrawn = moved
            occurred_at = occurred_at.astimezone(UTC)
            if row is None or change is AchievementChange.RECREATED:
                # an AO's and a qualification's names are shared by many rows: keep one copy
                ao_id = names.setdefault(ao_id, ao_id)
                qualification_number = names.setdefault(qualification_number, qualification_number)
                row = [
                    event_achievement,
                    _TEXT[status],
                    False,
                    1 if row is None else row[3] + 1,
                    data,
                    payload[5],
                    occurred_at,
                    occurred_at,
                ]
                achievements[(uln, ao_id, qualification_number, award_date)] = row
            else:
                row[1] = _TEXT[status]
                row[2] = withdrawn
                row[3] += 1
                if data is not None:
                    row[4] = data
                row[7] = occurred_at
            pathway, grade, ukprn, language, credits = row[4]
            history(
                (
                    uln,
                    ao_id,
                    qualification_number,
                    award_date,
                    row[3],
                    _TEXT[change],
                    event_id,
                    occurred_at,
                    provenance[0],
                    provenance[1],
                    row[0],
                    row[1],
                    row[2],
                    grade,
                    ukprn,
                    language,
                    credits,
                    pathway,
                )
            )

    def _copy_by_slice(self, item: Decoded) -> bool:
        """Whether `project_batch` would drop `item` as a copy with the slice's mark of its batch: an event it
        folds (not skipped, decoded, not held behind a parked stream) at or below that mark's line, past it."""
        if item.skipped or item.envelope is None or item.payload is None:
            return False
        line = marked_line(item.message, item.envelope, item.payload)
        if line is None or held_behind(item.message, self.blocked):
            return False
        (batch_id, partition), number = line
        return is_copy(self._slice_marks.get((str(batch_id), partition)), number, item.message.offset)

    def _fold_slow(self, messages: list[Message], rows: Rows) -> None:
        """`project_batch` of the messages against the state, as the live loop does against the tables."""
        decoded = [decode_message(message, self._actions) for message in messages]
        if self._slice_marks:  # PLR records come here one at a time: `blocked` is the one they meet
            decoded = [item for item in decoded if not self._copy_by_slice(item)]
        keys = {achievement_key(item.payload.key) for item in decoded if isinstance(item.payload, AchievementEvent)}
        erasing = {(item.payload.uln, item.payload.ao_id) for item in decoded if isinstance(item.payload, Erasure)}
        if erasing:  # a Sandpit reset reads every achievement of the learner at the AO
            keys |= {key for key in self.achievements if (key[0], key[1]) in erasing}
        batches = {
            line[0]
            for item in decoded
            if item.envelope is not None
            and item.payload is not None
            and (line := marked_line(item.message, item.envelope, item.payload)) is not None
        }
        snapshot = Snapshot(
            achievements={key: _row_model(key, self.achievements[key]) for key in keys if key in self.achievements},
            learners=self.learners,
            seen_event_ids={
                item.envelope.event_id
                for item in decoded
                if item.envelope is not None and item.envelope.event_id.int in self._applied
            },
            parked_streams=self.blocked,
            erased_ulns=self.erased_ulns,
            marks={
                (batch_id, partition): self._marks[(str(batch_id), partition)]
                for batch_id, partition in batches
                if (str(batch_id), partition) in self._marks
            },
        )
        changes = project_batch(snapshot, decoded)
        self._marks.update(((str(batch_id), partition), mark) for (batch_id, partition), mark in changes.marks.items())
        for key in changes.erased:
            self.achievements.pop(key, None)
        for key, achievement in changes.achievements.items():
            self.achievements[key] = row_of(achievement)
        self.centre.update(changes.centre)
        self.learners.update(changes.learners)
        self.links |= changes.links
        self.links -= changes.unlinks
        self.ended_links |= changes.ended_links
        self.erased_ulns |= changes.erased_ulns
        self.challenges.update(changes.challenges)
        self._applied.update(event_id.int for event_id in changes.applied_event_ids)
        for parked in changes.parked:
            note_head(self.blocked, parked.message)
        rows.add(changes)


_DATA_VALUES = operator.attrgetter(*plain_fields(AchievementData))
_QUALIFICATION_VALUES = operator.attrgetter(*plain_fields(QualificationSummary))


def _message(topic: str, partition: int, record: Record) -> Message:
    return Message(topic, partition, record.offset, record.key, record.value, record.timestamp)


def achievement_row(key: AchievementKeyTuple, row: Row) -> tuple[Any, ...]:
    """An achievement's values in the order of BULK_COLUMNS["achievements"]."""
    achievement_id, status, withdrawn, version, data, qualification, date_loaded, last_changed_at = row
    return (
        *key,
        achievement_id,
        status,
        withdrawn,
        version,
        *data,
        *qualification,
        date_loaded,
        last_changed_at,
    )


def _row_model(key: AchievementKeyTuple, row: Row) -> AchievementRow:
    values = achievement_row(key, row)
    return AchievementRow._make((*key, uuid.UUID(row[0]), *values[5:]))


def row_of(achievement: AchievementRow) -> Row:
    """An achievement's state as the fold keeps it."""
    return [
        str(achievement.achievement_id),
        achievement.status,
        achievement.withdrawn,
        achievement.version,
        _DATA_VALUES(achievement),
        _QUALIFICATION_VALUES(achievement),
        achievement.date_loaded,
        achievement.last_changed_at,
    ]


# --- writing ------------------------------------------------------------------------------------

_ROW_VALUES: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    table: operator.attrgetter(*columns) for table, columns in BULK_COLUMNS.items() if len(columns) > 1
}


class Rows:
    """Rows to COPY, per table in the order of BULK_COLUMNS; the plain fold appends to `history`
    and `applied` itself."""

    def __init__(self) -> None:
        self.tables: dict[str, list[Sequence[Any]]] = {table: [] for table in BULK_COLUMNS}
        self.history = self.tables["achievement_history"]
        self.applied = self.tables["processed_events"]
        self.erased: set[AchievementKeyTuple] = set()  # history already written, to delete before these rows
        self.marks: dict[BatchPartition, Mark] = {}  # the pass's marks, at its end
        self.achievements: AchievementRows | None = None  # each key's last version, at the end of a pass

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def add(self, changes: BatchChanges) -> None:
        if changes.erased:  # a Sandpit reset: the history so far of these achievements goes
            self.history[:] = [row for row in self.history if tuple(row[:4]) not in changes.erased]
            self.erased |= changes.erased
        history = _ROW_VALUES["achievement_history"]
        self.history += [history(entry) for entry in changes.history]
        self.applied += [(event_id,) for event_id in changes.applied_event_ids]
        self.tables["parked"] += [parked_row(parked) for parked in changes.parked]

    def add_final(self, state: FoldState) -> None:
        """The rows that are only known at the end of a pass: each key's last version."""
        self.achievements = AchievementRows(state.achievements)
        self.marks = state.marks
        # An erased learner's reports keep no free text: those folded before the erasure lose it here (those after
        # it were folded without it); those of other workers and passes when the rebuild's tables are restored
        # (`rebuild_jobs`), as only this worker's first pass reads the erasures.
        centre = [row.without_free_text() if row.uln in state.erased_ulns else row for row in state.centre.values()]
        for table, rows in (
            ("centre_achievements", centre),
            ("learners", state.learners.values()),
            ("provider_links", sorted(state.links)),
            ("provider_links_ended", sorted(state.ended_links)),
            ("challenges", state.challenges.values()),
        ):
            values = _ROW_VALUES[table]
            self.tables[table] += [values(row) for row in rows]
        self.tables["erased_learners"] += [(uln,) for uln in sorted(state.erased_ulns)]

    def batches(self) -> dict[str, Batch]:
        """Each table's rows, for the tables that have some."""
        batches: dict[str, Batch] = {table: rows for table, rows in self.tables.items() if rows}
        if self.achievements:
            batches["achievements"] = self.achievements
        return batches


class Batch(Protocol):
    """A table's rows to COPY."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Sequence[Any]]: ...


class AchievementRows:
    """The achievements' rows of a pass, each made as COPY reads it rather than all kept at once."""

    def __init__(self, achievements: Mapping[AchievementKeyTuple, Row]) -> None:
        self._achievements = achievements

    def __len__(self) -> int:
        return len(self._achievements)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return (achievement_row(key, row) for key, row in self._achievements.items())


class BulkWriter:
    """COPYs (binary) the rows folded so far into the schema; one COPY runs while the next chunk is
    folded."""

    def __init__(self, connection: asyncpg.Connection, schema: str) -> None:
        self._connection = connection
        self._schema = schema
        self.rows = Rows()
        self._copying: asyncio.Task[None] | None = None
        self.written: dict[str, int] = dict.fromkeys(BULK_COLUMNS, 0)

    async def flush_if_full(self) -> None:
        if len(self.rows) >= FLUSH_ROWS:
            await self.flush(wait=False)

    async def flush(self, *, wait: bool = True) -> None:
        if self._copying is not None:
            await self._copying
            self._copying = None
        batches = self.rows.batches()
        erased, marks = self.rows.erased, self.rows.marks
        self.rows = Rows()
        if batches or erased or marks:
            self._copying = asyncio.create_task(self._copy(batches, erased, marks))
        if wait and self._copying is not None:
            await self._copying
            self._copying = None

    async def _copy(
        self, batches: dict[str, Batch], erased: set[AchievementKeyTuple], marks: Mapping[BatchPartition, Mark]
    ) -> None:
        if erased:
            await self._connection.execute(
                f'DELETE FROM "{self._schema}".achievement_history t USING unnest($1::text[], $2::text[],'
                " $3::text[], $4::date[]) AS erased(uln, ao_id, qualification_number, award_date)"
                " WHERE (t.uln, t.ao_id, t.qualification_number, t.award_date)"
                " = (erased.uln, erased.ao_id, erased.qualification_number, erased.award_date)",
                *(list(column) for column in zip(*erased, strict=True)),
            )
        for table, rows in batches.items():
            await self._connection.copy_records_to_table(
                table, records=rows, columns=list(BULK_COLUMNS[table]), schema_name=self._schema
            )
            self.written[table] += len(rows)
        if marks:  # a pass's are those of its learners' events: kept where higher than an earlier pass's
            await ReadModel(self._schema).raise_marks(self._connection, marks)


# --- reading ------------------------------------------------------------------------------------


async def read_slice(
    consumer: AIOKafkaConsumer,
    topics: Topics,
    ranges: Mapping[Partition, tuple[int, int]],
    number: int,
    passes: int,
    spill: Spill | None = None,
    slice_marks: SliceMarks | None = None,
) -> AsyncIterator[tuple[list[Records], int]]:
    """Chunks of the records pass `number` folds, below their targets and in each partition's order,
    with the number of offsets read so far (transaction markers included). With `spill`, the PLR
    records of the later passes go to their files; with `slice_marks`, the marks of the other passes'
    PLR records are taken (before the chunk is folded)."""
    wanted = {
        TopicPartition(topics.physical(topic), partition): span
        for (topic, partition), span in ranges.items()
        if span[0] < span[1] and (number == 0 or topic == PLR_TOPIC)
    }
    if not wanted:
        return
    consumer.assign(list(wanted))
    for tp, (first, _) in wanted.items():
        consumer.seek(tp, first)
    open_partitions = set(wanted)
    chunk: list[Records] = []
    size = 0
    while open_partitions:
        fetched = await consumer.getmany(*open_partitions, timeout_ms=500, max_records=CHUNK_RECORDS)
        for tp, records in fetched.items():
            target = wanted[tp][1]
            logical = topics.logical(tp.topic)
            if records and records[-1].offset >= target:
                records = [record for record in records if record.offset < target]
            if passes > 1 and logical == PLR_TOPIC:
                if spill is not None:
                    records = spill.split(tp.partition, records, number, slice_marks)
                else:
                    if slice_marks is not None:
                        slice_marks.note(
                            tp.partition,
                            [record for record in records if not in_pass(logical, record.key, number, passes)],
                        )
                    records = [record for record in records if in_pass(logical, record.key, number, passes)]
            chunk.append((logical, tp.partition, records))
            size += len(records)
        positions = {tp: await consumer.position(tp) for tp in open_partitions}
        open_partitions = {tp for tp, position in positions.items() if position < wanted[tp][1]}
        if size >= CHUNK_RECORDS or not open_partitions:
            done = 0
            for tp, (first, target) in wanted.items():
                done += (min(positions[tp], target) if tp in positions else target) - first
            yield chunk, done
            chunk = []
            size = 0


_PROVENANCE = b'"provenance":{"batch_id":"'
# where `_PROVENANCE` is: the batch id and the line, as the encoder writes them (the mis_identifier follows)
_MARKED = re.compile(rb'"provenance":\{"batch_id":"([0-9a-fA-F-]{36})","line":([1-9][0-9]{0,17}),').match
_FROM_DECIDER = f'"source":"{DECIDER}"'.encode()


class SliceMarks:
    """The batches' marks of a whole slice, for every pass (decision 0097): a pass folds some learners, and a
    copy of an event is known by the line of its batch that another learner's event raised, which may be in
    another pass (an operator skipped the original: the pass has no mark of its own).

    Per (batch, partition) the highest line and the offset of its first event, as the live loop's mark is after
    the slice. The pass that reads the log takes them from the bytes of the other passes' records as the
    projector's encoder writes them (no decoding: a few searches a record), then adds the marks it applied
    itself. A position an operator skipped is left out, one replaced is read from its replacement. An event of
    another pass that is not applied (parked: refused by the fold, undecodable, held behind a parked stream)
    still counts: a copy whose original was skipped and whose batch's only higher lines in the partition are
    parked is dropped, where the live loop and one pass fold it again (see decision 0097)."""

    def __init__(self, actions: Mapping[Position, OperatorAction]) -> None:
        self.marks: dict[tuple[str, int], Mark] = {}
        # partition -> offset -> the (batch id, line) an operator's action leaves at that position (None: nothing)
        self._actions: dict[int, dict[int, tuple[str, int] | None]] = {}
        for (topic, partition, offset), action in actions.items():
            if topic != PLR_TOPIC:
                continue
            left: tuple[str, int] | None = None
            if action.action == "replace":
                item = decode_message(Message(topic, partition, offset, None, action.replacement, 0))
                if item.envelope is not None and item.payload is not None:
                    line = marked_line(item.message, item.envelope, item.payload)
                    if line is not None:
                        left = (str(line[0][0]), line[1])
            self._actions.setdefault(partition, {})[offset] = left

    def note(self, partition: int, records: Sequence[Record]) -> None:
        """Takes the marks of a partition's records, read in log order. A batch's events are together in the
        log: its batch id is read once a run of them."""
        marks, acted = self.marks, self._actions.get(partition)
        run_raw, run_key, run_mark = b"", ("", partition), (0, -1)  # the run's batch (its bytes), and its mark
        for record in records:
            if acted and record.offset in acted:
                left = acted[record.offset]
                if left is None:
                    continue
                key, line = (left[0], partition), left[1]
                mark = marks.get(key)
                if mark is None or line > mark[0]:
                    marks[key] = (line, record.offset)
                run_raw = b""  # the run's mark may have changed under it
                continue
            value = record.value
            if not value:
                continue
            # Only an achievement event has a provenance: its payload's last field, near the end
            at = value.rfind(_PROVENANCE)
            if at == -1 or value.find(_FROM_DECIDER) == -1:  # the envelope's: a text's quotes are escaped
                continue
            found = _MARKED(value, at)
            if found is None:
                continue  # another layout
            raw, digits = found.groups()
            line = int(digits)
            if line > INT4_MAX:
                continue  # a line the read model may not hold: parked, never applied
            if raw != run_raw:
                run_raw, run_key = raw, (raw.decode("ascii", errors="replace").lower(), partition)
                run_mark = marks.get(run_key, (0, -1))
            if line > run_mark[0]:
                marks[run_key] = run_mark = (line, record.offset)

    def add_applied(self, marks: Mapping[tuple[str, int], Mark]) -> None:
        """Takes the marks a pass applied (those of the pass that read the log, whose records `note` left out)."""
        seen = self.marks
        for key, (line, offset) in marks.items():
            mark = seen.get(key)
            if mark is None or line > mark[0] or (line == mark[0] and offset < mark[1]):
                seen[key] = (line, offset)


class Spilled(NamedTuple):
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


_SPILLED = struct.Struct("<iqqii")  # partition, offset, timestamp, key length, value length (-1: None)


class Spill:
    """The PLR records of a slice's later passes, one local file per pass, written by the first
    pass this process reads from the log and read back, in the same order, by the later ones."""

    def __init__(self, directory: Path, first: int, passes: int) -> None:
        shutil.rmtree(directory, ignore_errors=True)  # a dead process's files: incomplete
        directory.mkdir(parents=True)
        self.directory = directory
        self._passes = passes
        self._files: dict[int, IO[bytes]] = {
            number: (directory / f"pass-{number}").open("wb") for number in range(first + 1, passes)
        }
        self.counts = dict.fromkeys(self._files, 0)

    def split(
        self, partition: int, records: Sequence[Record], number: int, slice_marks: SliceMarks | None = None
    ) -> list[Record]:
        """The records of pass `number` (the pass reading the log); those of later passes are kept. The marks
        of the other passes' records go to `slice_marks`."""
        pack = _SPILLED.pack
        this_pass: list[Record] = []
        others: list[Record] | None = None if slice_marks is None else []
        for record in records:
            owner = zlib.crc32(record.key or b"") % self._passes
            if owner == number:
                this_pass.append(record)
                continue
            if others is not None:
                others.append(record)
            if owner > number:
                key, value = record.key, record.value
                self._files[owner].write(
                    pack(
                        partition,
                        record.offset,
                        record.timestamp,
                        -1 if key is None else len(key),
                        -1 if value is None else len(value),
                    )
                )
                if key:
                    self._files[owner].write(key)
                if value:
                    self._files[owner].write(value)
                self.counts[owner] += 1
        if others and slice_marks is not None:
            slice_marks.note(partition, others)
        return this_pass

    def read(self, number: int) -> Iterator[tuple[list[Records], int]]:
        """Chunks of pass `number`'s records, with how many were read so far."""
        self._files[number].close()
        path = self.directory / f"pass-{number}"
        read = 0
        with path.open("rb") as source:
            while True:
                chunk: list[Records] = []
                run: list[Spilled] = []
                for _ in range(CHUNK_RECORDS):
                    header = source.read(_SPILLED.size)
                    if not header:
                        break
                    partition, offset, timestamp, key_length, value_length = _SPILLED.unpack(header)
                    key = source.read(key_length) if key_length >= 0 else None
                    value = source.read(value_length) if value_length >= 0 else None
                    if not chunk or chunk[-1][1] != partition:
                        run = []
                        chunk.append((PLR_TOPIC, partition, run))
                    run.append(Spilled(offset, timestamp, key, value))
                    read += 1
                if not chunk:
                    break
                yield chunk, read
        path.unlink()

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def in_pass(topic: str, key: bytes | None, number: int, passes: int) -> bool:
    """Which pass folds a record: PLR records by their learner, everything else in the first."""
    if topic != PLR_TOPIC:
        return number == 0
    return passes == 1 or zlib.crc32(key or b"") % passes == number


# --- one worker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerPlan:
    rebuild_id: int
    worker: int
    schema: str
    ranges: Ranges
    passes: int
    passes_done: int
    events_total: int
    cpu_seconds: float


class WorkerFailed(Exception):
    """The worker could not finish its slice; its row in plr_ops.rebuild_workers says why."""


class WorkerStopped(Exception):
    """The projector ended this worker's row (its rebuild failed or was abandoned): it writes nothing more."""


def _lock_key(rebuild_id: int, worker: int) -> int:
    return advisory_lock_key(f"plr-rebuild|{rebuild_id}|{worker}")


async def _plan(connection: asyncpg.Connection, rebuild_id: int | None, worker: int) -> WorkerPlan | None:
    row = await connection.fetchrow(
        f"SELECT r.rebuild_id, r.schema_name, w.partitions, w.passes, w.passes_done, w.events_total, w.state,"
        " w.cpu_seconds"
        f" FROM {OPS_SCHEMA}.rebuilds r JOIN {OPS_SCHEMA}.rebuild_workers w USING (rebuild_id)"
        " WHERE w.worker = $2 AND ($1::integer IS NULL OR r.rebuild_id = $1)"
        " AND r.state = 'running' AND r.phase = 'loading' ORDER BY r.rebuild_id DESC LIMIT 1",
        rebuild_id,
        worker,
    )
    if row is None or row["state"] == "done":
        return None
    return WorkerPlan(
        rebuild_id=row["rebuild_id"],
        worker=worker,
        schema=row["schema_name"],
        ranges=ranges_from_json(row["partitions"]),
        passes=row["passes"],
        passes_done=row["passes_done"],
        events_total=row["events_total"],
        cpu_seconds=row["cpu_seconds"],
    )


# What a worker's row is while the worker may write: `running`, as it marked it on starting, and as the projector
# leaves it until the rebuild fails or is abandoned (`rebuild_jobs._FAIL_REBUILD`)
_STILL_RUNNING = "state = 'running'"
# ... and as it starts (a failed row taken up again by the Job's retry) or fails: its rebuild still loading
_STILL_LOADING = (
    f"EXISTS (SELECT FROM {OPS_SCHEMA}.rebuilds r WHERE r.rebuild_id = $1 AND r.state = 'running'"
    " AND r.phase = 'loading')"
)


async def _report(
    connection: asyncpg.Connection, plan: WorkerPlan, *, only_if: str = _STILL_RUNNING, **values: Any
) -> None:
    """Writes `values` to the worker's row; `WorkerStopped`, writing nothing, once the projector has ended the row."""
    assignments = ", ".join(f"{name} = ${number}" for number, name in enumerate(values, start=3))
    updated = await connection.execute(
        f"UPDATE {OPS_SCHEMA}.rebuild_workers SET {assignments}, updated_at = now()"
        f" WHERE rebuild_id = $1 AND worker = $2 AND {only_if}",
        plan.rebuild_id,
        plan.worker,
        *values.values(),
    )
    if updated == "UPDATE 0":
        raise WorkerStopped(f"rebuild {plan.rebuild_id} worker {plan.worker} stopped by the projector")


async def run_worker(settings: ProjectorSettings, worker: int, rebuild_id: int | None = None) -> bool:
    """Loads this worker's slice of the running rebuild; False when there was nothing to do, or the projector
    stopped it (its rebuild failed or was abandoned: what it had not committed is rolled back)."""
    pool = await create_pool(settings.database_url, min_size=2, max_size=2)
    try:
        async with pool.acquire() as control:
            plan = await _plan(control, rebuild_id, worker)
            if plan is None:
                return False
            # A second process for the same slice (an orphan of a restarted projector, a retried
            # Job pod) waits here, then finds the work done or goes on from the last finished pass.
            await control.execute("SELECT pg_advisory_lock($1)", _lock_key(plan.rebuild_id, worker))
            plan = await _plan(control, plan.rebuild_id, worker)
            if plan is None:
                return False
            try:
                try:
                    await _load(settings, pool, control, plan)
                except WorkerStopped:
                    raise
                except Exception as error:
                    message = f"{type(error).__name__}: {str(error)[:300]}"
                    _log.warning("rebuild_worker_failed", rebuild_id=plan.rebuild_id, worker=worker, error=message)
                    # unless the projector has ended the row (its reason kept): a row not yet running is failed too
                    await _report(control, plan, only_if=_STILL_LOADING, state="failed", error=message)
                    raise WorkerFailed(message) from error
            except WorkerStopped:
                _log.info("rebuild_worker_stopped", rebuild_id=plan.rebuild_id, worker=worker)
                return False
            return True
    finally:
        await pool.close()


async def _load(settings: ProjectorSettings, pool: asyncpg.Pool, control: asyncpg.Connection, plan: WorkerPlan) -> None:
    topics = Topics.of(settings)
    started = time.monotonic()
    # CPU of the passes already done (by an earlier process), and of this process before its first
    cpu_before = plan.cpu_seconds - time.process_time()
    await _report(control, plan, only_if=_STILL_LOADING, state="running", error=None)
    actions = await operator_actions(control)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers,
        group_id=None,
        max_partition_fetch_bytes=2 * 1_048_576,
        fetch_max_bytes=8 * 1_048_576,
    )
    await consumer.start()
    events = plan.events_total
    read_before = plan.passes_done * events
    spill: Spill | None = None
    # Every pass knows a copy by the marks of the whole slice: the first pass this process runs reads every
    # record of the slice, takes the marks of the other passes' records, and at its end adds its own. Only an
    # operator's skip or replacement on the PLR log leaves a pass without a mark of its own for a copy (its
    # original is the same learner's, in the same pass): without one, no record is looked at for them (~1 µs each).
    operated = any(topic == PLR_TOPIC for topic, _, _ in actions)
    slice_marks = SliceMarks(actions) if plan.passes > 1 and operated else None
    if plan.passes - plan.passes_done > 1:
        # one directory per (database, rebuild, worker): a second system's workers on the host (a
        # Sandpit's) have their own; this worker's next process clears what a killed one left
        system = hashlib.sha256(f"{settings.database_url}|{settings.topic_prefix}".encode()).hexdigest()[:12]
        directory = Path(settings.rebuild_spill_dir or tempfile.gettempdir())
        spill = Spill(
            directory / f"plr-rebuild-{system}-{plan.rebuild_id}-worker-{plan.worker}", plan.passes_done, plan.passes
        )
    try:
        for number in range(plan.passes_done, plan.passes):
            # The pass's state is millions of objects without cycles: the cyclic collector would
            # walk all of them again and again (a third of the time); one collection per pass.
            gc.disable()
            async with pool.acquire() as connection, connection.transaction():
                state = FoldState(actions, None if slice_marks is None else slice_marks.marks)
                writer = BulkWriter(connection, plan.schema)
                reported = time.monotonic()
                async for chunk, done in _chunks(consumer, topics, plan, number, spill, slice_marks):
                    state.fold(chunk, writer.rows)
                    await writer.flush_if_full()
                    if time.monotonic() - reported >= PROGRESS_SECONDS:
                        await _report(
                            control, plan, events_read=read_before + done, cpu_seconds=cpu_before + time.process_time()
                        )
                        reported = time.monotonic()
                writer.rows.add_final(state)
                if slice_marks is not None and number == plan.passes_done:
                    slice_marks.add_applied(state._marks)
                await writer.flush()
                read_before += events
                # in the pass's transaction: a worker stopped meanwhile commits nothing of it
                await _report(
                    connection,
                    plan,
                    passes_done=number + 1,
                    events_read=read_before,
                    cpu_seconds=cpu_before + time.process_time(),
                )
            _log.info(
                "rebuild_pass_loaded",
                rebuild_id=plan.rebuild_id,
                worker=plan.worker,
                passed=number + 1,
                passes=plan.passes,
                rows=writer.written,
                parked_streams=len(state.blocked),
            )
            del state, writer
            gc.enable()
            gc.collect()
    finally:
        gc.enable()
        await consumer.stop()
        if spill is not None:
            spill.close()
    await _report(control, plan, state="done")
    _log.info(
        "rebuild_worker_done",
        rebuild_id=plan.rebuild_id,
        worker=plan.worker,
        events=events,
        passes=plan.passes,
        seconds=round(time.monotonic() - started, 1),
        cpu_seconds=round(cpu_before + time.process_time(), 1),
    )


async def _chunks(
    consumer: AIOKafkaConsumer,
    topics: Topics,
    plan: WorkerPlan,
    number: int,
    spill: Spill | None,
    slice_marks: SliceMarks | None = None,
) -> AsyncIterator[tuple[list[Records], int]]:
    """Pass `number`'s chunks, with the offsets of the slice it has read so far: from the log in
    the first pass this process runs (which takes the slice's marks), from its file after."""
    if spill is None or number == plan.passes_done:
        async for chunk, done in read_slice(
            consumer,
            topics,
            plan.ranges,
            number,
            plan.passes,
            spill,
            slice_marks if number == plan.passes_done else None,
        ):
            yield chunk, done
        return
    total = max(1, spill.counts[number])
    for chunk, read in spill.read(number):
        yield chunk, plan.events_total * read // total
        await asyncio.sleep(0)  # the COPY of the previous chunk goes on meanwhile


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One worker of a PLR rebuild (see the module's docstring).")
    parser.add_argument(
        "--worker", type=int, default=int(os.environ.get("JOB_COMPLETION_INDEX", "0")), help="this worker's number"
    )
    parser.add_argument("--rebuild-id", type=int, help="default: the rebuild that is loading")
    arguments = parser.parse_args(argv)
    settings = load_settings(ProjectorSettings)  # a setting refused: one line naming it, exit status 1
    configure_logging("plr-projector-rebuild", settings.log_level, settings.log_json, settings.environment)
    try:
        asyncio.run(run_worker(settings, arguments.worker, arguments.rebuild_id))
    except WorkerFailed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
