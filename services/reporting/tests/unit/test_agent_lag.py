"""Reporting exports `lrs_consumer_lag_messages` as every consumer does (docs/operations.md): the stuck-consumer
alert could never fire for MI, whose faust agents counted no lag."""

from __future__ import annotations

from dataclasses import dataclass, field

from faust.types import TP
from prometheus_client import REGISTRY

from reporting.lag import AgentLag

OUTCOMES, CHALLENGES = "lrs.batch.outcomes.v1", "lrs.challenge.events.v1"


@dataclass
class FakePositions:
    """faust's consumer as the count reads it: its partitions, their last stable offsets and fetch positions."""

    ends: dict[TP, int | None]
    fetched: dict[TP, int] = field(default_factory=dict)

    def assignment(self) -> set[TP]:
        return set(self.ends)

    def highwater(self, tp: TP) -> int | None:
        return self.ends[tp]

    async def position(self, tp: TP) -> int | None:
        return self.fetched.get(tp)


def lag_of(consumer: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value("lrs_consumer_lag_messages", {"consumer": consumer, "topic": topic})


async def test_what_waits_is_counted_from_the_event_in_hand_not_from_what_faust_fetched_ahead() -> None:
    consumer = "reporting-lag-in-hand"
    lag = AgentLag(consumer, (OUTCOMES, CHALLENGES))
    first, second = TP(OUTCOMES, 0), TP(OUTCOMES, 1)
    positions = FakePositions({first: 100, second: 50, TP(CHALLENGES, 0): 7}, {second: 50, TP(CHALLENGES, 0): 7})
    positions.fetched[first] = 100  # faust fetched it all; its agent is still on offset 60

    lag.handling(first, 60)
    await lag.count(positions)
    assert (lag_of(consumer, OUTCOMES), lag_of(consumer, CHALLENGES)) == (40, 0)

    lag.handled(first, 99)
    await lag.count(positions)
    assert (lag_of(consumer, OUTCOMES), lag_of(consumer, CHALLENGES)) == (0, 0)


async def test_a_partition_no_longer_assigned_is_left_to_its_new_reader() -> None:
    consumer = "reporting-lag-revoked"
    lag, partition = AgentLag(consumer, (OUTCOMES,)), TP(OUTCOMES, 3)
    lag.handled(partition, 9)
    await lag.count(FakePositions({}))
    assert lag_of(consumer, OUTCOMES) == 0
    await lag.count(FakePositions({partition: 40}, {partition: 30}))  # back, after another replica read on
    assert lag_of(consumer, OUTCOMES) == 10


async def test_a_consumer_not_started_counts_nothing_and_raises_nothing() -> None:
    class NotStarted(FakePositions):
        def assignment(self) -> set[TP]:
            raise RuntimeError("consumer not started")

    await AgentLag("reporting-lag-not-started", (OUTCOMES,)).count(NotStarted({}))
    assert lag_of("reporting-lag-not-started", OUTCOMES) is None


async def test_an_idle_agent_counts_from_the_position_past_a_transactions_marker() -> None:
    """The decider writes outcomes in transactions: offset 100, after the last event (99), is the commit marker,
    never handed to an agent. Counted from the event after the last handled, the partition would wait on it for
    ever (reviewers saw 3 for 14 minutes while ingest and the notifier read 0)."""
    consumer = "reporting-lag-marker"
    lag, partition = AgentLag(consumer, (OUTCOMES,)), TP(OUTCOMES, 0)
    positions = FakePositions({partition: 101}, {partition: 101})

    lag.handling(partition, 99)
    lag.handled(partition, 99)
    await lag.count(positions)  # it finished an event since the last count: more may be in hand
    assert lag_of(consumer, OUTCOMES) == 1

    await lag.count(positions)  # nothing begun or finished since: faust holds nothing for it
    assert lag_of(consumer, OUTCOMES) == 0


async def test_an_agent_at_work_is_counted_from_its_event_even_when_it_stays_on_one() -> None:
    consumer = "reporting-lag-long-event"
    lag, partition = AgentLag(consumer, (OUTCOMES,)), TP(OUTCOMES, 0)
    positions = FakePositions({partition: 101}, {partition: 101})
    lag.handling(partition, 60)
    await lag.count(positions)
    await lag.count(positions)  # a database outage waited out: still on offset 60
    assert lag_of(consumer, OUTCOMES) == 41
