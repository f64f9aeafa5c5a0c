"""Following the PLR log into `PlrRecord` with the shared consumer loop (`lrs_platform.consumer`).

Positions live in the record's schema, not in the consumer group: a fresh database reads the log from
the beginning, whatever the group committed, and a challenge that finds nothing can wait until the
record has applied everything the log held when it was asked (`CatchUp`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextvars import ContextVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from challenges.plr_log import FOLLOWED_TOPICS
from challenges.record_store import PlrRecord, Positions
from lrs_platform.consumer import ConsumerLoop, Handler, Message, PoisonGuard, RetryPolicy
from lrs_platform.logging import get_logger
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, ParkedRow, ReplayResult

_log = get_logger("challenges.log_follower")

# The follower's consumer: its parked messages are listed under this name (`lrs dlq list --service challenges`).
FOLLOWER = "challenges.plr-record"


def record_applier(
    record: PlrRecord, forget_learners: Callable[[asyncpg.Connection, Collection[str]], Awaitable[None]]
) -> Handler:
    """The loop's handler: idempotent, so a batch the loop applies again changes nothing. Fenced by offset
    (`PlrRecord.apply_messages`): what another replica applied since this one polled is dropped. Erased
    learners go to `forget_learners` in the poll's transaction, once the rest of the poll is applied, on its
    connection: what it writes commits with the poll."""

    async def apply(messages: Sequence[Message]) -> None:
        await record.apply_messages(messages, forget_learners, parked=_REPLAYING.get())

    return apply


def record_guard(
    name: str,
    record: PlrRecord,
    forget_learners: Callable[[asyncpg.Connection, Collection[str]], Awaitable[None]],
    office: DeadLetterOffice,
) -> PoisonGuard:
    """The follower's `PoisonGuard`, its parked messages retried by operators through `OperatorReplays`. Erased
    learners' parked PLR events lose the free text that may name them (a centre report's `subject` and
    `provider_name`: `ParkedMessages.erase_free_text`) in the transaction that forgets the learners."""

    async def forget(connection: asyncpg.Connection, ulns: Collection[str]) -> None:
        await forget_learners(connection, ulns)
        await office.store.erase_free_text(connection, ulns)

    guard = PoisonGuard(name, record_applier(record, forget), office)
    office.register(name, OperatorReplays(guard))
    return guard


class HeldLearners:
    """Whether the follower holds any of a learner's events parked (`lrs_platform.parking`): a poison keyed by one
    of their ULNs, or a later event of theirs held behind it. The record shows none of them until an operator
    retries or skips the poison, so what it says of that learner may not be what their PLR says (the projector
    may have had its own copy skipped already).

    One statement on the parked table's key index (`parked_messages_by_key`): the PLR and learner logs are keyed by
    the learner's ULN (a merge by the master's), and the follower parks nothing else. A skip or retry deletes the
    rows it clears when it commits, after it has applied what was held behind them: asked first, and the record
    read after, a learner found holding nothing is one whose record has every event of theirs applied or none
    parked."""

    def __init__(self, parked: ParkedMessages, consumer: str = FOLLOWER) -> None:
        self._pool = parked.pool
        self._query = (
            f'SELECT EXISTS (SELECT 1 FROM "{parked.schema}".parked_messages'
            " WHERE message_key = ANY($1::bytea[]) AND consumer = $2)"
        )
        self._consumer = consumer

    async def __call__(self, ulns: Collection[str]) -> bool:
        if not ulns:
            return False
        held: bool = await self._pool.fetchval(self._query, sorted(uln.encode() for uln in ulns), self._consumer)
        return held


# Set while an operator's retry or skip applies parked messages: below the stored positions, they are not
# dropped as applied (a parked message never was; its stream's later ones wait parked behind it).
_REPLAYING: ContextVar[bool] = ContextVar("challenges_replaying_parked", default=False)


class OperatorReplays:
    """`Replayer`: the guard's `replay`, its messages applied as parked ones (`record_applier`)."""

    def __init__(self, guard: PoisonGuard) -> None:
        self.name = guard.name
        self._guard = guard

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        replaying = _REPLAYING.set(True)
        try:
            return await self._guard.replay(parked, skip_head=skip_head, replacement=replacement)
        finally:
            _REPLAYING.reset(replaying)


