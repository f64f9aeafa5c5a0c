"""Prometheus metrics of the ingest service (served by the platform's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BATCHES_RECEIVED = Counter("lrs_ingest_batches_received_total", "Batch submissions received", ["format"])
BATCHES_ACCEPTED = Counter("lrs_ingest_batches_accepted_total", "Batches committed to Kafka", ["format"])
BATCHES_REFUSED = Counter("lrs_ingest_batches_refused_total", "Batch submissions refused", ["code"])
SUBMISSIONS_DEFERRED = Counter(
    "lrs_ingest_submissions_deferred_total",
    "Submissions answered 429 while the AO had too many records waiting for their decision (decision 0171)",
    ["ao_id"],
)
IDEMPOTENT_REPLAYS = Counter("lrs_ingest_idempotent_replays_total", "Submissions answered with the original batch")
PUBLISH_FAILURES = Counter("lrs_ingest_publish_failures_total", "Batches Kafka could not take (answered 503)")
RECORDS_PUBLISHED = Counter("lrs_ingest_records_published_total", "Records committed to lrs.batch.submitted.v1")
PUBLISH_SECONDS = Histogram(
    "lrs_ingest_publish_seconds",
    "Time to publish one batch in a Kafka transaction",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OUTCOME_EVENTS = Counter("lrs_ingest_outcome_events_total", "Outcome events stored in the batch view", ["event_type"])
BATCHES_RECONCILED = Counter(
    "lrs_ingest_batches_reconciled_total",
    "Batches the reconciler found decided on the outcomes topic while the batch view still waited",
)
