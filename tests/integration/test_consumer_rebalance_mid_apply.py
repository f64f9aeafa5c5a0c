"""A replica joining its group while another applies a poll (the scale-out walk, finding 1): the one applying commits
only the partitions it still holds, says the others at info (`commit_skipped_partition_revoked`), and goes on with
the same Kafka client. Before, its commit of the partition it had just lost was refused (`IllegalStateError`), it
logged `consumer_restarting` and rebuilt its client, leaving and rejoining the group: a second rebalance. Nothing is
lost: the replica now holding the revoked partition reads those messages again from the group's offset."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Mapping, Sequence

import pytest
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata
from tests.support.waiting import eventually

from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy
from lrs_platform.kafka import make_admin, make_consumer, make_producer
from lrs_platform.parking import DeadLetterOffice

pytestmark = pytest.mark.integration

NO_WAIT = RetryPolicy(base_seconds=0.1, max_seconds=0.1, poison_attempts=2)


async def _topic_of_two_partitions(bootstrap: str) -> str:
    """A topic of its own with offsets 0-9 on each of its two partitions, keyless (no parked stream to ask of)."""
    topic = f"lrs.test.rebalance.{uuid.uuid4().hex[:12]}"
    admin = make_admin(bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for partition in (0, 1):
            for number in range(10):
                await producer.send_and_wait(topic, f"message {number}".encode(), partition=partition)
    finally:
        await producer.stop()
    return topic


def _all_to_the_second(replica: str) -> type[AbstractPartitionAssignor]:
    """An assignor (the same protocol for both replicas, each saying its name in its metadata) that gives every
    partition to the second replica once it is in the group: the first loses all it holds, whatever its poll took."""

    class AllToTheSecond(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka is untyped
        name = "lrs-test-all-to-the-second"
        version = 0

        @classmethod
        def assign(
            cls, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            taker = min(members, key=lambda member: (members[member].user_data != b"second", member))
            topics = sorted({topic for metadata in members.values() for topic in metadata.subscription})
            given = [(topic, sorted(cluster.partitions_for_topic(topic) or ())) for topic in topics]
            return {
                member: ConsumerProtocolMemberAssignment(cls.version, given if member == taker else [], b"")
                for member in members
            }

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            return ConsumerProtocolMemberMetadata(cls.version, list(topics), replica.encode())

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            return None

    return AllToTheSecond


async def test_a_replica_joining_while_the_other_applies_a_poll_costs_one_rebalance_and_loses_nothing(
    kafka_bootstrap: str,
) -> None:
    topic = await _topic_of_two_partitions(kafka_bootstrap)
    group = f"lrs-test-rebalance-{uuid.uuid4().hex[:12]}"
    applied: dict[str, set[tuple[int, int]]] = {"first": set(), "second": set()}
    clients: dict[str, list[AIOKafkaConsumer]] = {"first": [], "second": []}
    held: list[set[tuple[int, int]]] = []  # what the first replica's first poll took
    loops: dict[str, ConsumerLoop] = {}

    def replica(name: str) -> ConsumerLoop:
        async def handler(messages: Sequence[Message]) -> None:
            if name == "first" and not held:
                held.append({(message.partition, message.offset) for message in messages})
                # the second replica joins while this poll is applied, and the group gives it every partition
                await eventually(second_assigned, within=60, what="the second replica assigned")
            applied[name].update((message.partition, message.offset) for message in messages)

        def client() -> AIOKafkaConsumer:
            clients[name].append(
                make_consumer(
                    kafka_bootstrap,
                    group_id=group,
                    name=f"rebalance.{name}",
                    partition_assignment_strategy=(_all_to_the_second(name),),
                )
            )
            return clients[name][-1]

        guard = PoisonGuard(f"rebalance.{name}", handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
        guard.start = lambda: asyncio.sleep(0)  # type: ignore[method-assign]
        return ConsumerLoop(guard, [topic], client)

    async def second_assigned() -> bool | None:
        return loops["second"].assigned or None

    async def first_holds_a_poll() -> bool | None:
        return bool(held) or None

    async def all_applied() -> bool | None:
        return (applied["first"] | applied["second"]) >= everything or None

    async def commit_said() -> bool | None:  # skipped, or (before the fix) refused and the client rebuilt
        said = {"commit_skipped_partition_revoked", "consumer_restarting"}
        return any(entry["event"] in said for entry in logged) or None

    loops["first"] = replica("first")
    loops["second"] = replica("second")
    everything = {(partition, offset) for partition in (0, 1) for offset in range(10)}
    with structlog.testing.capture_logs() as logged:
        first = asyncio.create_task(loops["first"].run())
        await eventually(first_holds_a_poll, within=60, what="the first replica applying its first poll")
        second = asyncio.create_task(loops["second"].run())
        try:
            await eventually(all_applied, within=60, what="every message applied by one replica or the other")
            await eventually(commit_said, within=30, what="the first replica's commit of its first poll")
        finally:
            for task in (first, second):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    assert not [entry for entry in logged if entry["event"] == "consumer_restarting"]
    assert len(clients["first"]) == 1, "the first replica's client must not be rebuilt (a second rebalance)"
    [skipped] = [entry for entry in logged if entry["event"] == "commit_skipped_partition_revoked"]
    assert skipped["consumer"] == "rebalance.first" and skipped["log_level"] == "info"
    [first_poll] = held
    assert skipped["partitions"] == sorted({f"{topic}:{partition}" for partition, _ in first_poll})
    # at-least-once: what the first replica applied and did not commit was read again by the one that holds it now
    assert first_poll <= applied["second"]