class StoredPositions:
    """`Progress`: after a poll is applied (or parked), its partitions' positions go to the record. What was
    applied moved them already, in its transaction (`PlrRecord.apply_messages`): this moves them past what
    was parked, and past a transaction's commit marker.

    The consumer's position, not the last record's offset + 1: after a transaction's last record it
    is past the commit marker, so it can equal the log's end offset.
    """

    def __init__(self, record: PlrRecord) -> None:
        self._record = record

    async def passed(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        positions = {
            (tp.topic, tp.partition): max(offset, await consumer.position(tp)) for tp, offset in offsets.items()
        }
        await self._record.record_positions(positions)


class IdlePositions:
    """Records positions that a poll returning nothing moved. At the end of a partition a transaction's
    commit marker, or an aborted transaction, is skipped without a message, and the loop records
    progress only for polls that returned messages: without this a partition could stay short of
    the log's end, and `CatchUp` wait for it in vain.
    """

    def __init__(self, record: PlrRecord, every_seconds: float = 0.5) -> None:
        self._record = record
        self._every = every_seconds
        self._loop: ConsumerLoop | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._recorded: Positions = {}

    def consumers(self, make: Callable[[], AIOKafkaConsumer]) -> Callable[[], AIOKafkaConsumer]:
        """Wraps the loop's consumer factory, to read the positions of the consumer the loop is using."""

        def made() -> AIOKafkaConsumer:
            self._consumer = make()
            return self._consumer

        return made

    def watch(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.record_once()
            except Exception as error:  # a rebalance or the database away: the next round tries again
                _log.warning("idle_positions_not_recorded", error=type(error).__name__)

    async def record_once(self) -> None:
        loop, consumer = self._loop, self._consumer
        if loop is None or consumer is None or not loop.caught_up:
            return
        positions = {(tp.topic, tp.partition): await consumer.position(tp) for tp in consumer.assignment()}
        # Still idle now: every message the consumer has handed out (below these positions) is applied or parked.
        if not loop.caught_up or consumer is not self._consumer:
            return
        changed = {key: offset for key, offset in positions.items() if self._recorded.get(key) != offset}
        if changed:
            await self._record.record_positions(changed)
            self._recorded.update(changed)


class ResumeFromStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks each partition assigned to its stored position, or to the beginning when it has none. The
    positions are read until they are read: a listener that raised would leave the consumer at the group's
    committed offsets, which this group never commits, so at the beginning of every partition, where it would
    park again every poison an operator has skipped since."""

    def __init__(
        self, consumer: AIOKafkaConsumer, record: PlrRecord, retry_every: float = 1.0, *, fresh_at_end: bool = False
    ) -> None:
        """`fresh_at_end`: a partition with no stored position starts at the log's end instead, that end stored at
        once (the service's own events: every one before it is one it holds already, challenges.recovery)."""
        self._consumer = consumer
        self._record = record
        self._retry_every = retry_every
        self._fresh_at_end = fresh_at_end

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        stored = await self._stored_positions()
        fresh = []
        for tp in assigned:
            if (tp.topic, tp.partition) in stored:
                self._consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                fresh.append(tp)
        if fresh and self._fresh_at_end:
            ends = await self._consumer.end_offsets(fresh)
            for tp in fresh:
                self._consumer.seek(tp, ends[tp])
            await self._record.record_positions({(tp.topic, tp.partition): ends[tp] for tp in fresh})
        elif fresh:
            await self._consumer.seek_to_beginning(*fresh)

    async def _stored_positions(self) -> Positions:
        while True:
            try:
                return await self._record.positions()
            except Exception as error:  # PostgreSQL away: the partitions wait, rather than start over
                _log.warning("stored_positions_unreadable", error=type(error).__name__)
                await asyncio.sleep(self._retry_every)


class LogEnds:
    """The followed topics' end offsets now; read-committed, so an open transaction is not counted."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._partitions: list[TopicPartition] = []

    async def now(self) -> Positions:
        if not self._partitions:
            # This consumer subscribes to nothing, so it tracks no topic's metadata: ask for the cluster's.
            cluster = await self._consumer._client.fetch_all_metadata()
            partitions = {topic: cluster.partitions_for_topic(topic) for topic in FOLLOWED_TOPICS}
            if not all(partitions.values()):
                raise LookupError(f"no partitions known yet for {sorted(t for t, p in partitions.items() if not p)}")
            self._partitions = [
                TopicPartition(topic, partition) for topic, found in partitions.items() for partition in sorted(found)
            ]
        ends = await self._consumer.end_offsets(self._partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


class CatchUp:
    """Read your writes for challenges: waits (at most `within_seconds`) until the record has applied
    every message the log held when called. True when it has."""

    def __init__(self, record: PlrRecord, ends: LogEnds, within_seconds: float) -> None:
        self._record = record
        self._ends = ends
        self._within = within_seconds

    async def __call__(self) -> bool:
        deadline = time.monotonic() + self._within
        try:
            targets = await self._ends.now()
        except (KafkaError, LookupError):
            return False
        delay = 0.02
        while True:
            applied = await self._record.positions()
            if all(applied.get(key, 0) >= end for key, end in targets.items()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)


class PendingChallengeData:
    """Challenges raised before the record kept an achievement's pathway, centre, language for assessment and
    credits (migration 0012, which has the record read the log again from its beginning) take them from the record
    once it has applied everything the log held when this started (`PlrRecord.fill_challenges_data`). Run by every
    replica for as long as it runs; idempotent. Once no challenge waits it only looks again now and then (over a
    partial index): a challenge put back from an event written before it carried them waits too (decision 0172)."""

    def __init__(
        self,
        record: PlrRecord,
        ends: LogEnds,
        every_seconds: float = 1.0,
        idle_every_seconds: float = 60.0,
        *,
        retry_max_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._record = record
        self._ends = ends
        self._every = every_seconds
        self._idle_every = idle_every_seconds
        self._back_off = RetryPolicy(base_seconds=every_seconds, max_seconds=max(every_seconds, retry_max_seconds))
        self._sleep = sleep
        self._targets: Positions | None = None

    async def run(self) -> None:
        """A round that fails (Kafka or the database away) is tried again after `every_seconds`, then twice as long
        after each further failure in a row, at most `retry_max_seconds`: a warning each time, not every second
        through an outage (sre walk, finding 5). The first round that works again says so once."""
        failures = 0
        while True:
            try:
                none_waits = await self.fill_once()
            except Exception as error:  # Kafka or the database away: the next round tries again
                failures += 1
                delay = self._back_off.delay(failures)
                _log.warning("challenge_data_not_filled", error=type(error).__name__, failures=failures, retry_in=delay)
                await self._sleep(delay)
                continue
            if failures:
                _log.info("challenge_data_filling_recovered", failures=failures)
                failures = 0
            await self._sleep(self._idle_every if none_waits else self._every)

    async def fill_once(self) -> bool:
        """True when no challenge waits any longer (filled now, or none did); False while the record is behind."""
        if not await self._record.challenges_data_pending():
            return True
        if self._targets is None:
            self._targets = await self._ends.now()
        applied = await self._record.positions()
        if not all(applied.get(key, 0) >= end for key, end in self._targets.items()):
            return False
        filled = await self._record.fill_challenges_data()
        _log.info("challenge_data_filled", challenges=filled)
        return True
