"""Prometheus metrics of the ingest service (served by the platform's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
)
from lrs_contracts.registry import event_type_of

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
    "Time to publish one batch in a Kafka transaction, by outcome: published (committed) or failed (Kafka did not"
    " take it within the publish timeout, answered 503)",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PUBLISH_OUTCOMES = ("published", "failed")
"""Every `outcome` of PUBLISH_SECONDS: a failed publish is timed too, else a latency panel looked healthy while every
publish timed out (sre walk, finding 7)."""
OUTCOME_EVENTS = Counter("lrs_ingest_outcome_events_total", "Outcome events stored in the batch view", ["event_type"])
BATCHES_RECONCILED = Counter(
    "lrs_ingest_batches_reconciled_total",
    "Batches the reconciler found decided on the outcomes topic while the batch view still waited",
)

UNKNOWN_FORMAT = "unknown"
"""The `format` of BATCHES_RECEIVED for a body whose format was never known (refused before, RS001/RS002)."""
REFUSAL_CODES = tuple(code for code in BatchCode if code is not BatchCode.REJECTION_THRESHOLD)
"""Every `code` of BATCHES_REFUSED: refused at the door; RS005 is validation's, a batch failed once decided."""
OUTCOME_EVENT_TYPES = tuple(
    event_type_of(model)
    for model in (BatchValidationStarted, BatchRecordsDecided, BatchCompleted, BatchFailed, BatchAbandoned)
)
"""Every `event_type` of OUTCOME_EVENTS: the events the batch view stores (`ingest.outcomes`)."""

# Every series of a known label exported from the start at 0, so that `increase()` sees the first refusal or
# outcome after a start (a series born at 1 increases by nothing). `ao_id` of SUBMISSIONS_DEFERRED is any AO's, not
# known at the start: an AO's series is exported at 0 from its first submission since
# (`api._records_waiting_at_the_limit`), so only a deferral of an AO's first submission after a start makes its
# series begin at 1.
for _format in BatchFormat:
    BATCHES_RECEIVED.labels(_format.value)
    BATCHES_ACCEPTED.labels(_format.value)
BATCHES_RECEIVED.labels(UNKNOWN_FORMAT)
for _code in REFUSAL_CODES:
    BATCHES_REFUSED.labels(_code.value)
for _event_type in OUTCOME_EVENT_TYPES:
    OUTCOME_EVENTS.labels(_event_type)
for _outcome in PUBLISH_OUTCOMES:
    PUBLISH_SECONDS.labels(_outcome)
