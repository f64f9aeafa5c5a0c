"""Prometheus metrics of the projector (served on /metrics with the rest of the process's metrics)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "lrs_projector_events_total",
    "Log records handled by the projector, by outcome (applied, duplicate, parked, skipped)",
    ["projection", "topic", "outcome"],
)
LAG_EVENTS = Gauge(
    "lrs_projector_lag_events", "Records in the log not yet projected (last stable offset - position)", ["topic"]
)
LAG_SECONDS = Gauge(
    "lrs_projector_lag_seconds",
    "Age of the newest projected record while records are waiting; 0 when caught up",
    ["topic"],
)
DLQ_DEPTH = Gauge(
    "lrs_projector_dlq_depth", "Parked events: poison ('error') and waiting behind one ('blocked')", ["reason"]
)
DLQ_STREAMS = Gauge("lrs_projector_dlq_streams", "Streams (topic, learner) held by a dead letter")
BATCH_SECONDS = Histogram(
    "lrs_projector_batch_seconds",
    "Time to project one batch, database transaction included",
    ["projection"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REBUILD_PROGRESS = Gauge("lrs_projector_rebuild_progress_ratio", "Progress of the running rebuild towards its target")


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
