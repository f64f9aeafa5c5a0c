"""`lrs projector rebuild status|start --follow` on a failed rebuild says it failed and why, never an ETA, and
exits 1; `start` without --workers leaves the number to the projector (on Kubernetes the rebuild Job's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.projector_commands import rebuild_line

from .answering import answered_by

WHY = "RebuildFailed: worker 1 failed and was not retried within 300 s (the Job gave up on it): OSError: disk full"
LOADING = {
    "state": "running",
    "phase": "loading",
    "rebuild_id": 3,
    "progress": 0.762,
    "projected_events": 7_620,
    "target_events": 10_000,
    "events_per_second": 420.0,
    "eta_seconds": 18.0,
    "events_past_target": 0,
    "workers": [{"worker": 0, "state": "done"}, {"worker": 1, "state": "running"}],
    "last_error": None,
}
FAILED = {
    **LOADING,
    "state": "failed",
    "eta_seconds": None,
    "last_error": WHY,
    "workers": [{"worker": 0, "state": "done"}, {"worker": 1, "state": "failed"}],
}


def serve(monkeypatch: pytest.MonkeyPatch, answers: Iterator[dict[str, Any]], asked: list[str]) -> None:
    def projector(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        return httpx.Response(200 if request.method == "GET" else 202, json=next(answers))

    answered_by(monkeypatch, projector)
    monkeypatch.setattr("lrs_cli.projector_commands.time.sleep", lambda _: None)


def test_a_failed_rebuilds_line_says_failed_and_why_and_no_eta() -> None:
    line = rebuild_line({**FAILED, "eta_seconds": 18.0})  # an older projector's answer still holds an ETA
    assert line.startswith("rebuild 3 [failed: loading, 2 workers]  76.2% 7,620/10,000 log positions; failed: ")
    assert WHY in line
    assert "ETA" not in line
    assert "/s" not in line


def test_a_running_rebuilds_line_keeps_its_rate_and_eta() -> None:
    assert rebuild_line(LOADING).endswith("at 420/s, ETA 0m18s")


def test_rebuild_status_of_a_failed_rebuild_exits_1_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, iter([FAILED]), [])

    assert main(["projector", "rebuild", "status"]) == ExitCode.FAILED
    said = capsys.readouterr().err
    assert "[failed: loading, 2 workers]" in said
    assert WHY in said
    assert "ETA" not in said


def test_start_follow_ends_when_the_rebuild_fails_and_asks_for_no_worker_count(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    serve(monkeypatch, iter([LOADING, LOADING, FAILED]), asked)

    assert main(["projector", "rebuild", "start", "--follow"]) == ExitCode.FAILED
    assert WHY in capsys.readouterr().err
    assert asked == ["POST /v1/admin/rebuild?", "GET /v1/admin/rebuild?", "GET /v1/admin/rebuild?"]
