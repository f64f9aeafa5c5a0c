"""`lrs projector replay-status`: how an operator follows a replay started with `--no-wait`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

RUNNING = {"replay_id": 3, "from": "120000", "state": "running", "result": None}
FINISHED = {**RUNNING, "state": "finished", "result": {"learners": 1204, "events": 5310, "seconds": 2.4}}
FAILED = {**RUNNING, "state": "failed", "result": {"error": "OperationalError: the database went away"}}


def serve(monkeypatch: pytest.MonkeyPatch, answers: Iterator[dict[str, Any]], asked: list[str]) -> None:
    def projector(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        return httpx.Response(200 if request.method == "GET" else 202, json=next(answers))

    answered_by(monkeypatch, projector)
    monkeypatch.setattr("lrs_cli.projector_commands.time.sleep", lambda _: None)


def test_a_replay_started_without_waiting_names_the_command_that_follows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, iter([RUNNING]), [])

    assert main(["projector", "replay", "--from", "120000", "--no-wait"]) == ExitCode.OK
    assert "follow it with `lrs projector replay-status 3 --wait`" in capsys.readouterr().out


def test_replay_status_of_a_running_replay_exits_3_and_with_wait_follows_it_to_the_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    serve(monkeypatch, iter([RUNNING, RUNNING, RUNNING, FINISHED]), asked)

    assert main(["projector", "replay-status", "3"]) == ExitCode.NOT_FINAL
    assert "replay 3 from 120000 running" in capsys.readouterr().out

    assert main(["projector", "replay-status", "3", "--wait"]) == ExitCode.OK
    assert "replay 3 re-projected 1,204 learners (5,310 events) in 2.4s" in capsys.readouterr().out
    assert asked == ["GET /v1/admin/replay?replay_id=3"] * 4


def test_replay_status_without_an_id_asks_for_the_latest_and_a_failed_one_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    serve(monkeypatch, iter([FAILED, {"state": "idle"}]), asked)

    assert main(["projector", "replay-status"]) == ExitCode.FAILED
    assert "replay 3 failed: OperationalError: the database went away" in capsys.readouterr().err
    assert main(["projector", "replay-status"]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == "no replay has run"
    assert asked == ["GET /v1/admin/replay?"] * 2


def test_replay_status_refuses_an_id_that_is_not_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["projector", "replay-status", "0"]) == ExitCode.USAGE
