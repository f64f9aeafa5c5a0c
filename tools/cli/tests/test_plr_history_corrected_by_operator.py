"""`lrs plr show ULN --history` says which versions an operator's corrected copy of a parked event made
(`corrected_by_operator`, `lrs dlq retry --replacement`): an auditor following "by batch X" would otherwise take what
the copy says for what the AO's batch sent (regulator walk, finding 1)."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .test_plr_after_held_batch_not_final import BATCH_ID, COMPLETED, PLR, ULN, serve

VERSION = {"change": "updated", "occurred_at": "2026-12-07T02:42:00Z", "grade": "5", "status": "F"}


def test_a_version_made_from_an_operators_corrected_copy_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    history = [
        {
            **VERSION,
            "version": 1,
            "change": "recorded",
            "batch_id": BATCH_ID,
            "line": 4,
            "corrected_by_operator": False,
        },
        {**VERSION, "version": 2, "batch_id": BATCH_ID, "line": 17, "corrected_by_operator": True},
    ]
    serve(monkeypatch, COMPLETED, {**PLR, "learning_events": [{**PLR["learning_events"][0], "history": history}]})

    assert main(["plr", "show", ULN, "--history"]) == ExitCode.OK

    lines = capsys.readouterr().out.splitlines()
    (first,) = (line for line in lines if "v1 recorded" in line)
    (second,) = (line for line in lines if "v2 updated" in line)
    assert "by batch 2d2fbbfa, line 4" in first and "corrected" not in first
    assert "by batch 2d2fbbfa, line 17, corrected by an operator" in second


def test_a_version_without_the_mark_is_the_batchs_own(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    history = [{**VERSION, "version": 1, "batch_id": BATCH_ID, "line": 17}]  # a projector from before the mark
    serve(monkeypatch, COMPLETED, {**PLR, "learning_events": [{**PLR["learning_events"][0], "history": history}]})

    assert main(["plr", "show", ULN, "--history"]) == ExitCode.OK

    assert "corrected" not in capsys.readouterr().out
