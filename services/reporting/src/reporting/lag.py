"""`lrs_consumer_lag_messages` of reporting's faust agents: the platform's gauge, with its labels and meaning.

`ConsumerLoop` counts it after each poll; faust polls in a thread of its own and fetches ahead of its agents, so
here each agent says which event it is handling and which it has handled, and a timer counts what waits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Protocol

from faust.types import TP

from lrs_platform.consumer import LAG


class Positions(Protocol):
    """What the count reads of faust's consumer."""

    def assignment(self) -> set[TP]: ...

    def highwater(self, tp: TP) -> int | None:
        """The partition's last stable offset (reporting reads committed: `stream._ReadCommittedConsumerThread`)."""
        ...

    async def position(self, tp: TP) -> int | None: ...


class AgentLag:
    """What waits for the agents on each topic they read: a partition's last stable offset less the offset of the
    next event to handle, the event in hand included, summed over the partitions assigned.

    While a topic's agent is at work, the next event of a partition is the one in hand, or the one after the last
    it handled. An agent that has neither begun nor finished an event since the last count holds nothing (one
    agent a topic, `concurrency=1`: it would be at work otherwise), and its partitions are counted from the
    consumer's position, as `lrs_platform.consumer.LagCount` counts: what the client fetches next, past the
    marker a transaction leaves after its last event. Counted from the last event handled, each partition written
    to in transactions (by the decider, say) would count that marker, 1, for ever. A partition no agent has
    handled an event of yet is counted from the position too (which is ahead of the agents by what faust holds
    for them)."""

    def __init__(self, consumer: str, topics: Collection[str]) -> None:
        self.consumer = consumer
        self._topics = frozenset(topics)
        self._next: dict[TP, int] = {}
        self._at_work: set[str] = set()
        self._stirred: set[str] = set()  # topics whose agent began or finished an event since the last count

    def handling(self, tp: TP, offset: int) -> None:
        self._next[tp] = offset
        self._at_work.add(tp.topic)
        self._stirred.add(tp.topic)

    def handled(self, tp: TP, offset: int) -> None:
        self._next[tp] = offset + 1
        self._at_work.discard(tp.topic)
        self._stirred.add(tp.topic)

    async def count(self, positions: Positions) -> None:
        with contextlib.suppress(Exception):  # not started yet, or a partition revoked meanwhile: the next count
            await self._count(positions)

    async def _count(self, positions: Positions) -> None:
        idle = self._topics - self._at_work - self._stirred
        self._stirred = set()
        assigned = {tp for tp in positions.assignment() if tp.topic in self._topics}
        for gone in self._next.keys() - assigned:  # another replica handles it now: its offsets are not ours
            del self._next[gone]
        behind = dict.fromkeys(self._topics, 0)
        for tp in assigned:
            end = positions.highwater(tp)
            if end is None or end < 0:
                continue
            position = None if tp.topic in idle else self._next.get(tp)
            if position is None:
                position = await positions.position(tp)
                if position is None:
                    continue
            behind[tp.topic] += max(0, end - position)
        for topic, count in behind.items():
            LAG.labels(self.consumer, topic).set(count)
