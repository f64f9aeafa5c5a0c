"""What the operator operations on the projection share: how they refuse, and the probe of the log's ends.
The operations have a module each: `dead_letters`, `rebuild_jobs` and `replays`."""

from __future__ import annotations

from enum import StrEnum

from aiokafka import AIOKafkaConsumer, TopicPartition

from lrs_platform.kafka import make_consumer
from plr_projector.consumer import TopicPositions, Topics


class Refusal(StrEnum):
    NOTHING_TO_DO = "nothing to do"  # nothing to act on
    NOT_NOW = "not now"  # another operation, or the state of this one, is in the way
    INVALID = "invalid"  # the request itself cannot be carried out


class OperationError(Exception):
    """An operator request that cannot be carried out; the HTTP edge answers it by its `refusal`."""

    def __init__(self, refusal: Refusal, title: str, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal
        self.title = title
        self.detail = detail


# --- the log's ends ----------------------------------------------------------------------------


class LogProbe:
    """Asks the brokers for end offsets and offsets by time; never reads records."""

    def __init__(self, bootstrap_servers: str, topics: Topics) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = topics
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = make_consumer(self._bootstrap, group_id=None)
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def end_offsets(self, partitions: list[TopicPartition]) -> TopicPositions:
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(partitions)
        return {(self._topics.logical(tp.topic), tp.partition): offset for tp, offset in ends.items()}

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> TopicPositions:
        assert self._consumer is not None
        firsts = await self._consumer.beginning_offsets(partitions)
        return {(self._topics.logical(tp.topic), tp.partition): offset for tp, offset in firsts.items()}

    async def offsets_for_time(self, partitions: list[TopicPartition], timestamp_ms: int) -> dict[int, int | None]:
        assert self._consumer is not None
        found = await self._consumer.offsets_for_times(dict.fromkeys(partitions, timestamp_ms))
        return {tp.partition: (entry.offset if entry is not None else None) for tp, entry in found.items()}
