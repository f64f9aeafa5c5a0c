"""A rebalance that lands while a replica applies a poll (the scale-out walk, finding 1).

The replica's commit of a partition the group had just given to another replica was refused (`IllegalStateError:
Partition ... is not assigned`, or `CommitFailedError` once the group had rebalanced meanwhile), and the loop took
the refusal for a failing client: `consumer_restarting` (a warning), `lrs_consumer_retrying` 1, the client stopped
(leaving its group) and rebuilt, so one membership change cost every member two rebalances. Now only the partitions
still assigned are committed; a refusal for a revoked partition is said at info and the client goes on. Nothing is
marked as committed that was not: the new holder reads those messages again from the group's offset."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from lrs_platform.consumer import ConsumerLoop, LagCount, Message, PoisonGuard, RetryPolicy
from lrs_platform.parking import DeadLetterOffice

TOPIC = "lrs.batch.outcomes.v1"
ZERO, FIVE = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 5)
NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0, poison_attempts=2)


@dataclass
class Client:
    """A Kafka client holding `partitions`: its polls hand out `polls` one after the other, then it waits (a
    quiet topic) with `drained` set. Its commit refuses as aiokafka's does: a partition not assigned
    (`IllegalStateError`), or `refusal` when given (the group rebalanced between the check and the request)."""

    partitions: set[TopicPartition]
    polls: list[dict[TopicPartition, list[Message]]]
    refusal: Exception | None = None
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    commits: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False

    def subscribe(self, topics: Sequence[str]) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return 100

    async def position(self, tp: TopicPartition) -> int:
        return 0

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Message]]:
        if not self.polls:
            self.drained.set()
            await asyncio.Event().wait()
        return self.polls.pop(0)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits += 1
        for tp in offsets:
            if tp not in self.partitions:
                raise IllegalStateError(f"Partition {tp} is not assigned")
        if self.refusal is not None:
            raise self.refusal
        self.committed.update(offsets)


def messages(tp: TopicPartition, *offsets: int) -> list[Message]:
    return [Message(tp.topic, tp.partition, offset, None, b"{}") for offset in offsets]


async def consumed(
    name: str, client: Client, during_apply: Callable[[Client], None]
) -> tuple[list[Client], list[MutableMapping[str, Any]]]:
    """Runs a loop over `client` until it has polled everything (`during_apply` done at the first apply: the
    rebalance); returns every client the loop built and what it logged."""
    applied = 0

    async def handler(batch: Sequence[Message]) -> None:
        nonlocal applied
        applied += 1
        if applied == 1:
            during_apply(client)

    guard = PoisonGuard(name, handler, DeadLetterOffice(None, None), NO_WAIT)  # type: ignore[arg-type]
    guard.start = lambda: asyncio.sleep(0)  # type: ignore[method-assign]
    built: list[Client] = []
    rebuilt = asyncio.Event()

    def next_client() -> Client:
        if built:
            rebuilt.set()
        built.append(client if not built else Client(set(client.partitions), []))
        return built[-1]

    loop = ConsumerLoop(guard, [TOPIC], next_client)
    loop.lag = LagCount(name, wait=_never)
    with capture_logs() as logs:
        task = asyncio.create_task(loop.run())
        ends = [asyncio.create_task(client.drained.wait()), asyncio.create_task(rebuilt.wait())]
        try:
            await asyncio.wait_for(asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED), timeout=5)
        finally:
            for running in (task, *ends):
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    return built, logs


async def _never(seconds: float) -> None:
    """The lag counter's wait between counts: the counts are not what these tests read."""
    await asyncio.Event().wait()


def said(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


def retrying(name: str) -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_retrying", {"consumer": name})


async def test_a_partition_revoked_while_its_poll_is_applied_is_not_committed_and_the_client_goes_on() -> None:
    """The walk's case: partition 5 goes to the replica that just joined while this one applies 0 and 5."""
    client = Client(
        {ZERO, FIVE}, [{ZERO: messages(ZERO, 10, 11), FIVE: messages(FIVE, 40)}, {ZERO: messages(ZERO, 12)}]
    )

    def rebalanced(client: Client) -> None:
        client.partitions.discard(FIVE)

    built, logs = await consumed("rebalance.revoked", client, rebalanced)

    assert len(built) == 1, "the client must not be rebuilt: its stop leaves the group, a second rebalance"
    assert not said(logs, "consumer_restarting")
    assert retrying("rebalance.revoked") in (None, 0)
    assert client.committed == {ZERO: 13}, "partition 5 stays where the group had it: its new holder reads 40 again"
    skipped = said(logs, "commit_skipped_partition_revoked")
    assert [entry["partitions"] for entry in skipped] == [[f"{TOPIC}:5"]]
    assert all(entry["log_level"] == "info" for entry in skipped)


async def test_a_commit_the_group_refuses_after_it_rebalanced_is_said_at_info_and_nothing_is_marked_committed() -> None:
    client = Client(
        {ZERO, FIVE},
        [{ZERO: messages(ZERO, 10), FIVE: messages(FIVE, 40)}],
        refusal=CommitFailedError("Commit cannot be completed since the group has already rebalanced"),
    )

    built, logs = await consumed("rebalance.refused", client, lambda client: None)

    assert len(built) == 1
    assert not said(logs, "consumer_restarting")
    assert client.commits == 1 and client.committed == {}
    [skipped] = said(logs, "commit_skipped_partition_revoked")
    assert skipped["partitions"] == [f"{TOPIC}:0", f"{TOPIC}:5"]
    assert "CommitFailedError" in str(skipped["error"])
    assert skipped["log_level"] == "info"


async def test_a_poll_whose_partitions_all_went_elsewhere_commits_nothing() -> None:
    client = Client({FIVE}, [{FIVE: messages(FIVE, 40, 41)}])

    built, logs = await consumed("rebalance.all_gone", client, lambda client: client.partitions.clear())

    assert len(built) == 1
    assert client.commits == 0
    assert not said(logs, "consumer_restarting")
    assert [entry["partitions"] for entry in said(logs, "commit_skipped_partition_revoked")] == [[f"{TOPIC}:5"]]


async def test_a_client_whose_state_is_wrong_for_another_reason_is_still_rebuilt() -> None:
    """An `IllegalStateError` for partitions the client still holds is no revocation: the client is rebuilt."""
    client = Client({ZERO}, [{ZERO: messages(ZERO, 10)}], refusal=IllegalStateError("No partitions assigned"))

    built, logs = await consumed("rebalance.not_one", client, lambda client: None)

    assert len(built) == 2
    assert said(logs, "consumer_restarting")
    assert not said(logs, "commit_skipped_partition_revoked")
