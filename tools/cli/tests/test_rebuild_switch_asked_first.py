"""`lrs projector rebuild switch` replaces the live read model: it says whether the rebuild was compared with the
live model and what the comparison found, and asks first on a terminal; a script passes --yes, and without it
nothing is switched when not on a terminal (as `lrs learners erase`). Also the words of `replay --from` and of
`dlq show` for a message validation's decider parked (only a skip applies to it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from lrs_cli.client import Connection, ExitCode
from lrs_cli.dlq_commands import ParkedValue, shown_text
from lrs_cli.main import main

from .answering import answered_by

SWITCHED = {"rebuild_id": 8, "live_schema": "plr", "retired_schema": "plr_retired_1"}
CAUGHT_UP = {
    "state": "caught_up",
    "phase": "following",
    "rebuild_id": 8,
    "progress": 1.0,
    "projected_events": 49_051,
    "target_events": 49_051,
    "events_per_second": 0.0,
    "eta_seconds": 0,
    "events_past_target": 0,
    "workers": [],
    "last_error": None,
    "comparison": None,
}
IDENTICAL = {
    "identical": True,
    "compared_at": "2026-12-06T06:20:00+00:00",
    "counts": {"live": {"achievements": 38_900}, "rebuilt": {"achievements": 38_900}},
    "learners_compared": 10_120,
    "learners_differing": 0,
    "differing_ulns_masked": [],
    "global_checksums_differing": [],
}
DIFFERENT = IDENTICAL | {
    "identical": False,
    "learners_differing": 3,
    "global_checksums_differing": ["achievements"],
}


class _Terminal:
    def isatty(self) -> bool:
        return True


def projector(monkeypatch: pytest.MonkeyPatch, status: dict[str, Any], *, terminal: bool) -> list[str]:
    """The projector answering the rebuild's `status` and its switch; the requests made, as `METHOD path`."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json=status)
        if status["state"] != "caught_up":
            return httpx.Response(409, json={"title": "Rebuild not ready", "detail": "it is still reading the log"})
        return httpx.Response(200, json=SWITCHED)

    answered_by(monkeypatch, answer)
    if terminal:
        monkeypatch.setattr(sys, "stdin", _Terminal())
    return asked


def answered(monkeypatch: pytest.MonkeyPatch, yes: bool) -> list[str]:
    """The questions asked on the terminal, each answered `yes` (else the command is aborted, as typer's)."""
    questions: list[str] = []

    def confirm(text: str, **options: Any) -> bool:
        questions.append(text)
        if not yes and options.get("abort"):
            raise typer.Abort()
        return yes

    monkeypatch.setattr(typer, "confirm", confirm)
    return questions


SWITCH = ["projector", "rebuild", "switch"]


@pytest.mark.parametrize(
    ("comparison", "says"),
    [
        (
            IDENTICAL,
            "The last comparison of rebuild 8 with the live model on 6 Dec 2026, 06:20 (UK time) found them IDENTICAL.",
        ),
        (
            DIFFERENT,
            "The last comparison of rebuild 8 with the live model on 6 Dec 2026, 06:20 (UK time) found them DIFFERENT:"
            " 3 of 10,120 learners differ, and the checksums of achievements (`lrs projector rebuild compare` shows"
            " how).",
        ),
        (
            None,
            "Rebuild 8 has not been compared with the live model (`lrs projector rebuild compare` compares them).",
        ),
    ],
)
def test_on_a_terminal_the_switch_says_what_the_comparison_found_and_asks_first(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    comparison: dict[str, Any] | None,
    says: str,
) -> None:
    asked = projector(monkeypatch, CAUGHT_UP | {"comparison": comparison}, terminal=True)
    questions = answered(monkeypatch, yes=True)

    assert main(SWITCH) == ExitCode.OK

    assert questions == [f"{says} Switch to rebuild 8, making it the live model?"]
    assert asked == ["GET /v1/admin/rebuild", "POST /v1/admin/rebuild/switch"]
    assert "switched: rebuild 8 is now the live schema 'plr'" in capsys.readouterr().out


