"""`lrs batch list` prints each batch's counts as ingest's batch list gives them, unchanged records too, and when
each was received, in UK time as its header says (as every listing of `lrs` does)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

DECIDED = {
    "batch_id": "0b6c2f3e-decided",
    "received_at": "2026-11-30T09:15:02.123456Z",
    "ao_id": "RN9093",
    "status": "completed",
    "record_count": 100,
    "counts": {"total": 100, "accepted": 60, "rejected": 15, "warnings": 3, "no_ops": 25},
    "batch_reference": "SAMPLE-100",
}
UNDECIDED = {
    "batch_id": "9a1d4e7c-undecided",
    "received_at": "2026-11-30T09:16:40.000000Z",
    "ao_id": "RN9093",
    "status": "validating",
    "record_count": 100,
    "counts": {"total": 100, "accepted": None, "rejected": None, "warnings": None, "no_ops": None},
    "batch_reference": "SAMPLE-101",
}


def test_the_list_shows_how_many_records_changed_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def answered(_client: Any, *_: Any) -> batch_commands.Listed:
        return batch_commands.Listed([UNDECIDED, DECIDED], 2, None)

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "history", answered)

    assert main(["batch", "list"]) == ExitCode.OK

    header, undecided, decided = [cells(line) for line in capsys.readouterr().out.splitlines() if ROW.match(line)]
    assert header[4:] == ["records", "accepted", "rejected", "unchanged", "code", "reference"]
    assert decided[4:] == ["100", "60", "15", "25", "", "SAMPLE-100"]
    assert undecided[4:] == ["100", "", "", "", "", "SAMPLE-101"]  # no counts until it is decided


def test_the_list_says_its_received_times_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def answered(_client: Any, *_: Any) -> batch_commands.Listed:
        return batch_commands.Listed([DECIDED], 1, None)

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "history", answered)

    assert main(["batch", "list"]) == ExitCode.OK

    header, decided = [cells(line) for line in capsys.readouterr().out.splitlines() if ROW.match(line)]
    assert header[:2] == ["batch", "received (UK time)"]
    assert decided[:2] == ["0b6c2f3e-decided", "30 Nov 2026, 09:15"]  # GMT: the UTC instant's own time


ROW = re.compile("^[│┃]")


def cells(line: str) -> list[str]:
    """A table row's cells, without the box drawing around them."""
    return [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
