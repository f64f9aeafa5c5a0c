"""`lrs reports submissions` (results review, finding 4): records 419 were accepted 184 + rejected 28 + unchanged 201,
and nothing said what the other 6 were: the records of a failed batch (RS005) that passed their checks, which a failed
batch does not add. A column says so, so that the row adds up."""

from __future__ import annotations

import sys

import pytest
from rich.console import Console

from lrs_cli import report_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

DECEMBER = {
    "period": "2026-12",
    "items": [
        {
            "ao_id": "RN9093",
            "batches_completed": 16,
            "batches_failed": 3,
            "batches_abandoned": 0,
            "records_total": 419,
            "records_accepted": 184,
            "records_rejected": 28,
            "records_unchanged": 201,
            "rejections_by_code": {"RS005": 3, "RV004": 10},
        },
        {  # no failed batch: nothing left out
            "ao_id": "RN9123",
            "batches_completed": 2,
            "batches_failed": 0,
            "batches_abandoned": 0,
            "records_total": 12,
            "records_accepted": 10,
            "records_rejected": 1,
            "records_unchanged": 1,
            "rejections_by_code": {"RV004": 1},
        },
    ],
}


def _printed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str) -> list[str]:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", columns)  # a terminal's width: printed to a pipe, a table is never cut
    monkeypatch.setattr(report_commands, "report", lambda *_: DECEMBER)
    assert main(["reports", "submissions", "--period", "2026-12"]) == ExitCode.OK
    return capsys.readouterr().out.splitlines()


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│┃ ").replace("┃", "│").split("│")]


def test_the_records_of_failed_batches_that_were_not_added_have_a_column_and_each_row_adds_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _printed(monkeypatch, capsys, "200")
    [header] = [_cells(line) for line in lines if "abandoned" in line]
    assert header[4:9] == ["records", "accepted", "rejected", "unchanged", "not added (failed batches)"]
    rows = {cells[0]: cells for cells in (_cells(line) for line in lines if "RN9" in line)}
    assert rows["RN9093"][4:9] == ["419", "184", "28", "201", "6"]
    assert rows["RN9123"][4:9] == ["12", "10", "1", "1", "0"]
    for cells in rows.values():
        records, *parts = (int(cell) for cell in cells[4:9])
        assert records == sum(parts)


def test_on_a_narrow_terminal_the_ao_is_not_cut_short(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten columns on an 80-column terminal: the others give way, the AO id does not ("RN90…")."""
    monkeypatch.setattr(report_commands, "stdout", lambda: Console(file=sys.stdout, width=80))
    lines = _printed(monkeypatch, capsys, "80")
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("│ RN9093 │") for line in lines), lines
