"""Bulk rebuild of the PLR read model (decision 0033): the log folded in memory, written with COPY.

Rebuilding into an empty schema needs no lookups per event: nothing is in the new schema yet, and
the log was validated when it was written. A worker process takes a disjoint set of partitions (a
stream never spans partitions) and reads them up to the rebuild's target offsets; it decodes each
record once with the projector's own decoder (`decode_message`: one pydantic pass, so a poison
record parks exactly as it did live), folds chunks of records with the projector's own
`project_batch` against state kept in memory, and writes rows with binary COPY into the new
schema's tables, which are UNLOGGED and without keys or indexes while loading (the projector
restores them when every worker is done).

Memory is bounded by passes: a slice with more PLR events than `events_per_pass` is read once per
pass, each pass folding only the learners whose key hashes to it. A pass is one PostgreSQL
transaction together with its progress record, so a worker that dies starts again at its first
unfinished pass. The learner and challenge topics go whole to worker 0: a merge writes the merged
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
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from lrs_platform.database import create_pool
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import configure_logging, get_logger
from plr_projector.config import ProjectorSettings
from plr_projector.consumer import Topics
from plr_projector.projection import (
    PLR_TOPIC,
    AchievementKeyTuple,
    AchievementRow,
    BatchChanges,
    CentreKey,
    CentreRow,
    ChallengeRow,
    Decoded,
    LearnerRow,
    Message,
    Snapshot,
    Stream,
    decode_message,
    project_batch,
)
from plr_projector.store import BULK_COLUMNS, OPS_SCHEMA, operator_actions, parked_row

_log = get_logger("plr_projector.rebuild")

Partition = tuple[str, int]  # (logical topic, partition)
Ranges = dict[Partition, tuple[int, int]]  # partition -> (first offset, target offset)

CHUNK_RECORDS = 20_000
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
    return environment


# --- decoding and folding -----------------------------------------------------------------------


class FoldState:
    """A pass's model in memory: the rows `project_batch` reads and rewrites, and what it skips."""

    def __init__(self) -> None:
        self.achievements: dict[AchievementKeyTuple, AchievementRow] = {}
        self.centre: dict[CentreKey, CentreRow] = {}
        self.learners: dict[str, LearnerRow] = {}
        self.challenges: dict[uuid.UUID, ChallengeRow] = {}
        self.blocked: set[Stream] = set()
        self._applied: set[int] = set()  # event ids as integers: half the memory of UUID objects

    def fold(self, decoded: Sequence[Decoded]) -> BatchChanges:
        """`project_batch` of one chunk against the state, as the live loop does against the tables."""
        seen = {
            item.envelope.event_id
            for item in decoded
            if item.envelope is not None and item.envelope.event_id.int in self._applied
        }
        snapshot = Snapshot(
            achievements=self.achievements, learners=self.learners, seen_event_ids=seen, parked_streams=self.blocked
        )
        changes = project_batch(snapshot, decoded)
        self.achievements.update(changes.achievements)
        self.centre.update(changes.centre)
        self.learners.update(changes.learners)
        self.challenges.update(changes.challenges)
        self._applied.update(event_id.int for event_id in changes.applied_event_ids)
        self.blocked.update(parked.message.stream for parked in changes.parked)
        return changes


# --- writing ------------------------------------------------------------------------------------

_ROW_VALUES: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    table: operator.attrgetter(*columns) for table, columns in BULK_COLUMNS.items() if len(columns) > 1
}


class BulkWriter:
    """Buffers rows per table and COPYs them (binary) into the schema; one COPY runs while the next
    chunk is folded."""

    def __init__(self, connection: asyncpg.Connection, schema: str) -> None:
        self._connection = connection
        self._schema = schema
        self._rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in BULK_COLUMNS}
        self._copying: asyncio.Task[None] | None = None
        self.written: dict[str, int] = dict.fromkeys(BULK_COLUMNS, 0)

    def add(self, changes: BatchChanges) -> None:
        history = _ROW_VALUES["achievement_history"]
        self._rows["achievement_history"] += [history(entry) for entry in changes.history]
        self._rows["processed_events"] += [(event_id,) for event_id in changes.applied_event_ids]
        self._rows["parked"] += [parked_row(parked) for parked in changes.parked]

    def add_final(self, state: FoldState) -> None:
        """The rows that are only known at the end of a pass: each key's last version."""
        for table, rows in (
            ("achievements", state.achievements.values()),
            ("centre_achievements", state.centre.values()),
            ("learners", state.learners.values()),
            ("challenges", state.challenges.values()),
        ):
            values = _ROW_VALUES[table]
            self._rows[table] += [values(row) for row in rows]

    async def flush_if_full(self) -> None:
        if sum(len(rows) for rows in self._rows.values()) >= FLUSH_ROWS:
            await self.flush(wait=False)

    async def flush(self, *, wait: bool = True) -> None:
        if self._copying is not None:
            await self._copying
            self._copying = None
        batches = {table: rows for table, rows in self._rows.items() if rows}
        self._rows = {table: [] for table in BULK_COLUMNS}
        if batches:
            self._copying = asyncio.create_task(self._copy(batches))
        if wait and self._copying is not None:
            await self._copying
            self._copying = None

    async def _copy(self, batches: dict[str, list[tuple[Any, ...]]]) -> None:
        for table, rows in batches.items():
            await self._connection.copy_records_to_table(
                table, records=rows, columns=list(BULK_COLUMNS[table]), schema_name=self._schema
            )
            self.written[table] += len(rows)


