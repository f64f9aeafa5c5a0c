"""The Sandpit's copy of live's qualification catalogue (decision 0060): the Sandpit judges against the catalogue
live judges against, without restarting, after every live `lrs reference load`.

Live validation publishes every row of each load on the compacted `lrs.reference.qualifications.v1`
(`validation.catalogue_publisher`), keyed `QAN|pathway`, each naming its load (`source` "reference load <version>",
correlation id `reference-load-<version>`) and how many rows the load published (`rows_in_load`). A Sandpit
validation reads the topic from its beginning, holding the newest row of each key (as compaction would), and
applies a load once it holds it whole: the rows of the newest version that has all its rows. A key still holding an
older version's row is a qualification the newest load removed. A load of an older publisher (no `rows_in_load`)
is applied once the follower has read to the end of the topic. It replaces the Sandpit's
`validation.qualifications` in one transaction, recorded as `live reference load <version>` in
`validation.reference_loads`, so the decider's `ReferenceStore.current()` reads it at its next batch.

No consumer group and no stored offsets: the topic holds one row per qualification, read again at each start (a
load already applied is not applied again). A message that cannot be read is parked on the Sandpit's own
`sandpit.lrs.reference.qualifications.v1.dlq` (`lrs --sandpit dlq list --service validation`), its key's later rows
held behind it; the other keys' loads go on. What an operator makes of it stays made: a message skipped
(`lrs --sandpit dlq skip`) is passed over when the topic is read again (a restart, a client rebuilt), and one retried
with a corrected copy is read as that copy, kept in `validation.sandpit_catalogue_dealt_with` by its place on the log
and the digest of what it held there. It is not parked again, and the next load's row of its key is not held behind it.
The row is written in the retry's or skip's own transaction, so it stands only once the message has left the parked
table; a retry of the message as it is withdraws any row at its place.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from lrs_contracts.environments import TopicNames
from lrs_contracts.reference import QualificationPublished
from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Qualification
from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy
from lrs_platform.kafka import make_consumer, topic_partitions
from lrs_platform.logging import get_logger
from lrs_platform.parking import DeadLetterOffice, ParkedRow, ReplayResult
from validation.reference_store import LIVE_LOAD, ReferenceStore
from validation.sandpit import ConsumerFactory

CATALOGUE_FOLLOWER = "validation.sandpit-catalogue"

_SOURCE = re.compile(r"reference load (\d+)")
_CORRELATION = re.compile(r"reference-load-(\d+)")

_log = get_logger("validation.sandpit_catalogue")

Place = tuple[int, int]  # (partition, offset) of a message of the topic
# The place of the message the office's retry or skip, in this task, is replaying: read as the operator hands it over
# (`CatalogueFollower.replay`), not as an earlier skip or copy kept for that place says.
_REPLAYING: ContextVar[Place | None] = ContextVar("sandpit_catalogue_replaying", default=None)


@dataclass(frozen=True)
class HeldRow:
    """The newest row read of one key of the topic: the load it belongs to and what that load said of its size."""

    offset: tuple[int, int]  # (partition, offset): a parked message retried later never replaces a newer row
    version: int
    rows_in_load: int | None
    qualification: Qualification


@dataclass(frozen=True)
class DealtWith:
    """What an operator made of a parked message: skipped (`replacement` None) or retried with a corrected copy. It
    stands for the message read again at its place only while that place holds what was parked (`value_sha256`)."""

    value_sha256: bytes
    replacement: bytes | None


def value_digest(value: bytes | None) -> bytes:
    return hashlib.sha256(value or b"").digest()


def as_dealt_with(message: Message, dealt_with: Mapping[tuple[int, int], DealtWith]) -> Message | None:
    """The message as an operator left it: None when skipped, its corrected copy when retried with one, else itself."""
    dealt = dealt_with.get((message.partition, message.offset))
    if dealt is None or dealt.value_sha256 != value_digest(message.value):
        return message
    return None if dealt.replacement is None else message._replace(value=dealt.replacement)


@dataclass(frozen=True)
class WholeLoad:
    version: int
    qualifications: tuple[Qualification, ...]


def whole_latest_load(held: Mapping[str, HeldRow], caught_up: bool, not_before: int = 0) -> WholeLoad | None:
    """The newest load whose rows are all held: the highest version holding as many rows as it says it published.
    A version whose rows do not say (an older publisher) is whole only as the highest version, once the reader is
    `caught_up` to the topic's end. None while no load is whole (the newest one still arriving), and for a load
    older than `not_before`, the version the Sandpit has already: read again from the topic's start after a
    restart, an older load not yet compacted away is whole before the newer ones are read."""
    by_version: dict[int, list[HeldRow]] = {}
    for row in held.values():
        by_version.setdefault(row.version, []).append(row)
    highest = max(by_version, default=None)
    for version in sorted(by_version, reverse=True):
        if version < not_before:
            break
        rows = by_version[version]
        said = [row.rows_in_load for row in rows if row.rows_in_load is not None]
        whole = len(rows) >= max(said) if said else version == highest and caught_up
        if whole:
            ordered = sorted(
                rows, key=lambda row: (row.qualification.qualification_number, row.qualification.pathway or "")
            )
            return WholeLoad(version, tuple(row.qualification for row in ordered))
    return None


def load_version(source: str, correlation_id: str | None) -> int | None:
    """The live load a row belongs to, from its `source` ("reference load 7") or its envelope's correlation id."""
    if matched := _SOURCE.fullmatch(source):
        return int(matched.group(1))
    if correlation_id and (matched := _CORRELATION.fullmatch(correlation_id)):
        return int(matched.group(1))
    return None


