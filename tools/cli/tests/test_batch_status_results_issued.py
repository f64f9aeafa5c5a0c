"""`lrs batch status` names the header's ResultsIssuedDate, from which timeliness MI counts the batch's working days:
an AO whose `lrs reports timeliness` says a batch took 580 working days can find which date it counted from."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli.batch_commands import summary
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

BATCH_ID = "6f1c3a52-9b7e-4a0e-8f57-0c3c1b9a2d41"
COMPLETED = {
    "batch_id": BATCH_ID,
    "ao_id": "RN9093",
    "status": "completed",
    "format": "csv",
    "results_issued_date": "2024-08-22",
    "counts": {"total": 4, "accepted": 4, "rejected": 0, "warnings": 0, "no_ops": 0},
    "received_at": "2026-12-07T09:00:00Z",
    "decided_at": "2026-12-07T09:00:02Z",
}


def _ingest(monkeypatch: pytest.MonkeyPatch, batch: dict[str, Any]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/ao/achievements":  # the projector holds none of the batch's records back
            return httpx.Response(200, json={"consistency": {"batch_events_held": 0}})
        assert request.url.path == f"/v1/batches/{BATCH_ID}"
        return httpx.Response(200, json=batch)

    answered_by(monkeypatch, answer)


def test_batch_status_says_when_the_results_were_issued(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest(monkeypatch, COMPLETED)

    assert main(["batch", "status", BATCH_ID]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        f"batch {BATCH_ID}: completed - 4 records, 4 accepted, 0 rejected, 0 unchanged, 0 warnings",
        "  results issued 22 August 2024",
    ]


def test_batch_status_json_keeps_the_date_as_ingest_gives_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest(monkeypatch, COMPLETED)

    assert main(["batch", "status", BATCH_ID, "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out)["results_issued_date"] == "2024-08-22"


def test_a_batch_without_one_says_nothing_of_it() -> None:
    # no ResultsIssuedDate in its header, or a batch received before ingest kept it
    assert "results issued" not in summary({**COMPLETED, "results_issued_date": None}).plain
    assert "results issued" not in summary({k: v for k, v in COMPLETED.items() if k != "results_issued_date"}).plain
