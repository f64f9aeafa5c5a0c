"""`lrs maintenance resume` and `cancel` of a window under way say what still holds the batches, read from the
schedule after the change, rather than that they are being decided (windows report, finding 1): a pause during a
window, or a window under way while paused, held them on while `resume` printed "queued batches are being decided".
`lrs maintenance extend` lengthens a window by scheduling a touching one, which holds as one with it (finding 6):
cancelling and scheduling again let held batches through in between."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lrs_cli import maintenance_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main
from lrs_cli.maintenance_commands import uk_and_utc

NOW = datetime.now(UTC).replace(microsecond=0)
ENDED = "5b0f6a43-51f6-4a34-a9d5-3f4f0b1f2e11"
OTHER = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
TOUCHING = "7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928"


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def window(window_id: str, starts_at: datetime, ends_at: datetime, reason: str) -> dict[str, str]:
    return {"window_id": window_id, "starts_at": _at(starts_at), "ends_at": _at(ends_at), "reason": reason}


UPGRADE = window(ENDED, NOW - timedelta(hours=1), NOW + timedelta(hours=1), "database upgrade")
KAFKA = window(OTHER, NOW - timedelta(minutes=30), NOW + timedelta(hours=2), "kafka upgrade")
KAFKA_2 = window(TOUCHING, NOW + timedelta(hours=2), NOW + timedelta(hours=3), "kafka upgrade 2")  # holds as one
PAUSED_AT = "2026-12-06T23:30:00Z"
PAUSE = {"since": PAUSED_AT, "reason": "second incident"}
PAUSE_RECORD = {
    "pause_id": 3,
    "reason": "broker incident",
    "paused_by": "operator:ann",
    "paused_at": "2026-12-06T22:00:00Z",
    "resumed_by": "operator:ann",
    "resumed_at": _at(NOW),
}


class Ingest:
    """Ingest's maintenance routes: `schedule` is what `GET /v1/maintenance` answers after the change (a status to
    answer it with an error instead)."""

    sandpit = False

    def __init__(self, schedule: dict[str, Any] | int) -> None:
        self.schedule = schedule
        self.sent: list[httpx.Request] = []

    def command(self, arguments: str) -> str:
        return Connection(None).command(arguments)

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "ingest"
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/v1/maintenance":
            if isinstance(self.schedule, int):
                return httpx.Response(self.schedule, json={"title": "Service unavailable", "status": self.schedule})
            return httpx.Response(200, json=self.schedule)
        if request.method == "POST" and path == "/v1/admin/maintenance/resume":
            return httpx.Response(200, json={"pause": PAUSE_RECORD, "published": True})
        if request.method == "DELETE" and path.startswith("/v1/admin/maintenance/windows/"):
            record = {
                "window": UPGRADE,
                "scheduled_by": "operator:ann",
                "scheduled_at": _at(NOW - timedelta(days=1)),
                "cancelled_by": "operator:ann",
                "cancelled_at": _at(NOW),
            }
            return httpx.Response(200, json={"window": record, "published": True})
        if request.method == "POST" and path == "/v1/admin/maintenance/windows":
            body = json.loads(request.content)
            made: dict[str, Any] = {"window_id": TOUCHING, **body}
            scheduled: dict[str, Any] = {"window": made, "scheduled_by": "operator:ann", "scheduled_at": _at(NOW)}
            scheduled |= {"cancelled_by": None, "cancelled_at": None}
            return httpx.Response(201, json={"window": scheduled, "published": True})
        return httpx.Response(404, json={"title": "Not Found", "status": 404})


def schedule(*windows: dict[str, str], pause: dict[str, str] | None = None) -> dict[str, Any]:
    """`GET /v1/maintenance` as ingest answers it (`active` left to what the CLI reads of it: nothing)."""
    return {"active": None, "windows": list(windows), "pause": pause}


def run(monkeypatch: pytest.MonkeyPatch, ingest: Ingest, *argv: str) -> int:
    monkeypatch.setattr(maintenance_commands, "connection", lambda ctx: ingest)
    return main(["maintenance", *argv])


def test_a_resume_while_a_window_is_under_way_says_the_window_holds_the_batches_until_it_ends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, Ingest(schedule(KAFKA, KAFKA_2)), "resume") == ExitCode.OK
    assert capsys.readouterr().out.strip() == (
        f"resumed; batches are still held by the window under way (kafka upgrade) until {uk_and_utc(KAFKA_2['ends_at'])}"
    )


def test_a_resume_with_nothing_else_holding_says_the_batches_are_decided(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    later = window(OTHER, NOW + timedelta(hours=5), NOW + timedelta(hours=6), "later")  # not under way
    assert run(monkeypatch, Ingest(schedule(later)), "resume") == ExitCode.OK
    assert capsys.readouterr().out.strip() == "resumed: queued batches are being decided"


def test_the_pause_just_resumed_is_not_taken_for_what_still_holds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another ingest instance may answer from the schedule it read a moment before the resume."""
    stale = schedule(pause={"since": "2026-12-06T22:00:00+00:00", "reason": "broker incident"})
    assert run(monkeypatch, Ingest(stale), "resume") == ExitCode.OK
    assert capsys.readouterr().out.strip() == "resumed: queued batches are being decided"


