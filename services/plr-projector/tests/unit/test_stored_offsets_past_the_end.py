"""A stored offset past its partition's end (the log recreated or truncated under the model) is said, not
silently started over."""

from __future__ import annotations

from aiokafka import TopicPartition
from structlog.testing import capture_logs

from lrs_contracts.topics import PLR_EVENTS
from plr_projector.consumer import Runner, Topics
from plr_projector.store import ReadModel


class _Consumer:
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 17)


async def test_a_stored_offset_past_the_partitions_end_is_said() -> None:
    runner = Runner(
        "live",
        ReadModel("plr"),
        None,
        "kafka:9092",
        Topics(),
        max_batch_records=10,
        poll_timeout_ms=10,
        dead_letter_producer=None,
    )
    runner._consumer = _Consumer()
    runner.positions = {(PLR_EVENTS.name, 0): 1000, (PLR_EVENTS.name, 1): 17}
    partitions = [TopicPartition(PLR_EVENTS.name, 0), TopicPartition(PLR_EVENTS.name, 1)]

    with capture_logs() as logs:
        await runner._say_if_past_the_end(partitions)

    said = [log for log in logs if log["event"] == "stored_offset_past_the_log_end"]
    assert [(log["partition"], log["stored"], log["end"]) for log in said] == [(0, 1000, 17)]
