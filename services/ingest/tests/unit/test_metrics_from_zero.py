"""Ingest's labelled counters are exported at 0 from the start, every known label value: `increase()` over a
series born at 1 sees nothing, so an alert on the outcomes stored or the refusals would miss the first after every
start (ops walk, finding 5)."""

from __future__ import annotations

import subprocess
import sys

from ingest import metrics, outcomes
from lrs_contracts.codes import BatchCode


def _metrics_of_a_fresh_process() -> str:
    """What /metrics holds once the app's modules are imported, before any request or event: in a process of its
    own, as this one's counters may have been counted by other tests."""
    script = "import ingest.bootstrap, prometheus_client; print(prometheus_client.generate_latest().decode())"
    return subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout


def test_the_labelled_counters_exist_at_zero_before_any_batch() -> None:
    exported = _metrics_of_a_fresh_process()

    for event_type in (
        "lrs.batch.validation.started.v1",
        "lrs.batch.records.decided.v1",
        "lrs.batch.completed.v1",
        "lrs.batch.failed.v1",
        "lrs.batch.abandoned.v1",
    ):
        assert f'lrs_ingest_outcome_events_total{{event_type="{event_type}"}} 0.0' in exported
    for fmt in ("xml", "csv", "json"):
        assert f'lrs_ingest_batches_received_total{{format="{fmt}"}} 0.0' in exported
        assert f'lrs_ingest_batches_accepted_total{{format="{fmt}"}} 0.0' in exported
    assert 'lrs_ingest_batches_received_total{format="unknown"} 0.0' in exported
    for code in ("RS001", "RS002", "RS003", "RS004", "RS006", "RS007"):
        assert f'lrs_ingest_batches_refused_total{{code="{code}"}} 0.0' in exported
    assert 'code="RS005"' not in exported  # validation's: never a refusal at the door


def test_the_values_exported_from_zero_are_every_value_ingest_counts() -> None:
    assert set(metrics.OUTCOME_EVENT_TYPES) == outcomes._VIEW_EVENT_TYPES
    assert set(metrics.REFUSAL_CODES) == set(BatchCode) - {BatchCode.REJECTION_THRESHOLD}
