"""`lrs reports submissions` prints each AO's month as the reporting service reports it."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_cli import report_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

NOVEMBER = {
    "period": "2026-11",
    "items": [
        {
            "ao_id": "RN9093",
            "batches_completed": 4,
            "batches_failed": 1,
            "batches_abandoned": 2,
            "records_total": 50,
            "records_accepted": 40,
            "records_rejected": 5,
            "records_unchanged": 5,
            "rejections_by_code": {"RV004": 3, "RV009": 2},
        }
    ],
}


def test_the_submissions_table_shows_completed_failed_and_abandoned_batches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[tuple[str, str | None]] = []

    def answered(_connection: Any, name: str, period: str | None, _ao: str | None) -> dict[str, Any]:
        asked.append((name, period))
        return NOVEMBER

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(report_commands, "report", answered)

    assert main(["reports", "submissions", "--period", "2026-11"]) == ExitCode.OK

    lines = capsys.readouterr().out.splitlines()
    header, row = [_cells(line) for line in lines if "abandoned" in line or "RN9093" in line]
    assert header[:4] == ["AO", "completed", "failed", "abandoned"]
    assert header[4:8] == ["records", "accepted", "rejected", "unchanged"]
    assert row[:8] == ["RN9093", "4", "1", "2", "50", "40", "5", "5"]
    assert asked == [("submissions", "2026-11")]


def _cells(line: str) -> list[str]:
    """A table line's cells, without the box drawing between them."""
    return [word for word in line.split() if word.isalnum()]
