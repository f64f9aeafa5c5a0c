"""Where the projector is on the log, as it tells operators: a stored offset past its partition's end (the log
recreated or truncated under the model) is said, not silently started over; the lag in seconds is the waiting records' age;
a step that wrote a batch's events names the batch."""

from __future__ import annotations

import time
import uuid

from aiokafka import TopicPartition
from structlog.testing import capture_logs

from lrs_contracts.topics import PLR_EVENTS
from plr_projector.projection import BatchChanges

from .runners import live_runner


class _Ends:
    def __init__(self, end: int) -> None:
        self.end = end

    def last_stable_offset(self, partition: TopicPartition) -> int:
        return self.end


def test_the_lag_in_seconds_counts_from_when_the_projector_was_last_caught_up_not_the_quiet_spell_before() -> None:
    """A quiet night, then the first batch of the morning: its records are seconds old, not hours."""
    runner = live_runner()
    runner._partitions = [TopicPartition(PLR_EVENTS.name, 0)]
    runner.positions = {(PLR_EVENTS.name, 0): 100}
    runner.stats.newest_timestamp_ms[PLR_EVENTS.name] = int(time.time() * 1000) - 6 * 3600 * 1000  # last night
    runner._consumer = _Ends(100)

    assert runner.lag()[PLR_EVENTS.name] == {"events": 0, "seconds": 0.0}  # caught up, seen now
    runner._consumer = _Ends(5_100)  # the morning's first batch arrives
    waiting = runner.lag()[PLR_EVENTS.name]

    assert waiting["events"] == 5_000 and waiting["seconds"] < 5


def test_a_stored_offset_past_the_partitions_end_is_said_once() -> None:
    runner = live_runner()
    runner._partitions = [TopicPartition(PLR_EVENTS.name, 0), TopicPartition(PLR_EVENTS.name, 1)]
    runner.positions = {(PLR_EVENTS.name, 0): 1000, (PLR_EVENTS.name, 1): 17}
    runner._consumer = _Ends(17)

    with capture_logs() as logs:
        runner.lag()
        runner.lag()

    said = [log for log in logs if log["event"] == "stored_offset_past_the_log_end"]
    assert [(log["partition"], log["stored"], log["end"]) for log in said] == [(0, 1000, 17)]


def test_a_step_that_wrote_a_batchs_events_names_the_batch_and_a_step_of_other_events_says_nothing() -> None:
    runner = live_runner()
    batch = uuid.uuid4()
    decided = BatchChanges()
    decided.marks[(batch, 0)] = (4_000, 812)
    decided.marks[(batch, 3)] = (3_200, 640)
    decided.outcomes[(PLR_EVENTS.name, "applied")] = 7_200
    decided.batch_outcomes[(batch, "applied")] = 7_200
    other = BatchChanges()
    other.outcomes[(PLR_EVENTS.name, "applied")] = 1

    with capture_logs() as logs:
        runner.account(decided, 0.25)
        runner.account(other, 0.01)

    said = [log for log in logs if log["event"] == "batch_events_projected"]
    assert [(log["batches"], log["events"], log["ms"]) for log in said] == [([str(batch)], 7_200, 250.0)]
