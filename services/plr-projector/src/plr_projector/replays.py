"""Targeted replay: the operators' re-projection of the learners with PLR events from an offset or a time."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from lrs_contracts.codes import ProblemCode
from lrs_contracts.environments import SANDPIT_RETENTION, Environment
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger
from plr_projector.consumer import Runner
from plr_projector.dead_letters import PARKED_PAGE
from plr_projector.operations import LogProbe, OperationError, Refusal
from plr_projector.projection import PLR_TOPIC, Decoded, Message, ParkedHeads, decode_message, needs_of, project_batch
from plr_projector.store import OPS_SCHEMA, ReadModel

# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.operations")


def parse_replay_from(text: str) -> int | datetime:
    """`--from` is an offset (applied to every partition of the PLR topic) or an ISO-8601 time with its zone: a
    time without one would be read as UTC by us and as UK time by an operator in summer, an hour apart."""
    text = text.strip()
    if text.isascii() and text.isdigit():  # not "²" or other digits `int` cannot read
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise OperationError(
            Refusal.INVALID, "Invalid 'from'", "Give an offset (e.g. 1200) or an ISO-8601 time with its zone."
        ) from error
    if moment.tzinfo is None:
        raise OperationError(
            Refusal.INVALID,
            "Invalid 'from'",
            f"{text!r} has no time zone: add Z (UTC) or an offset such as +01:00 (UK summer time).",
        )
    if moment < _KAFKA_EPOCH:  # Kafka's timestamps count from 1970: an earlier time names no position
        raise OperationError(
            Refusal.INVALID,
            "Invalid 'from'",
            f"{text!r} is before 1970-01-01T00:00:00Z, before any event on the log: give 0 to replay from its first"
            " offset.",
        )
    return moment


class SandpitLogExpired(OperationError):
    """A re-projection of the Sandpit refused because its PLR log has dropped events its model still holds."""

    code = ProblemCode.SANDPIT_LOG_EXPIRED


def refuse_an_expired_sandpit_log(environment: Environment, firsts: Mapping[int, int], what: str) -> None:
    """Refuses a replay or rebuild (`what`) of the Sandpit while its PLR log no longer starts at offset 0 on some
    partition (`firsts`: each partition's first offset). The Sandpit's PLR log keeps 30 days and its model keeps
    achievements for ever (until a reset or the purge erases them): a re-projection reads the log from its first
    kept offset, so it would drop every achievement whose event has expired, silently (report-sandpit finding 1).
    Live's PLR log is kept for ever: live is never refused here."""
    if not environment.is_sandpit:
        return
    moved = [(partition, offset) for partition, offset in sorted(firsts.items()) if offset > 0]
    if not moved:
        return
    starts = ", ".join(f"offset {offset:,} on partition {partition}" for partition, offset in moved)
    raise SandpitLogExpired(
        Refusal.NOT_NOW,
        "Sandpit re-projection refused",
        f"The Sandpit's PLR log keeps {SANDPIT_RETENTION} (it now starts at {starts}): re-projecting would drop the"
        f" achievements recorded before it; reset the AOs' Sandpits instead. No {what} was started.",
    )


_KAFKA_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Per connection, emptied at each commit: the ids a replay has read, each forgotten once (`Replays._refold`).
_FORGOTTEN = "plr_replay_forgotten"


class ParkedOffsets:
    """Whether a replay's event of one partition of the PLR topic is parked: the partition's parked offsets are
    read a page at a time (`PARKED_PAGE`), in log order, as the replay's read of the partition passes them.
    Asked in log order; what the replay parks again is behind its read, so it answers as the parked events
    were when the replay began."""

    def __init__(self, model: ReadModel, connection: asyncpg.Connection, partition: int) -> None:
        self._model = model
        self._connection = connection
        self._partition = partition
        self._page: deque[int] = deque()
        self._read_to = -1  # the last offset read from the table
        self._all_read = False

    async def holds(self, offset: int) -> bool:
        while True:
            while self._page and self._page[0] < offset:
                self._page.popleft()
            if self._page or self._all_read:
                return bool(self._page) and self._page[0] == offset
            offsets = await self._model.parked_offsets(
                self._connection, PLR_TOPIC, self._partition, after=self._read_to, limit=PARKED_PAGE
            )
            self._all_read = len(offsets) < PARKED_PAGE
            if offsets:
                self._read_to = offsets[-1]
                self._page.extend(offsets)


class Replays:
    """Targeted re-projection: the learners with PLR events at or after `from` are re-folded from
    their whole history, in one transaction, with the live loop paused (decision 0013)."""

    def __init__(self, pool: asyncpg.Pool, live: Runner, probe: LogProbe, bootstrap_servers: str, chunk: int) -> None:
        self.pool = pool
        self.live = live
        self.probe = probe
        self._bootstrap = bootstrap_servers
        self._chunk = chunk
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()  # as `Rebuilds`': two requests at once start one replay, not two

    async def start(self, from_text: str, operator: str) -> dict[str, Any]:
        async with self._starting:
            if self._task is not None and not self._task.done():
                raise OperationError(Refusal.NOT_NOW, "Replay running", "A replay is already running.")
            start = parse_replay_from(from_text)
            await self._refuse_an_expired_sandpit_log()
            replay_id = int(
                await self.pool.fetchval(
                    f"INSERT INTO {OPS_SCHEMA}.replays (requested, requested_by, state) VALUES ($1, $2, 'running')"
                    " RETURNING replay_id",
                    from_text,
                    operator,
                )
            )
            self._task = asyncio.create_task(self._run(replay_id, start), name=f"replay-{replay_id}")
        return await self.status(replay_id)

    async def _refuse_an_expired_sandpit_log(self) -> None:
        environment = self.live.topics.environment
        if not environment.is_sandpit:  # live's log is kept for ever: not asked
            return
        partitions = [tp for tp in self.live.partitions if self.live.topics.logical(tp.topic) == PLR_TOPIC]
        firsts = await self.probe.beginning_offsets(partitions)
        refuse_an_expired_sandpit_log(
            environment, {partition: offset for (_, partition), offset in firsts.items()}, "replay"
        )

    async def status(self, replay_id: int | None = None) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT * FROM {OPS_SCHEMA}.replays WHERE ($1::bigint IS NULL OR replay_id = $1)"
            " ORDER BY replay_id DESC LIMIT 1",
            replay_id,
        )
        if row is None and replay_id is not None:
            raise OperationError(Refusal.NOTHING_TO_DO, "No such replay", f"No replay has the id {replay_id}.")
        if row is None:
            return {"state": "idle"}
        return {
            "replay_id": row["replay_id"],
            "from": row["requested"],
            "requested_by": row["requested_by"],
            "state": row["state"],
            "result": json.loads(row["result"]) if row["result"] else None,
            "started_at": row["started_at"].isoformat(),
            "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        }

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self, replay_id: int, start: int | datetime) -> None:
        try:
            result = await self._replay(start)
            state = "finished"
        except Exception as error:
            _log.warning("replay_failed", replay_id=replay_id, error=type(error).__name__)
            result, state = {"error": f"{type(error).__name__}: {str(error)[:500]}"}, "failed"
        await self.pool.execute(
            f"UPDATE {OPS_SCHEMA}.replays SET state = $2, result = $3, finished_at = now() WHERE replay_id = $1",
            replay_id,
            state,
            json.dumps(result),
        )

    async def _replay(self, start: int | datetime) -> dict[str, Any]:
        live = self.live
        partitions = [tp for tp in live.partitions if live.topics.logical(tp.topic) == PLR_TOPIC]
        started = time.monotonic()
        async with live.lock:
            ends = {tp.partition: live.positions.get((PLR_TOPIC, tp.partition), 0) for tp in partitions}
            if isinstance(start, int):
                starts = {partition: min(start, end) for partition, end in ends.items()}
            else:
                found = await self.probe.offsets_for_time(partitions, int(start.timestamp() * 1000))
                starts = {}
                for partition, end in ends.items():
                    offset = found.get(partition)
                    starts[partition] = end if offset is None else min(end, offset)
            if all(starts[partition] >= end for partition, end in ends.items()):
                # Nothing projected at or after `from` on any partition (an offset typed too large, a time still to
                # come): said so, with each partition's end, not as a replay that found no learners.
                past_end = {str(partition): end for partition, end in sorted(ends.items())}
                _log.info("replay_past_the_end", ends=past_end)
                return {
                    "learners": 0,
                    "events": 0,
                    "seconds": round(time.monotonic() - started, 2),
                    "past_end": past_end,
                }
            keys_by_partition: dict[int, set[bytes]] = {}
            async for message in self._read(partitions, starts, ends):
                if message.key is not None:
                    keys_by_partition.setdefault(message.partition, set()).add(message.key)
            learners = {stream_key for keys in keys_by_partition.values() for stream_key in keys}
            if not learners:
                return {"learners": 0, "events": 0, "seconds": round(time.monotonic() - started, 2)}
            ulns = sorted(key.decode("utf-8", errors="replace") for key in learners)
            affected = [tp for tp in partitions if tp.partition in keys_by_partition]
            events = 0
            async with self.pool.acquire() as connection, connection.transaction():
                parked = {tp.partition: ParkedOffsets(live.model, connection, tp.partition) for tp in affected}
                await connection.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_FORGOTTEN} (event_id uuid PRIMARY KEY) ON COMMIT DELETE ROWS"
                )
                for table in ("achievements", "achievement_history", "centre_achievements"):
                    await connection.execute(f"DELETE FROM {live.model.table(table)} WHERE uln = ANY($1::text[])", ulns)
                chunk: list[Decoded] = []
                async for message in self._read(affected, dict.fromkeys(ends, 0), ends):
                    if message.key not in learners or await parked[message.partition].holds(message.offset):
                        continue
                    chunk.append(decode_message(message, live.actions))
                    if len(chunk) >= self._chunk:
                        events += await self._refold(connection, chunk)
                        chunk = []
                if chunk:
                    events += await self._refold(connection, chunk)
            live.parked_streams = await self._parked_streams()
        return {"learners": len(ulns), "events": events, "seconds": round(time.monotonic() - started, 2)}

    async def _refold(self, connection: asyncpg.Connection, chunk: list[Decoded]) -> int:
        """Applies the learners' events again. A decision's event is applied again against its batch's
        stored mark: each original is at or before the mark's offset, each copy past it (decision 0097).
        Any other event's id is forgotten once, where the replay first reads it: a copy in a later chunk
        (a report published again, a Sandpit reset retried) then finds its original applied again and is
        dropped, as live dropped it. The ids read so far are kept in the transaction's temporary table,
        not in memory: a replay from 0 reads every event of its learners."""
        event_ids = sorted({item.envelope.event_id for item in chunk if item.envelope is not None})
        first_read = [
            record["event_id"]
            for record in await connection.fetch(
                f"INSERT INTO {_FORGOTTEN} (event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING"
                " RETURNING event_id",
                event_ids,
            )
        ]
        for table in ("processed_events", "legacy_events"):
            await connection.execute(
                f"DELETE FROM {self.live.model.table(table)} WHERE event_id = ANY($1::uuid[])", first_read
            )
        snapshot = await self.live.model.load_snapshot(connection, needs_of(chunk), {})
        changes = project_batch(snapshot, chunk)
        await self.live.model.write(connection, changes, {}, publish_dead_letters=True)
        return len(chunk)

    async def _parked_streams(self) -> ParkedHeads:
        async with self.pool.acquire() as connection:
            return await self.live.model.parked_streams(connection)

    async def _read(
        self, partitions: list[TopicPartition], starts: dict[int, int], ends: dict[int, int]
    ) -> AsyncIterator[Message]:
        wanted = [tp for tp in partitions if starts.get(tp.partition, 0) < ends.get(tp.partition, 0)]
        if not wanted:
            return
        consumer = make_consumer(self._bootstrap, group_id=None)
        await consumer.start()
        try:
            consumer.assign(wanted)
            for tp in wanted:
                consumer.seek(tp, starts[tp.partition])
            open_partitions = set(wanted)
            while open_partitions:
                fetched = await consumer.getmany(*open_partitions, timeout_ms=500, max_records=self._chunk)
                for tp, records in fetched.items():
                    for record in records:
                        if record.offset >= ends[tp.partition]:
                            break
                        yield Message(
                            PLR_TOPIC, tp.partition, record.offset, record.key, record.value, record.timestamp
                        )
                for tp in list(open_partitions):
                    if await consumer.position(tp) >= ends[tp.partition]:
                        open_partitions.discard(tp)
        finally:
            await consumer.stop()
