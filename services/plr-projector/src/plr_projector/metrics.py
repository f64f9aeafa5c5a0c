"""Prometheus metrics of the projector (served on /metrics with the rest of the process's metrics)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from plr_projector.projection import PROJECTED_TOPICS

EVENTS = Counter(
    "lrs_projector_events_total",
    "Log records handled by the projector, by outcome (applied, duplicate, parked, skipped)",
    ["projection", "topic", "outcome"],
)
OUTCOMES = ("applied", "duplicate", "parked", "skipped")
"""Every `outcome` of EVENTS (`BatchChanges.outcomes`)."""
# The live projection's lag and dead letters: exported only by the process that runs it (`ConsumerSeries`), not
# registered by themselves.
LAG_EVENTS = Gauge(
    "lrs_projector_lag_events",
    "Records in the log not yet projected (last stable offset - position)",
    ["topic"],
    registry=None,
)
LAG_SECONDS = Gauge(
    "lrs_projector_lag_seconds",
    "While records wait, how long at most the oldest has waited: now minus the later of the newest projected"
    " record's time and when the projector was last seen caught up; 0 when caught up",
    ["topic"],
    registry=None,
)
DLQ_DEPTH = Gauge(
    "lrs_projector_dlq_depth",
    "Parked events: poison ('error') and waiting behind one ('blocked')",
    ["reason"],
    registry=None,
)
DLQ_STREAMS = Gauge("lrs_projector_dlq_streams", "Streams (topic, learner) held by a dead letter", registry=None)


class ConsumerSeries(Collector):
    """`lrs_projector_lag_*` and `lrs_projector_dlq_*`, exported while `exported` (the default): a plr-reader
    (`PROJECTOR_RUN_CONSUMER=false`) runs no live projection and turns them off, else each reader's copy of the
    shared parked count raised a parked-message alert once more and its lag of 0 diluted the projector's
    (sre walk, finding 3)."""

    def __init__(self, *gauges: Gauge) -> None:
        self._gauges = gauges
        self.exported = True

    def collect(self) -> list[Metric]:
        return [family for gauge in self._gauges for family in gauge.collect()] if self.exported else []


CONSUMER_SERIES = ConsumerSeries(LAG_EVENTS, LAG_SECONDS, DLQ_DEPTH, DLQ_STREAMS)
REGISTRY.register(CONSUMER_SERIES)
BATCH_SECONDS = Histogram(
    "lrs_projector_batch_seconds",
    "Time to project one batch, database transaction included",
    ["projection"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REBUILD_PROGRESS = Gauge("lrs_projector_rebuild_progress_ratio", "Progress of the running rebuild towards its target")
LIVE_PROJECTION = "live"
"""The `projection` of the live runner (a rebuild's is `rebuild-<n>`)."""


def count_from_zero(projection: str, topics: Iterable[str]) -> set[tuple[str, str]]:
    """Every (topic, outcome) series of `projection`'s EVENTS exported at 0 from its start, so that `increase()`
    sees its first duplicate or parked event (a series born at 1 increases by nothing). Returns them, for the
    runner to remove when it is retired."""
    series = [(topic, outcome) for topic in topics for outcome in OUTCOMES]
    for topic, outcome in series:
        EVENTS.labels(projection, topic, outcome)
    return set(series)


# The live runner's series from the process's start (it is never retired; messages carry logical topic names)
count_from_zero(LIVE_PROJECTION, PROJECTED_TOPICS)
BATCH_SECONDS.labels(LIVE_PROJECTION)


@dataclass
class Recount:
    """When to count the parked events again (`DLQ_DEPTH`): a count reads every parked row (~150 ms at
    1M parked, during the very incident that parked them), so it is taken again only once the parked
    table was written (`version` changed: `ReadModel.parked_changes`), and at least every `every_seconds`
    (a server that keeps no statistics)."""

    every_seconds: float
    _last: tuple[object, float] | None = None

    def due(self, version: object, now: float) -> bool:
        return self._last is None or self._last[0] != version or now - self._last[1] >= self.every_seconds

    def counted(self, version: object, now: float) -> None:
        self._last = (version, now)
