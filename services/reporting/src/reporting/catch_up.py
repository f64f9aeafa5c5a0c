"""A reporting store rebuilt from empty catches up in silence (decision 0161).

Read again, the topics' history passes each month through states that never existed: the outcomes come back
across their partitions in another order than they were decided. Published, those states would be on the
reporting topics (what an analyst loading them meanwhile would read), and, as the same content keeps its event
id, a consumer that drops repeated ids could end on one of them. So a store that starts empty notes where the
topics it reads end (`reporting.catching_up`), publishes nothing until each of its consumer groups has read past
those offsets of the topics it reads (with `REPORTING_READ_PLR_LOG`, the PLR log's group too: its reader takes hours
where the outcomes take minutes, and each of its polls would publish the months it touched, partly read), then
publishes every month once, as it stands. A restart while catching up carries on to the same ends.

A new or dropped store reads the topics from their beginnings, whatever its groups have read before: a group left
where the dropped store had read to (the rebuild's reset skipped, or refused while a member was in the group)
would give it only what comes next, and a month's next outcome would publish the figures of that outcome alone
over the month's real ones. So the groups are moved back to the beginnings first, as the rebuild's reset would
have. Whether a store has begun so is a row of its own (`reporting.store_began`), not whether it holds figures:
one that has read only outcomes it keeps nothing of (no batch decided yet) has begun, and its replicas' restarts
must not move the group another replica reads in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from lrs_platform.kafka import committed_offsets, make_consumer, stop_within, topic_partitions
from lrs_platform.logging import get_logger
from reporting.store import ReportingStore

START_SECONDS = 60.0
"""How long a start waits for Kafka to answer where the topics end (a broker just started: no group coordinator),
and for a group to be moved back to the beginnings (refused while a member is in it: one just stopped, until its
session times out)."""
CHECK_SECONDS = 2.0
"""How often a catch-up under way asks whether the group has read past the ends."""

_log = get_logger("reporting.catch_up")


class GroupStillInUse(RuntimeError):
    """A store that has not begun has a group that has read the topics, and a member kept in it refuses its move to
    the beginnings."""


@dataclass
class CatchUp:
    """The ends a catch-up under way reads to, by (topic, partition); none when publications go out as they come.
    `reads`: the topics each consumer group reads, by group, whose ends are to be read past."""

    store: ReportingStore
    ends: dict[tuple[str, int], int]
    reads: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def holding(self) -> bool:
        return bool(self.ends)

    async def readiness(self) -> str | None:
        """For /readyz (never failing it: the store answers, with the figures counted so far)."""
        if not self.holding:
            return None
        return (
            f"catching up: reading the history again ({len(self.ends)} partitions), nothing published and the"
            " figures partial until it is read"
        )

    async def caught_up(self) -> None:
        await self.store.caught_up()
        self.ends.clear()


async def begin(
    store: ReportingStore,
    bootstrap_servers: str,
    group_id: str,
    topics: Sequence[str],
    *,
    other_reads: Mapping[str, Sequence[str]] | None = None,
) -> CatchUp:
    """The catch-up under way, or a new one when the store has not begun (new, or dropped to be rebuilt) and the
    topics hold messages; otherwise none. A store that has not begun first has its groups (`group_id` reading
    `topics`, and `other_reads`: other groups whose reads the store records, by group) moved back to the
    beginnings of what they read; the catch-up then reads to the ends of every group's topics, not `topics`'
    alone (the groups read different topics: a topic's ends are the one group's that reads it)."""
    reads = {group_id: topics, **(other_reads or {})}
    deadline = asyncio.get_running_loop().time() + START_SECONDS
    while True:
        # asked again after each wait: another replica starting beside this one may have begun the catch-up
        ends = await store.catching_up()
        if ends or await store.has_begun():
            return CatchUp(store, ends, reads)
        try:
            for group, read in reads.items():
                await _read_again_from_beginning(bootstrap_servers, group, read)
            ends = {}
            for group, read in reads.items():
                ends |= await _unread_ends(bootstrap_servers, group, read)
            break
        except CommitFailedError as error:  # a member in the group: one stopped just now is gone within seconds
            if asyncio.get_running_loop().time() > deadline:
                raise GroupStillInUse(
                    f"reporting's store is empty but its consumer groups {sorted(reads)} have read the topics and"
                    " a member is still in one: stop every reporting replica, then start them again (docs/"
                    "operations.md, Rebuilding reporting's store)"
                ) from error
            _log.warning("reporting_catch_up_waits_for_the_group_to_empty", error=type(error).__name__)
            await asyncio.sleep(1.0)
        except KafkaError as error:  # a broker just started has no group coordinator for a moment
            if not error.retriable or asyncio.get_running_loop().time() > deadline:
                raise
            _log.warning("reporting_catch_up_waits_for_kafka", error=type(error).__name__)
            await asyncio.sleep(1.0)
    await store.begin_reading(ends)
    if ends:
        _log.info("reporting_catching_up", partitions=len(ends), groups=sorted(reads))
    return CatchUp(store, ends, reads)


async def _read_again_from_beginning(bootstrap_servers: str, group_id: str, topics: Sequence[str]) -> None:
    """Moves the group's committed offsets that are past the beginnings of `topics` back to them (as
    `kafka-consumer-groups --reset-offsets --to-earliest` would). Refused while a member is in the group."""
    partitions = [partition for topic in topics for partition in await topic_partitions(bootstrap_servers, topic)]
    committed = await committed_offsets(bootstrap_servers, group_id)
    if not any(partition in committed for partition in partitions):
        return  # the group starts at the beginnings anyway (auto_offset_reset earliest)
    consumer = make_consumer(bootstrap_servers, group_id=group_id)
    await consumer.start()
    try:
        consumer.assign(partitions)  # assigned, not subscribed: the group is not joined, only its offsets written
        beginnings = await consumer.beginning_offsets(partitions)
        read = {
            partition: beginning
            for partition, beginning in beginnings.items()
            if committed.get(partition, beginning) > beginning
        }
        if read:
            await consumer.commit(read)
            _log.warning("reporting_group_read_again_from_beginning", group=group_id, partitions=len(read))
    finally:
        await stop_within(consumer.stop(), "reporting catch-up")


async def _unread_ends(bootstrap_servers: str, group_id: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Where each partition of `topics` ends, of those holding what the group has not read."""
    partitions = [partition for topic in topics for partition in await topic_partitions(bootstrap_servers, topic)]
    consumer = make_consumer(bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        found = await consumer.end_offsets(partitions)
    finally:
        await stop_within(consumer.stop(), "reporting catch-up")
    if not any(found.values()):
        return {}  # empty topics (a new installation): nothing to catch up, and no group to ask
    committed = await committed_offsets(bootstrap_servers, group_id)
    return {
        (partition.topic, partition.partition): end
        for partition, end in found.items()
        if end > committed.get(partition, 0)
    }


async def read_past(
    bootstrap_servers: str, reads: Mapping[str, Sequence[str]], ends: Mapping[tuple[str, int], int]
) -> bool:
    """Whether every group of `reads` has read every message before the ends of the topics it reads. An end of a
    topic no group reads any more (a restart with `REPORTING_READ_PLR_LOG` turned off while catching up) is not
    waited for: nothing would read past it."""
    for group_id, topics in reads.items():
        read = set(topics)
        if not await _group_read_past(
            bootstrap_servers, group_id, {tp: end for tp, end in ends.items() if tp[0] in read}
        ):
            return False
    return True


async def _group_read_past(bootstrap_servers: str, group_id: str, ends: Mapping[tuple[str, int], int]) -> bool:
    """Whether the group has read every message before the ends. Between its committed offset and an end there may
    be transaction markers alone, which no consumer is given: a consumer of no group reading from there tells."""
    committed = await committed_offsets(bootstrap_servers, group_id)
    behind = {
        TopicPartition(topic, partition): committed.get(TopicPartition(topic, partition), 0)
        for (topic, partition), end in ends.items()
        if committed.get(TopicPartition(topic, partition), 0) < end
    }
    if not behind:
        return True
    consumer = make_consumer(bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        consumer.assign(list(behind))
        for partition, offset in behind.items():
            consumer.seek(partition, offset)
        found = await consumer.getmany(*behind, timeout_ms=1_000)
        for partition in behind:
            end = ends[(partition.topic, partition.partition)]
            if any(record.offset < end for record in found.get(partition, [])):
                return False  # a message the group has still to read
            if not found.get(partition) and await consumer.position(partition) < end:
                return False  # nothing read yet: not known
        return True
    finally:
        await stop_within(consumer.stop(), "reporting catch-up")


async def finish_when_read_past(
    catch_up: CatchUp, bootstrap_servers: str, publish_every_month: Callable[[], Awaitable[int]]
) -> None:
    """Waits until every group of the catch-up has read past the ends of its topics, then has every month published
    once; an outage of Kafka or PostgreSQL meanwhile is waited out."""
    while catch_up.holding:
        await asyncio.sleep(CHECK_SECONDS)
        try:
            if await read_past(bootstrap_servers, catch_up.reads, catch_up.ends):
                months = await publish_every_month()
                _log.info("reporting_caught_up", months=months)
        except Exception as error:
            _log.warning("reporting_catch_up_check_failed", error=type(error).__name__)