def test_a_resume_whose_schedule_cannot_be_read_says_so_and_still_succeeds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, Ingest(503), "resume") == ExitCode.OK
    assert capsys.readouterr().out.strip() == (
        "resumed; whether anything else still holds the batches could not be read (`lrs maintenance show` says)"
    )


def test_ending_a_window_while_paused_says_the_pause_holds_the_batches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, Ingest(schedule(pause=PAUSE)), "cancel", ENDED) == ExitCode.OK
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"cancelled {ENDED}  database upgrade: it was under way and ended at")
    assert out.endswith("; the pause (second incident) still holds the batches, until `lrs maintenance resume`")


def test_ending_one_window_while_another_is_under_way_says_the_other_holds_the_batches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, Ingest(schedule(KAFKA)), "cancel", ENDED) == ExitCode.OK
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith(
            f"; batches are still held by the window under way (kafka upgrade) until {uk_and_utc(KAFKA['ends_at'])}"
        )
    )


def test_ending_the_only_window_says_the_held_batches_go_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The window just ended, still in a schedule read a moment before, is not taken for what holds."""
    assert run(monkeypatch, Ingest(schedule(UPGRADE)), "cancel", ENDED) == ExitCode.OK
    assert capsys.readouterr().out.strip().endswith("; held batches go on")


def test_extend_schedules_a_window_from_the_end_of_the_one_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = Ingest(schedule(UPGRADE))
    to = _at(NOW + timedelta(hours=3))

    assert run(monkeypatch, ingest, "extend", ENDED, "--to", to) == ExitCode.OK

    (sent,) = [request for request in ingest.sent if request.method == "POST"]
    body = json.loads(sent.content)
    assert datetime.fromisoformat(body["starts_at"]) == datetime.fromisoformat(UPGRADE["ends_at"])  # touching
    assert datetime.fromisoformat(body["ends_at"]) == NOW + timedelta(hours=3)
    assert body["reason"] == "database upgrade"
    captured = capsys.readouterr()
    assert captured.out.strip() == TOUCHING
    err = " ".join(captured.err.split())
    assert "extended: database upgrade runs on" in err and f"held as one with {ENDED}" in err
    assert not [request for request in ingest.sent if request.method == "DELETE"]  # nothing let through between


def test_extend_takes_a_reason_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = Ingest(schedule(UPGRADE))
    to = _at(NOW + timedelta(hours=3))

    assert run(monkeypatch, ingest, "extend", ENDED, "--to", to, "--reason", "database upgrade (overrun)") == 0

    (sent,) = [request for request in ingest.sent if request.method == "POST"]
    assert json.loads(sent.content)["reason"] == "database upgrade (overrun)"


@pytest.mark.parametrize(
    ("windows", "to", "code", "says"),
    [
        ([UPGRADE], _at(NOW + timedelta(minutes=30)), ExitCode.USAGE, "is not after the window's end"),
        ([KAFKA], _at(NOW + timedelta(hours=3)), ExitCode.FAILED, f"no window {ENDED} is under way or to come"),
    ],
)
def test_extend_refuses_an_end_not_after_the_windows_and_a_window_not_scheduled(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    windows: list[dict[str, str]],
    to: str,
    code: ExitCode,
    says: str,
) -> None:
    ingest = Ingest(schedule(*windows))

    assert run(monkeypatch, ingest, "extend", ENDED, "--to", to) == code

    assert says in " ".join(capsys.readouterr().err.split())
    assert not [request for request in ingest.sent if request.method == "POST"]
