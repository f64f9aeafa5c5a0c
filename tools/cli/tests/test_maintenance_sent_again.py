"""`lrs maintenance pause|resume|cancel` run again (a script run again after a timeout, a second operator; report
idempotency, finding 2): ingest answers 409 with the pause or window as it is, and the CLI says what is so, by whom
and when, and exits 0 when it is what was asked; a pause on with another reason is still a conflict (exit 1): AOs
read its reason, not the one sent. Before, each was `lrs: HTTP 409: …` and exit 1, "resume it first" for a pause
that was already there."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import maintenance_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main
from lrs_cli.maintenance_commands import uk_and_utc

WINDOW_ID = "5b0f6a43-51f6-4a34-a9d5-3f4f0b1f2e11"
PAUSE_ON = {
    "pause_id": 7,
    "reason": "broker incident",
    "paused_by": "operator:ann",
    "paused_at": "2026-12-07T09:01:34Z",
    "resumed_by": None,
    "resumed_at": None,
}
PAUSE_ENDED = PAUSE_ON | {"resumed_by": "operator:bob", "resumed_at": "2026-12-07T10:15:00Z"}
WINDOW = {"window_id": WINDOW_ID, "starts_at": "2027-02-10T22:00:00Z", "ends_at": "2027-02-11T01:00:00Z"}
CANCELLED = {
    "window": WINDOW | {"reason": "database upgrade"},
    "scheduled_by": "operator:ann",
    "scheduled_at": "2026-12-01T10:00:00Z",
    "cancelled_by": "operator:bob",
    "cancelled_at": "2026-12-07T09:30:00Z",
}
NOTHING_HOLDS: dict[str, Any] = {"active": None, "windows": [], "pause": None}


def conflict(detail: str, **member: Any) -> httpx.Response:
    problem = {"type": "/problems/CONFLICT", "title": "t", "status": 409, "detail": detail, "code": "CONFLICT"}
    return httpx.Response(409, json=problem | member, headers={"content-type": "application/problem+json"})


class Ingest:
    """Ingest answering each change with `answer` (a 409 of a change made already), and `GET /v1/maintenance`."""

    sandpit = False

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.sent: list[httpx.Request] = []

    def command(self, arguments: str) -> str:
        return Connection(None).command(arguments)

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "ingest"
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.method == "GET" and request.url.path == "/v1/maintenance":
            return httpx.Response(200, json=NOTHING_HOLDS)
        return self.answer


def run(monkeypatch: pytest.MonkeyPatch, ingest: Ingest, *argv: str) -> int:
    monkeypatch.setattr(maintenance_commands, "connection", lambda ctx: ingest)
    return main(["maintenance", *argv])


def test_a_pause_sent_again_with_its_reason_says_who_paused_and_when_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = Ingest(conflict("the LRS is paused already, by operator:ann at …", pause=PAUSE_ON))
    assert run(monkeypatch, ingest, "pause", "--reason", "broker incident") == ExitCode.OK
    said = capsys.readouterr()
    assert said.out.strip() == (
        f"already paused (by operator:ann at {uk_and_utc(str(PAUSE_ON['paused_at']))}): batches are accepted and queued"
        " until `lrs maintenance resume`"
    )
    assert "HTTP 409" not in said.err
    assert json.loads(ingest.sent[0].content) == {"reason": "broker incident"}


def test_a_pause_sent_while_another_reason_holds_says_so_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = Ingest(conflict("the LRS is paused already, by operator:ann at …", pause=PAUSE_ON))
    assert run(monkeypatch, ingest, "pause", "--reason", "disk full") == ExitCode.FAILED
    err = " ".join(capsys.readouterr().err.split())
    assert f"already paused (by operator:ann at {uk_and_utc(str(PAUSE_ON['paused_at']))}) with another reason:" in err
    assert "broker incident. Nothing was changed" in err
    assert "resume it first" not in err


def test_a_resume_sent_again_says_not_paused_by_whom_resumed_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = Ingest(conflict("the LRS is not paused: …", pause=PAUSE_ENDED))
    assert run(monkeypatch, ingest, "resume") == ExitCode.OK
    assert capsys.readouterr().out.strip() == (
        f"not paused (the last pause was resumed by operator:bob at {uk_and_utc(str(PAUSE_ENDED['resumed_at']))}):"
        " nothing to resume"
    )


def test_a_resume_with_no_pause_ever_says_not_paused_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, Ingest(conflict("the LRS is not paused")), "resume") == ExitCode.OK
    assert capsys.readouterr().out.strip() == "not paused: nothing to resume"


def test_a_cancel_sent_again_says_who_cancelled_it_and_when_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = Ingest(conflict(f"maintenance window {WINDOW_ID} was cancelled already, by …", window=CANCELLED))
    assert run(monkeypatch, ingest, "cancel", WINDOW_ID) == ExitCode.OK
    assert capsys.readouterr().out.strip() == (
        f"already cancelled (by operator:bob at {uk_and_utc(str(CANCELLED['cancelled_at']))}): {WINDOW_ID}  database upgrade"
    )


def test_a_cancel_of_a_window_over_says_when_it_ended_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    over = CANCELLED | {"cancelled_by": None, "cancelled_at": None}
    ingest = Ingest(conflict(f"maintenance window {WINDOW_ID} is over: …", window=over))
    assert run(monkeypatch, ingest, "cancel", WINDOW_ID) == ExitCode.OK
    assert capsys.readouterr().out.strip() == (
        f"already over (it ended at {uk_and_utc(str(WINDOW['ends_at']))}): {WINDOW_ID}  database upgrade; nothing to cancel"
    )


def test_a_409_of_an_earlier_ingest_naming_no_state_is_still_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = Ingest(conflict("the LRS is already paused: resume it first"))
    assert run(monkeypatch, old, "pause", "--reason", "x") == ExitCode.FAILED
    assert "HTTP 409" in capsys.readouterr().err
    old = Ingest(conflict(f"maintenance window {WINDOW_ID} was cancelled or is over"))
    assert run(monkeypatch, old, "cancel", WINDOW_ID) == ExitCode.FAILED
    assert "HTTP 409" in capsys.readouterr().err
