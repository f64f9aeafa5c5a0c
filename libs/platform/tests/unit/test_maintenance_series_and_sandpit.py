"""The maintenance gate's series exist at 0 from the moment it is made, so that an alert on any increase of
`lrs_consumer_skipped_messages_total` sees the first skip; and a Sandpit's unplanned pause says the Sandpit, not
the LRS, resumes (ops walk, findings 5 and 6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from lrs_contracts.environments import Environment
from lrs_contracts.operations import MaintenancePause, MaintenanceScheduleChanged
from lrs_platform.maintenance import MaintenanceGate, closure_at

NOW = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)


def test_a_new_gate_exports_its_skipped_and_holding_series_at_zero() -> None:
    consumer, topic = f"series-{uuid.uuid4().hex[:8]}", "sandpit.lrs.operations.maintenance.v1"
    labels = {"consumer": consumer, "topic": topic}
    assert REGISTRY.get_sample_value("lrs_consumer_skipped_messages_total", labels) is None
    MaintenanceGate("unused:9092", topic, consumer)
    assert REGISTRY.get_sample_value("lrs_consumer_skipped_messages_total", labels) == 0.0
    assert REGISTRY.get_sample_value("lrs_consumer_holding_for_maintenance", {"consumer": consumer}) == 0.0


def _paused() -> MaintenanceScheduleChanged:
    return MaintenanceScheduleChanged(
        schedule_id=uuid.uuid4(),
        version=1,
        pause=MaintenancePause(since=NOW, reason="sandpit test pause"),
    )


def test_an_unplanned_pause_says_which_environment_resumes() -> None:
    sandpit = closure_at(_paused(), NOW, Environment.SANDPIT)
    live = closure_at(_paused(), NOW)
    assert sandpit is not None and live is not None
    assert sandpit.message == "will be processed when the Sandpit resumes after an unplanned pause"
    assert live.message == "will be processed when the LRS resumes after an unplanned pause"
    assert closure_at(_paused(), NOW, Environment.LIVE) == live
