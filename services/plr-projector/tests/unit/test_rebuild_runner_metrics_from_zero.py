"""A rebuild's runner exports its `lrs_projector_events_total` series at 0 from its start, and they leave /metrics
when it is retired (switched to or abandoned)."""

from __future__ import annotations

from prometheus_client import generate_latest

from plr_projector.consumer import Runner, Topics
from plr_projector.store import ReadModel


def _runner(name: str) -> Runner:
    return Runner(
        name,
        ReadModel("plr_rebuild_990"),
        None,  # never used: the runner is not started
        "127.0.0.1:1",
        Topics(),
        max_batch_records=10,
        poll_timeout_ms=10,
        dead_letter_producer=None,
    )


def test_a_rebuild_runners_series_exist_at_zero_until_it_is_retired() -> None:
    runner = _runner("rebuild-990")
    exported = generate_latest().decode()
    for topic in ("lrs.plr.events.v1", "lrs.learner.events.v1", "lrs.challenge.events.v1"):
        for outcome in ("applied", "duplicate", "parked", "skipped"):
            series = f'lrs_projector_events_total{{outcome="{outcome}",projection="rebuild-990",topic="{topic}"}} 0.0'
            assert series in exported

    runner.retire_metrics()

    assert 'projection="rebuild-990"' not in generate_latest().decode()
