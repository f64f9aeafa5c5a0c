"""`lrs challenges resolve` of a challenge resolved already exactly as asked (the same resolution, and the same
correcting batch and note where given: a nightly script run again after a partial failure) is done: said with
"already", exit 0, as repeats of `ack` and `withdraw` are. One resolved otherwise stays a refusal (exit 1) that says
how it was resolved: a resolution is final (offline, against a service that answers as the real one does)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import challenge_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

CHALLENGE_ID = "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80"
BATCH_ID = "5a398464-1d2b-4c3e-8f9a-0b1c2d3e4f50"
UPHELD = {
    "challenge_id": CHALLENGE_ID,
    "achievement_id": "66666666-7777-4888-9999-000000000000",
    "ao_id": "RN9093",
    "uln": "1000000043",
    "state": "resolved",
    "raised_at": "2026-12-01T09:00:00Z",
    "resolved_at": "2026-12-07T06:05:00Z",
    "resolved_by": "the awarding organisation",
    "resolution": "upheld",
    "note": "Grade confirmed",
    "personal_data_erased": False,
    "correcting_batch_id": None,
}
CORRECTED = {**UPHELD, "resolution": "corrected", "note": "Grade put right", "correcting_batch_id": BATCH_ID}


def _resolved_already() -> httpx.Response:
    return httpx.Response(
        409,
        json={
            "type": "/problems/CHALLENGE_NOT_IN_THAT_STATE",
            "title": "Conflict",
            "status": 409,
            "detail": "A resolved challenge cannot be resolved. It is resolved already, and a resolution is final:"
            " GET /v1/challenges/{challenge_id} says how it was resolved.",
            "code": "CHALLENGE_NOT_IN_THAT_STATE",
            "state": "resolved",
        },
        headers={"content-type": "application/problem+json"},
    )


class _Challenges:
    """Refuses the resolve as the service does a resolved challenge's, and answers the challenge as it is now."""

    sandpit = False

    def __init__(self, now: dict[str, Any]) -> None:
        self.now = now
        self.asked: list[tuple[str, str]] = []

    def command(self, arguments: str) -> str:
        return f"lrs {arguments}"

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append((request.method, request.url.path))
            return _resolved_already() if request.method == "POST" else httpx.Response(200, json=self.now)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], now: dict[str, Any], *arguments: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(challenge_commands, "connection", lambda ctx: _Challenges(now))
    code = main(["challenges", "resolve", CHALLENGE_ID, *arguments])
    said = capsys.readouterr()
    return code, said.out, " ".join(said.err.split())


@pytest.mark.parametrize(
    ("now", "arguments"),
    [
        pytest.param(UPHELD, ["--resolution", "upheld", "--note", "Grade confirmed"], id="same-note"),
        pytest.param(UPHELD, ["--resolution", "upheld", "--note", "  Grade confirmed\n"], id="note-trimmed-as-kept"),
        pytest.param(UPHELD, ["--resolution", "upheld"], id="no-note-given"),
        pytest.param(
            CORRECTED,
            ["--resolution", "corrected", "--correcting-batch", BATCH_ID.upper(), "--note", "Grade put right"],
            id="corrected-same-batch",
        ),
    ],
)
def test_resolving_again_as_it_was_resolved_is_done_and_says_so(
    now: dict[str, Any], arguments: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(monkeypatch, capsys, now, *arguments)

    label = "Data confirmed correct" if now is UPHELD else "Data corrected"
    assert (code, out, err) == (ExitCode.OK, f"challenge {CHALLENGE_ID}: resolved ({label}) already\n", "")


def test_resolving_again_with_json_prints_the_challenge_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(monkeypatch, capsys, UPHELD, "--resolution", "upheld", "--note", "Grade confirmed", "--json")

    assert code == ExitCode.OK
    assert json.loads(out) == UPHELD


def test_an_erased_learners_challenge_resolved_as_asked_is_done_and_the_note_said_not_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    erased = {**UPHELD, "note": None, "personal_data_erased": True}

    code, out, err = _run(monkeypatch, capsys, erased, "--resolution", "upheld", "--note", "Grade confirmed")

    assert (code, out) == (ExitCode.OK, f"challenge {CHALLENGE_ID}: resolved (Data confirmed correct) already\n")
    assert "the note was not kept" in err


@pytest.mark.parametrize(
    ("now", "arguments", "differs"),
    [
        pytest.param(
            UPHELD,
            ["--resolution", "rejected", "--note", "Not a data error"],
            "It was not resolved again as rejected:",
            id="another-resolution",
        ),
        pytest.param(
            UPHELD,
            ["--resolution", "upheld", "--note", "Grade checked twice"],
            "It was not resolved again as upheld with another note:",
            id="another-note",
        ),
        pytest.param(
            CORRECTED,
            ["--resolution", "corrected", "--correcting-batch", "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"],
            "It was not resolved again as corrected with correcting batch 0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11:",
            id="another-batch",
        ),
        pytest.param(
            {**UPHELD, "resolution": "withdrawn", "note": None, "resolved_by": "the learner"},
            ["--resolution", "upheld", "--note", "Grade confirmed"],
            "It was not resolved again as upheld:",
            id="withdrawn-by-the-learner",
        ),
    ],
)
def test_resolving_one_resolved_otherwise_stays_refused_saying_how_it_was_resolved(
    now: dict[str, Any],
    arguments: list[str],
    differs: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(monkeypatch, capsys, now, *arguments)

    assert (code, out) == (ExitCode.FAILED, "")
    assert err.startswith(f"lrs: challenge {CHALLENGE_ID} is resolved already: {now['resolution']} (")
    assert f"by {now['resolved_by']} on 7 Dec 2026, 06:05 (UK time)" in err
    assert differs in err and err.endswith("a resolution is final, so nothing changed")


def test_the_refusal_quotes_the_note_and_the_batch_it_was_resolved_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, err = _run(monkeypatch, capsys, CORRECTED, "--resolution", "upheld", "--note", "Grade confirmed")

    assert (
        f"is resolved already: corrected (Data corrected) by the awarding organisation on 7 Dec 2026, 06:05 (UK"
        f' time), correcting batch {BATCH_ID}, with the note "Grade put right". It was not resolved again as upheld:'
    ) in err
