"""Reporting's faust worker keeps the group session every other consumer keeps: a killed worker's partitions
go to its restart within seconds, not after faust's default minute (docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lrs_platform.kafka import MAX_MESSAGE_BYTES, group_session
from reporting.config import ReportingSettings
from reporting.stream import make_stream_app


def test_the_worker_keeps_the_platforms_group_session(tmp_path: Path) -> None:
    unused: Any = None  # the app is only configured here: nothing is projected or parked
    app = make_stream_app(ReportingSettings(data_dir=tmp_path), unused, unused, unused).faust

    assert app.conf.broker_session_timeout * 1000 == group_session().session_timeout_ms
    assert app.conf.broker_heartbeat_interval * 1000 == group_session().heartbeat_interval_ms


def test_the_worker_keeps_the_session_the_setting_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "4000")
    monkeypatch.setenv("KAFKA_HEARTBEAT_INTERVAL_MS", "500")
    group_session.cache_clear()
    try:
        unused: Any = None
        app = make_stream_app(ReportingSettings(data_dir=tmp_path), unused, unused, unused).faust
    finally:
        group_session.cache_clear()

    assert (app.conf.broker_session_timeout, app.conf.broker_heartbeat_interval) == (4.0, 0.5)


def test_the_worker_sends_a_dead_letter_as_large_as_any_message_it_reads(tmp_path: Path) -> None:
    """faust's own limit (1,000,000 bytes) refused the copy of a larger poison for ever, and reporting stopped."""
    unused: Any = None
    app = make_stream_app(ReportingSettings(data_dir=tmp_path), unused, unused, unused).faust

    assert app.conf.producer_max_request_size == MAX_MESSAGE_BYTES
