"""The challenges service resumes the PLR log where its own record says, never from the beginning because
PostgreSQL did not answer at the moment its partitions were assigned."""

from __future__ import annotations

from aiokafka import TopicPartition

from challenges.log_follower import ResumeFromStoredPositions
from challenges.record_store import Positions

PLR = "lrs.plr.events.v1"


class _Consumer:
    def __init__(self) -> None:
        self.sought: dict[TopicPartition, int] = {}
        self.from_beginning: list[TopicPartition] = []

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought[partition] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.from_beginning.extend(partitions)


class _Record:
    def __init__(self, failures: int, positions: Positions) -> None:
        self.failures = failures
        self.stored = positions
        self.asked = 0

    async def positions(self) -> Positions:
        self.asked += 1
        if self.asked <= self.failures:
            raise ConnectionRefusedError("PostgreSQL is restarting")
        return self.stored


async def test_positions_unreadable_for_a_while_are_waited_for_not_taken_for_none() -> None:
    consumer, record = _Consumer(), _Record(failures=2, positions={(PLR, 0): 4711})
    listener = ResumeFromStoredPositions(consumer, record, retry_every=0.01)  # type: ignore[arg-type]
    assigned = [TopicPartition(PLR, 0), TopicPartition(PLR, 1)]

    await listener.on_partitions_assigned(assigned)

    assert record.asked == 3
    assert consumer.sought == {TopicPartition(PLR, 0): 4711}
    assert consumer.from_beginning == [TopicPartition(PLR, 1)]  # no position stored: a partition never read


async def test_a_partition_without_a_stored_position_starts_at_the_beginning() -> None:
    consumer, record = _Consumer(), _Record(failures=0, positions={})
    listener = ResumeFromStoredPositions(consumer, record)  # type: ignore[arg-type]
    await listener.on_partitions_assigned([TopicPartition(PLR, 2)])
    assert consumer.from_beginning == [TopicPartition(PLR, 2)] and record.asked == 1
