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
    next event to handle, the event in hand included, summed over the partitions assigned. A partition no agent
    has handled an event of yet is counted from the consumer's position (which is ahead of the agents by what
    faust holds for them)."""

    def __init__(self, consumer: str, topics: Collection[str]) -> None:
        self.consumer = consumer
        self._topics = frozenset(topics)
        self._next: dict[TP, int] = {}

    def handling(self, tp: TP, offset: int) -> None:
        self._next[tp] = offset

    def handled(self, tp: TP, offset: int) -> None:
        self._next[tp] = offset + 1

    async def count(self, positions: Positions) -> None:
        with contextlib.suppress(Exception):  # not started yet, or a partition revoked meanwhile: the next count
            await self._count(positions)

    async def _count(self, positions: Positions) -> None:
        assigned = {tp for tp in positions.assignment() if tp.topic in self._topics}
        for gone in self._next.keys() - assigned:  # another replica handles it now: its offsets are not ours
            del self._next[gone]
        behind = dict.fromkeys(self._topics, 0)
        for tp in assigned:
            end = positions.highwater(tp)
            if end is None or end < 0:
                continue
            position = self._next.get(tp)
            if position is None:
                position = await positions.position(tp)
                if position is None:
                    continue
            behind[tp.topic] += max(0, end - position)
        for topic, count in behind.items():
            LAG.labels(self.consumer, topic).set(count)
