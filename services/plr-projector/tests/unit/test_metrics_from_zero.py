"""The live projection's `lrs_projector_events_total` is exported at 0 from the start, every topic and outcome:
`increase()` over a series born at 1 sees nothing, so an alert on the first duplicate or parked event after a start
would miss it (ops walk, finding 5)."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

from plr_projector import consumer, metrics, projection


def _metrics_of_a_fresh_process() -> str:
    """What /metrics holds once the app's modules are imported, before any event: in a process of its own, as
    this one's counters may have been counted by other tests."""
    script = "import plr_projector.bootstrap, prometheus_client; print(prometheus_client.generate_latest().decode())"
    return subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout


def test_the_live_projections_event_counters_exist_at_zero_before_any_event() -> None:
    exported = _metrics_of_a_fresh_process()

    for topic in ("lrs.plr.events.v1", "lrs.learner.events.v1", "lrs.challenge.events.v1"):
        for outcome in ("applied", "duplicate", "parked", "skipped"):
            series = f'lrs_projector_events_total{{outcome="{outcome}",projection="live",topic="{topic}"}} 0.0'
            assert series in exported
    assert 'lrs_projector_batch_seconds_count{projection="live"} 0.0' in exported


def test_the_outcomes_exported_from_zero_are_every_outcome_the_projector_counts() -> None:
    counted = re.compile(r'outcomes\[\(\s*[\w.]+,\s*"(\w+)"\)\]')
    given = set(counted.findall(inspect.getsource(projection))) | set(counted.findall(inspect.getsource(consumer)))
    assert given == set(metrics.OUTCOMES)


def test_the_live_runner_is_the_projection_exported_from_zero() -> None:
    from plr_projector import bootstrap

    assert f'make_runner("{metrics.LIVE_PROJECTION}", ' in inspect.getsource(bootstrap)
