"""`lrs plr show ULN --after-batch B` of a batch a maintenance window holds prints the PLR as it is, without B, and
exits 3 (not final), as a wait that ran out does: it exited 0, and a script publishing the PLR after B published one
lacking it (beyond walk, finding 9). A batch that will never be on the PLR (failed, nothing accepted) still exits 0:
the PLR shown is final for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN = "1000000043"
BATCH_ID = "2d2fbbfa-5a2d-4c8e-9f3a-7d1e2b4c6a80"
PLR = {
    "uln": ULN,
    "ulns": [ULN],
    "learning_events": [
        {
            "id": "0f0e0d0c-0b0a-4909-8807-060504030201",
            "source": "AO",
            "subject_code": "600/1166/X",
            "subject": "GCSE Mathematics",
            "grade": "5",
            "status": "F",
            "achievement_award_date": "2024-08-22",
            "awarding_organisation_name": "AQA",
        }
    ],
}


def _held() -> dict[str, Any]:
    until = datetime.now(UTC) + timedelta(minutes=20)
    return {
        "batch_id": BATCH_ID,
        "status": "queued",
        "maintenance": {
            "reason": "walk cancel test",
            "until": until.isoformat().replace("+00:00", "Z"),
            "paused": False,
            "message": "will be processed after " + until.isoformat().replace("+00:00", "Z"),
        },
    }


FAILED = {"batch_id": BATCH_ID, "status": "failed", "failure_code": "RS005", "counts": {"total": 3}}


def serve(monkeypatch: pytest.MonkeyPatch, batch: dict[str, Any]) -> list[httpx.Request]:
    """Ingest answering `batch`, the projector the PLR; the requests made."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == f"/v1/batches/{BATCH_ID}":
            return httpx.Response(200, json=batch)
        assert request.url.path == f"/v1/learners/{ULN}/plr"
        return httpx.Response(200, json=PLR)

    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        return real_client(*args, **{**kwargs, "transport": httpx.MockTransport(answer)})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    return sent


def test_a_plr_read_after_a_held_batch_is_printed_and_not_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = serve(monkeypatch, _held())

    assert main(["plr", "show", ULN, "--after-batch", BATCH_ID]) == ExitCode.NOT_FINAL

    captured = capsys.readouterr()
    assert "GCSE Mathematics" in captured.out  # the PLR as it is
    assert f"batch {BATCH_ID} is held by maintenance (walk cancel test)" in captured.err
    assert "(UK time;" in captured.err and "without it (not final: exit status 3)" in captured.err
    plr_read = sent[-1]
    assert "after_batch" not in plr_read.url.params  # not waited for: no wait that short sees it


def test_in_json_too_the_plr_is_printed_and_the_read_is_not_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, _held())

    assert main(["plr", "show", ULN, "--after-batch", BATCH_ID, "--json"]) == ExitCode.NOT_FINAL

    assert json.loads(capsys.readouterr().out) == PLR


def test_a_plr_read_after_a_batch_that_never_reaches_it_is_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, FAILED)

    assert main(["plr", "show", ULN, "--after-batch", BATCH_ID]) == ExitCode.OK

    captured = capsys.readouterr()
    assert "GCSE Mathematics" in captured.out
    assert "failed (RS005): none of its records reached the PLR: showing the PLR as it is" in captured.err
    assert "not final" not in captured.err


def test_a_mistyped_uln_is_said_before_ingest_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = serve(monkeypatch, _held())

    assert main(["plr", "show", "1000000044", "--after-batch", BATCH_ID]) == ExitCode.USAGE

    assert sent == []