# --- reading ------------------------------------------------------------------------------------


async def read_slice(
    consumer: AIOKafkaConsumer, topics: Topics, ranges: Mapping[Partition, tuple[int, int]], number: int, passes: int
) -> AsyncIterator[tuple[list[Message], int]]:
    """Chunks of the records pass `number` folds, below their targets and in each partition's order,
    with the number of offsets read so far (transaction markers included)."""
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
    chunk: list[Message] = []
    while open_partitions:
        fetched = await consumer.getmany(*open_partitions, timeout_ms=500, max_records=CHUNK_RECORDS)
        for tp, records in fetched.items():
            target = wanted[tp][1]
            logical = topics.logical(tp.topic)
            chunk += [
                Message(logical, tp.partition, record.offset, record.key, record.value, record.timestamp)
                for record in records
                if record.offset < target and in_pass(logical, record.key, number, passes)
            ]
        positions = {tp: await consumer.position(tp) for tp in open_partitions}
        open_partitions = {tp for tp, position in positions.items() if position < wanted[tp][1]}
        if len(chunk) >= CHUNK_RECORDS or not open_partitions:
            done = 0
            for tp, (first, target) in wanted.items():
                done += (min(positions[tp], target) if tp in positions else target) - first
            yield chunk, done
            chunk = []


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


def _lock_key(rebuild_id: int, worker: int) -> int:
    digest = hashlib.sha256(f"plr-rebuild|{rebuild_id}|{worker}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


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


async def _report(connection: asyncpg.Connection, plan: WorkerPlan, **values: Any) -> None:
    assignments = ", ".join(f"{name} = ${number}" for number, name in enumerate(values, start=3))
    await connection.execute(
        f"UPDATE {OPS_SCHEMA}.rebuild_workers SET {assignments}, updated_at = now()"
        " WHERE rebuild_id = $1 AND worker = $2",
        plan.rebuild_id,
        plan.worker,
        *values.values(),
    )


async def run_worker(settings: ProjectorSettings, worker: int, rebuild_id: int | None = None) -> bool:
    """Loads this worker's slice of the running rebuild; False when there was nothing to do."""
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
                await _load(settings, pool, control, plan)
            except Exception as error:
                message = f"{type(error).__name__}: {str(error)[:300]}"
                _log.warning("rebuild_worker_failed", rebuild_id=plan.rebuild_id, worker=worker, error=message)
                await _report(control, plan, state="failed", error=message)
                raise WorkerFailed(message) from error
            return True
    finally:
        await pool.close()


async def _load(settings: ProjectorSettings, pool: asyncpg.Pool, control: asyncpg.Connection, plan: WorkerPlan) -> None:
    topics = Topics(settings.topic_prefix)
    started = time.monotonic()
    # CPU of the passes already done (by an earlier process), and of this process before its first
    cpu_before = plan.cpu_seconds - time.process_time()
    await _report(control, plan, state="running", error=None)
    actions = await operator_actions(control)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers,
        group_id=None,
        max_partition_fetch_bytes=8 * 1_048_576,
        fetch_max_bytes=32 * 1_048_576,
    )
    await consumer.start()
    events = plan.events_total
    read_before = plan.passes_done * events
    try:
        for number in range(plan.passes_done, plan.passes):
            # The pass's state is millions of objects without cycles: the cyclic collector would
            # walk all of them again and again (a third of the time); one collection per pass.
            gc.disable()
            async with pool.acquire() as connection, connection.transaction():
                state = FoldState()
                writer = BulkWriter(connection, plan.schema)
                reported = time.monotonic()
                async for chunk, done in read_slice(consumer, topics, plan.ranges, number, plan.passes):
                    writer.add(state.fold([decode_message(message, actions) for message in chunk]))
                    await writer.flush_if_full()
                    if time.monotonic() - reported >= PROGRESS_SECONDS:
                        await _report(
                            control, plan, events_read=read_before + done, cpu_seconds=cpu_before + time.process_time()
                        )
                        reported = time.monotonic()
                writer.add_final(state)
                await writer.flush()
                read_before += events
                await connection.execute(
                    f"UPDATE {OPS_SCHEMA}.rebuild_workers SET passes_done = $3, events_read = $4, cpu_seconds = $5,"
                    " updated_at = now() WHERE rebuild_id = $1 AND worker = $2",
                    plan.rebuild_id,
                    plan.worker,
                    number + 1,
                    read_before,
                    cpu_before + time.process_time(),
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One worker of a PLR rebuild (see the module's docstring).")
    parser.add_argument(
        "--worker", type=int, default=int(os.environ.get("JOB_COMPLETION_INDEX", "0")), help="this worker's number"
    )
    parser.add_argument("--rebuild-id", type=int, help="default: the rebuild that is loading")
    arguments = parser.parse_args(argv)
    settings = ProjectorSettings()
    configure_logging("plr-projector-rebuild", settings.log_level, settings.log_json)
    try:
        asyncio.run(run_worker(settings, arguments.worker, arguments.rebuild_id))
    except WorkerFailed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
