"""A plr-reader (`PROJECTOR_RUN_CONSUMER=false`) runs no live projection, so it exports none of the projector's
consumer, lag or dead-letter series: each reader's copy of the shared parked count raised the parked-message alert
once more and multiplied `sum(lrs_projector_dlq_depth)`, and its lag and `retrying` of 0 diluted the projector's
(sre walk, finding 3). Its HTTP series stay. What a reader's `/metrics` holds is tested against a running reader in
tests/integration/test_plr_reader_metrics.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_AS_A_PROJECTOR_THEN_A_READER = textwrap.dedent(
    """
    import prometheus_client
    from lrs_platform.parking import PARKED
    from plr_projector import bootstrap, metrics
    from plr_projector.consumer import Runner, Topics
    from plr_projector.store import ReadModel

    live = Runner(
        "live", ReadModel("plr"), None, "kafka:9092", Topics(),
        max_batch_records=10, poll_timeout_ms=10, dead_letter_producer=None,
    )
    # what a projector's metrics updater sets
    metrics.LAG_EVENTS.labels("lrs.plr.events.v1").set(0)
    metrics.LAG_SECONDS.labels("lrs.plr.events.v1").set(0)
    metrics.DLQ_DEPTH.labels("error").set(1)
    metrics.DLQ_STREAMS.set(1)
    PARKED.labels(live.attempts.consumer, "error").set(1)
    print(prometheus_client.generate_latest().decode())
    print("--- as a reader ---")
    bootstrap._export_as_a_reader(live)
    print(prometheus_client.generate_latest().decode())
    print("--- as the projector again ---")
    bootstrap._export_as_the_projector()
    print(prometheus_client.generate_latest().decode())
    """
)


def _samples(exported: str) -> list[str]:
    return [line for line in exported.splitlines() if line and not line.startswith("#")]


def _consumers_series(exported: str) -> list[str]:
    return [
        line
        for line in _samples(exported)
        if line.startswith(("lrs_projector_lag_", "lrs_projector_dlq_"))
        or (line.startswith("lrs_consumer_") and 'consumer="plr-projector.plr"' in line)
    ]


def test_a_reader_exports_none_of_the_live_projections_consumer_lag_or_dead_letter_series() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _AS_A_PROJECTOR_THEN_A_READER], check=True, capture_output=True, text=True
    )
    as_projector, rest = run.stdout.split("--- as a reader ---")
    as_reader, again = rest.split("--- as the projector again ---")

    exported = _consumers_series(as_projector)
    assert 'lrs_consumer_retrying{consumer="plr-projector.plr"} 0.0' in exported
    assert 'lrs_consumer_parked_messages{consumer="plr-projector.plr",reason="error"} 1.0' in exported
    assert 'lrs_projector_dlq_depth{reason="error"} 1.0' in exported
    assert "lrs_projector_dlq_streams 1.0" in exported
    assert 'lrs_projector_lag_events{topic="lrs.plr.events.v1"} 0.0' in exported

    assert _consumers_series(as_reader) == []
    assert "# HELP lrs_projector_dlq_streams" not in as_reader
    assert "lrs_projector_events_total" in as_reader  # the rest of the process's series stay

    assert 'lrs_projector_dlq_depth{reason="error"} 1.0' in _consumers_series(again)
