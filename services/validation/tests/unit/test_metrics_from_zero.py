"""Validation's counters are exported at 0 from the start: `increase()` over a series born at 1 sees nothing, so
an alert on `increase(lrs_validation_batches_total{result="failed"}[1h]) > 0` would miss the first RS005 after
every start (ops walk, finding 5)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

from lrs_contracts.outcomes import RecordStatus
from validation import decider


def _metrics_of_a_fresh_process() -> str:
    """What /metrics holds once the app's modules are imported, before any batch: in a process of its own, as
    this one's counters may have been counted by other tests."""
    script = "import validation.bootstrap, prometheus_client; print(prometheus_client.generate_latest().decode())"
    return subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout


def test_the_decision_counters_exist_at_zero_before_any_batch() -> None:
    exported = _metrics_of_a_fresh_process()

    for result in ("completed", "failed"):
        assert f'lrs_validation_batches_total{{result="{result}"}} 0.0' in exported
    for status in ("accepted", "rejected", "no_op"):
        for result in ("completed", "failed"):
            assert f'lrs_validation_records_total{{result="{result}",status="{status}"}} 0.0' in exported


def test_the_values_exported_from_zero_are_every_value_the_decider_counts() -> None:
    source = inspect.getsource(decider)
    results = re.search(r"result = (.*)\n\s*BATCHES_DECIDED\.labels\(result\)\.inc\(\)", source)
    assert results is not None
    assert set(re.findall(r'"(\w+)"', results.group(1))) == set(decider.BATCH_RESULTS)
    statuses = set(re.findall(r'RECORDS_DECIDED\.labels\("(\w+)", result\)\.inc', source))
    assert statuses == {status.value for status in RecordStatus}