def test_a_switch_declined_switches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = projector(monkeypatch, CAUGHT_UP, terminal=True)
    answered(monkeypatch, yes=False)

    assert main(SWITCH) == ExitCode.FAILED

    assert asked == ["GET /v1/admin/rebuild"]


def test_without_a_terminal_a_switch_needs_yes_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = projector(monkeypatch, CAUGHT_UP, terminal=False)

    assert main(SWITCH) == ExitCode.USAGE

    assert asked == []
    assert (
        "a switch replaces the live model: pass --yes to confirm it when not on a terminal" in capsys.readouterr().err
    )


def test_with_yes_nothing_is_asked_and_what_the_comparison_found_is_said_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = projector(monkeypatch, CAUGHT_UP | {"comparison": IDENTICAL}, terminal=False)
    questions = answered(monkeypatch, yes=True)

    assert main([*SWITCH, "--yes", "--json"]) == ExitCode.OK

    said = capsys.readouterr()
    assert questions == []
    assert asked == ["GET /v1/admin/rebuild", "POST /v1/admin/rebuild/switch"]
    assert "the last comparison of rebuild 8 with the live model" in said.err and "found them IDENTICAL" in said.err
    assert said.out.strip().startswith("{")  # the projector's answer, as --json prints it


def test_a_rebuild_not_caught_up_is_not_asked_about_and_the_projector_says_why_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = projector(monkeypatch, CAUGHT_UP | {"state": "running"}, terminal=True)
    questions = answered(monkeypatch, yes=True)

    assert main(SWITCH) == ExitCode.FAILED

    assert questions == []
    assert asked == ["GET /v1/admin/rebuild", "POST /v1/admin/rebuild/switch"]
    assert "it is still reading the log" in capsys.readouterr().err


@pytest.mark.parametrize("given", ["-1", "yesterday", "1e3"])
def test_a_replay_from_that_is_neither_an_offset_nor_a_time_says_what_it_takes(
    given: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = projector(monkeypatch, CAUGHT_UP, terminal=False)

    assert main(["projector", "replay", "--from", given]) == ExitCode.USAGE

    assert asked == []
    assert (
        f"--from {given!r} is neither an offset (0 or more) nor an ISO-8601 time with its zone, such as"
        " 2026-06-01T22:00Z" in " ".join(capsys.readouterr().err.split())
    )


def test_a_replay_from_a_time_without_its_zone_still_says_to_add_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector(monkeypatch, CAUGHT_UP, terminal=False)

    assert main(["projector", "replay", "--from", "2026-06-01T22:00"]) == ExitCode.USAGE

    assert "has no time zone: add Z (UTC) or an offset such as +01:00" in capsys.readouterr().err


PARKED_BY_VALIDATION = {
    "id": 1,
    "consumer": "validation.decider",
    "topic": "lrs.batch.submitted.v1",
    "partition": 0,
    "offset": 17,
    "key": "RN9093",
    "reason": "error",
    "error": "IncompleteBatchError: batch 8acad886: chunks [] of 1",
    "attempts": 3,
    "event_id": None,
    "event_type": None,
    "parked_at": "2026-12-06T06:10:00+00:00",
}


@pytest.mark.parametrize("output", [None, "parked.json"])
def test_a_message_validations_decider_parked_is_shown_with_a_skip_not_a_corrected_copy(output: str | None) -> None:
    shown = ParkedValue(
        "validation", "1", None, PARKED_BY_VALIDATION, 0, None, b'{"end": true}', "application/json", None
    )

    text = shown_text(shown, Connection("lrs_k1_secret"), Path(output) if output else None)

    assert "--replacement" not in text and "corrected copy in its place" not in text
    assert (
        "validation.decider cannot apply it again, not even a corrected copy (a retry answers 409): skip it"
        " (`lrs dlq skip 1 --service validation --reason WHY`); the AO resubmits the batch, which is then a new one"
    ) in text
