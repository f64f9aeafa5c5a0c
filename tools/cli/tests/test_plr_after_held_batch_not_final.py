"""`lrs plr show ULN --after-batch B` of a batch a maintenance window holds prints the PLR as it is, without B, and
exits 3 (not final), as a wait that ran out does: it exited 0, and a script publishing the PLR after B published one
lacking it (beyond walk, finding 9). So does a read after a batch while an event of the learner's waits in the
projector's dead letters: it may be the batch's (service desk walk, finding 2). A batch that will never be on the PLR
(failed, nothing accepted) still exits 0: the PLR shown is final for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

ULN = "1000000043"
BATCH_ID = "2d2fbbfa-5a2d-4c8e-9f3a-7d1e2b4c6a80"
PLR: dict[str, Any] = {
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


def serve(monkeypatch: pytest.MonkeyPatch, batch: dict[str, Any], plr: dict[str, Any] = PLR) -> list[httpx.Request]:
    """Ingest answering `batch`, the projector `plr`; the requests made."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == f"/v1/batches/{BATCH_ID}":
            return httpx.Response(200, json=batch)
        assert request.url.path == f"/v1/learners/{ULN}/plr"
        return httpx.Response(200, json=plr)

    answered_by(monkeypatch, answer)
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


COMPLETED = {"batch_id": BATCH_ID, "status": "completed", "counts": {"total": 1, "accepted": 1}}


def test_a_plr_read_after_a_batch_while_the_learners_events_wait_in_dead_letters_is_not_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = serve(monkeypatch, COMPLETED, {**PLR, "events_held_in_dead_letters": 2})

    assert main(["plr", "show", ULN, "--after-batch", BATCH_ID]) == ExitCode.NOT_FINAL

    captured = capsys.readouterr()
    assert "GCSE Mathematics" in captured.out and "2 event(s) held in dead letters" in captured.out
    assert f"the PLR may not show all of batch {BATCH_ID} yet (not final: exit status 3" in captured.err
    assert sent[-1].url.params["after_batch"] == BATCH_ID  # waited for as any batch on its way


def test_a_plr_read_after_a_completed_batch_with_nothing_parked_is_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, COMPLETED, {**PLR, "events_held_in_dead_letters": 0})

    assert main(["plr", "show", ULN, "--after-batch", BATCH_ID]) == ExitCode.OK
    assert "dead letters" not in capsys.readouterr().err


def test_each_version_in_the_history_names_the_batch_that_made_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    version = {"version": 1, "change": "recorded", "occurred_at": "2026-12-07T02:42:00Z", "grade": "5", "status": "F"}
    achievement = {**PLR["learning_events"][0], "history": [{**version, "batch_id": BATCH_ID}]}
    serve(monkeypatch, COMPLETED, {**PLR, "learning_events": [achievement]})

    assert main(["plr", "show", ULN, "--history"]) == ExitCode.OK
    assert "v1 recorded 7 Dec 2026, 02:42 (UK time) by batch 2d2fbbfa" in capsys.readouterr().out


def test_each_version_in_the_history_names_its_line_in_the_batch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    version = {"version": 1, "change": "recorded", "occurred_at": "2026-12-07T02:42:00Z", "grade": "5", "status": "F"}
    achievement = {**PLR["learning_events"][0], "history": [{**version, "batch_id": BATCH_ID, "line": 17}]}
    serve(monkeypatch, COMPLETED, {**PLR, "learning_events": [achievement]})

    assert main(["plr", "show", ULN, "--history"]) == ExitCode.OK
    assert "by batch 2d2fbbfa, line 17" in capsys.readouterr().out


def test_an_aos_read_after_its_batch_whose_events_wait_in_dead_letters_is_not_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An AO's read carries no count of the learner's parked events, but the batch's own (its whole batch's)."""
    consistency = {"after_batch": BATCH_ID, "batch_events_applied": 0, "batch_events_held": 1}
    serve(monkeypatch, COMPLETED, {**PLR, "events_held_in_dead_letters": None, "consistency": consistency})

    assert main(["plr", "show", ULN, "--after-batch", BATCH_ID]) == ExitCode.NOT_FINAL
    assert f"1 of batch {BATCH_ID}'s event(s) wait in dead letters" in capsys.readouterr().err
