"""Reporting's faust worker keeps the group session every other consumer keeps: a killed worker's partitions
go to its restart within seconds, not after faust's default minute (docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrs_platform.kafka import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
from reporting.config import ReportingSettings
from reporting.stream import make_stream_app


def test_the_worker_keeps_the_platforms_group_session(tmp_path: Path) -> None:
    unused: Any = None  # the app is only configured here: nothing is projected or parked
    app = make_stream_app(ReportingSettings(data_dir=tmp_path), unused, unused).faust

    assert app.conf.broker_session_timeout * 1000 == SESSION_TIMEOUT_MS
    assert app.conf.broker_heartbeat_interval * 1000 == HEARTBEAT_INTERVAL_MS