def held_row(message: Message) -> tuple[str, HeldRow | None] | None:
    """The key and row a message holds (None as the row: a tombstone, the key's row gone), or None for an event
    of another type. Raises ValueError for a message that cannot be read (the loop parks it)."""
    if message.value is None:
        return (message.key.decode(), None) if message.key is not None else None
    try:
        envelope, event = decode(message.value)
    except UnknownEventType:
        return None
    if not isinstance(event, QualificationPublished):
        return None
    version = load_version(event.source, envelope.correlation_id)
    if version is None:
        raise ValueError(f"the row names no reference load: source {event.source!r}")
    key = message.key.decode() if message.key is not None else f"{event.qualification_number}|{event.pathway or ''}"
    qualification = Qualification(
        qualification_number=event.qualification_number,
        pathway=event.pathway or None,
        title=event.title,
        awarding_organisation_id=event.awarding_organisation_id,
        awarding_organisation_name=event.awarding_organisation_name,
        level=event.level,
        qualification_type=event.qualification_type,
        framework=event.framework,
        kind=event.kind,
        grade_set=tuple(event.grade_set),
    )
    return key, HeldRow((message.partition, message.offset), version, event.rows_in_load, qualification)


class CatalogueFollower:
    """Keeps the Sandpit's catalogue equal to live's newest whole load, read from live's catalogue topic."""

    def __init__(
        self,
        store: ReferenceStore,
        bootstrap_servers: str,
        topics: TopicNames,
        policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.name = CATALOGUE_FOLLOWER  # on `/readyz` as "consumer validation.sandpit-catalogue"
        self._store = store
        self._bootstrap = bootstrap_servers
        self._topic = topics.of(REFERENCE_QUALIFICATIONS)  # shared: live's own topic, never `sandpit.`
        self._policy = policy
        self._held: dict[str, HeldRow] = {}
        # the live load the Sandpit's catalogue is a copy of, and its rows (an older publisher's load, applied once
        # read to the end, may have been caught while still arriving: it is applied again when it has more)
        self._applied: tuple[int, int] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._ends: dict[TopicPartition, int] = {}
        self.guard: PoisonGuard | None = None
        self._office: DeadLetterOffice | None = None
        # the messages of the topic an operator skipped or retried with a corrected copy, by (partition, offset): as
        # committed (changed only once the office's retry or skip has committed, `_note`)
        self._dealt_with: dict[Place, DealtWith] = {}
        # what retries and skips committed while `_reread_dealt_with` reads the table: the read may predate them
        self._noted_while_reading: list[dict[Place, DealtWith | None]] = []

    def consumer_loop(
        self, office: DeadLetterOffice, consumer_factory: ConsumerFactory = make_consumer
    ) -> ConsumerLoop:
        """The loop that follows live's catalogue: no consumer group, every partition from its beginning. The office
        replays its parked messages through the follower (`replay`), which keeps what an operator made of them."""
        self._office = office
        self.guard = PoisonGuard(CATALOGUE_FOLLOWER, self.apply, office, self._policy)
        office.register(CATALOGUE_FOLLOWER, self)
        return ConsumerLoop(
            self.guard,
            [self._topic],
            lambda: consumer_factory(self._bootstrap, group_id=None),
            place=self._from_the_beginning,
            progress=_ReadAgainAtStart(),
            max_records=10_000,
            poll_timeout_ms=500,
        )

    async def readiness(self) -> str:
        """Its `/readyz` entry: the guard's (parked messages, a retry), then which catalogue the Sandpit has."""
        assert self.guard is not None
        words = await self.guard.readiness()
        newest = await self._store.newest_load()
        if newest is not None and newest.live_version is not None:
            said = f"catalogue of {newest.what} ({newest.rows} qualifications)"
        else:
            said = "catalogue of the reference files: no whole live load read yet"
        return f"{words}{'; ' if ':' in words else ': '}{said}"

    async def _from_the_beginning(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await self._partitions()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        await self._reread_dealt_with()
        self._consumer = consumer
        self._ends = await consumer.end_offsets(partitions)
        if self._applied is None and (newest := await self._store.newest_load()) is not None:
            self._applied = None if newest.live_version is None else (newest.live_version, newest.rows)

    async def _partitions(self) -> list[TopicPartition]:
        """The topic's partitions, once it exists (live services create it)."""
        while True:
            if partitions := await topic_partitions(self._bootstrap, self._topic):
                return partitions
            await asyncio.sleep(1.0)

    async def apply(self, messages: Sequence[Message]) -> None:
        """Holds a poll's rows and applies the newest whole load if the Sandpit does not have it yet; idempotent.
        Raises ValueError for a message it cannot read (parked by the loop)."""
        replaying = _REPLAYING.get()
        for read in messages:
            as_it_is = read.topic != self._topic or (read.partition, read.offset) == replaying
            message = read if as_it_is else as_dealt_with(read, self._dealt_with)
            if message is None:
                continue  # skipped by an operator, read again
            try:
                held = held_row(message)
            except ValueError:
                # a retry or skip committed after the table was read (at a client's start; on another replica) may
                # have dealt with it: the map is asked again only when it would park the message
                if as_it_is or message is not read or (message := await self._dealt_with_since(read)) is read:
                    raise
                if message is None:
                    continue
                held = held_row(message)
            if held is None:
                continue
            key, row = held
            before = self._held.get(key)
            if before is not None and before.offset > (message.partition, message.offset):
                continue  # an operator's retry of a parked row, long after: the newer row stands
            if row is None:
                self._held.pop(key, None)
            else:
                self._held[key] = row
        not_before = self._applied[0] if self._applied is not None else 0
        load = whole_latest_load(self._held, await self._caught_up(), not_before)
        if load is None or (load.version, len(load.qualifications)) == self._applied:
            return
        what = f"{LIVE_LOAD}{load.version}"
        if await self._store.replace_catalogue(load.qualifications, what):
            _log.info("sandpit_catalogue_followed", live_version=load.version, qualifications=len(load.qualifications))
        self._applied = (load.version, len(load.qualifications))

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        """`Replayer`, for the office: the guard's replay of the parked stream, keeping a skip of the message named,
        or its corrected copy, for when the topic is read again; a retry of the message as it is withdraws what was
        kept for its place. Both through the office's transaction (`ParkedMessages.executor`): kept only if the
        retry or skip commits, the message leaving the parked table with it, and undone with it (`record_action` or
        the commit failing, the request cancelled). Written before the replay: once the guard lets its lock go,
        nothing may be awaited until the office has committed (a poll of the stream read as before the replay would
        park behind the poison removed). Withdrawn, in the same transaction, when the replay did not get past the
        message, which stays parked (the stream held, so awaiting then is safe). The follower's own map follows
        the table once the office has committed (`DeadLetterOffice.after_action`)."""
        assert self.guard is not None and self._office is not None
        place = (parked.partition, parked.offset)
        dealt: DealtWith | None = None
        if skip_head or replacement is not None:
            dealt = DealtWith(value_digest(parked.value), None if skip_head else replacement)
        executor = self._office.store.executor()
        await self._store_dealt_with(executor, place, dealt)
        replaying = _REPLAYING.set(place)
        try:
            result = await self.guard.replay(parked, skip_head=skip_head, replacement=replacement)
        finally:
            _REPLAYING.reset(replaying)
        if dealt is not None and result.still_parked and await self._office.store.get(parked.id) is not None:
            dealt = None
            await self._store_dealt_with(executor, place, None)

        async def committed() -> None:
            self._note(place, dealt)

        if not self._office.after_action(committed):  # not in a retry or skip: written already, on the pool
            self._note(place, dealt)
        return result

    async def _reread_dealt_with(self) -> None:
        """The table read into the map at each start: what a retry or skip committed meanwhile stands over the read,
        which may have been taken before it."""
        noted: dict[Place, DealtWith | None] = {}
        self._noted_while_reading.append(noted)
        try:
            read = await self._read_dealt_with()
        finally:
            self._noted_while_reading.remove(noted)
        for place, dealt in noted.items():
            if dealt is None:
                read.pop(place, None)
            else:
                read[place] = dealt
        self._dealt_with = read

    def _note(self, place: Place, dealt: DealtWith | None) -> None:
        """What a committed retry or skip made of the message at `place`, into the map (None: nothing kept)."""
        if dealt is None:
            self._dealt_with.pop(place, None)
        else:
            self._dealt_with[place] = dealt
        for noted in self._noted_while_reading:
            noted[place] = dealt

    async def _dealt_with_since(self, read: Message) -> Message | None:
        """`read` as the table keeps it dealt with now (through the retry's transaction during one), into the map."""
        assert self._office is not None
        place = (read.partition, read.offset)
        row = await self._office.store.executor().fetchrow(
            "SELECT value_sha256, replacement FROM validation.sandpit_catalogue_dealt_with"
            ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
            self._topic,
            *place,
        )
        if row is None:
            return read
        dealt = DealtWith(row["value_sha256"], row["replacement"])
        self._note(place, dealt)  # committed: a retry's own change is only ever at the place it replays (as it is)
        return as_dealt_with(read, {place: dealt})

    async def _read_dealt_with(self) -> dict[Place, DealtWith]:
        assert self._office is not None
        rows = await self._office.store.pool.fetch(
            'SELECT partition, "offset", value_sha256, replacement FROM validation.sandpit_catalogue_dealt_with'
            " WHERE topic = $1",
            self._topic,
        )
        return {(row["partition"], row["offset"]): DealtWith(row["value_sha256"], row["replacement"]) for row in rows}

    async def _store_dealt_with(
        self, executor: asyncpg.Pool | asyncpg.Connection, place: Place, dealt: DealtWith | None
    ) -> None:
        """Keeps what was made of the message at `place` (None: withdraws it), through `executor`."""
        if dealt is None:
            await executor.execute(
                "DELETE FROM validation.sandpit_catalogue_dealt_with"
                ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
                self._topic,
                *place,
            )
            return
        await executor.execute(
            "INSERT INTO validation.sandpit_catalogue_dealt_with"
            ' (topic, partition, "offset", value_sha256, replacement) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (topic, partition, "offset") DO UPDATE'
            " SET value_sha256 = EXCLUDED.value_sha256, replacement = EXCLUDED.replacement, dealt_at = now()",
            self._topic,
            *place,
            dealt.value_sha256,
            dealt.replacement,
        )

    async def _caught_up(self) -> bool:
        """Whether every partition is read to its end (as the last fetch found it, or as it was at the start)."""
        consumer = self._consumer
        if consumer is None:
            return False
        try:
            for partition in consumer.assignment():
                end = consumer.last_stable_offset(partition)
                if end is None or end < 0:
                    end = self._ends.get(partition, 0)
                if await consumer.position(partition) < end:
                    return False
        except Exception:  # an operator's retry while the client is being rebuilt: the next poll decides
            return False
        return True


class _ReadAgainAtStart:
    """`Progress`: nothing stored. The topic is read again from its beginning at each start (one row a key)."""

    async def passed(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        return None
