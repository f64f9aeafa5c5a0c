"""`lrs challenges ack` of a challenge acknowledged already is done, as the portal says it (the service's 409 says so
by its code and its `state`): it says so and what comes next, exit 0; a resolved one is still refused.
`lrs challenges batches` shows when each batch was decided in UK time, as `lrs challenges list` shows its times
(offline, against a service that answers as the real one does)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import challenge_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

CHALLENGE_ID = "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80"
BATCH_ID = "3948425a-6d0e-4c8b-9f2a-1e2d3c4b5a69"
ACKNOWLEDGED = {
    "challenge_id": CHALLENGE_ID,
    "achievement_id": "66666666-7777-4888-9999-000000000000",
    "ao_id": "RN9093",
    "uln": "1000000043",
    "state": "acknowledged",
    "acknowledged_by": "the awarding organisation",
}


def _refused(state: str) -> httpx.Response:
    return httpx.Response(
        409,
        json={
            "type": "/problems/CHALLENGE_NOT_IN_THAT_STATE",
            "title": "Conflict",
            "status": 409,
            "detail": f"A{'n' if state == 'acknowledged' else ''} {state} challenge cannot be acknowledged.",
            "code": "CHALLENGE_NOT_IN_THAT_STATE",
            "state": state,
        },
        headers={"content-type": "application/problem+json"},
    )


class _Challenges:
    sandpit = False

    def __init__(self, acknowledge: httpx.Response, read: dict[str, Any] | None = None, **gets: Any) -> None:
        self.acknowledge = acknowledge
        self.read = read
        self.gets = gets
        self.asked: list[tuple[str, str]] = []

    def command(self, arguments: str) -> str:
        return f"lrs {arguments}"

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append((request.method, request.url.path))
            if request.method == "POST":
                return self.acknowledge
            if request.url.path.endswith("/correcting-batches"):
                return httpx.Response(200, json=self.gets["batches"])
            return httpx.Response(200, json=self.read)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], services: _Challenges, *arguments: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(challenge_commands, "connection", lambda ctx: services)
    code = main(["challenges", *arguments])
    said = capsys.readouterr()
    return code, " ".join(said.out.replace("│", " ").split()), " ".join(said.err.split())


def test_acknowledging_an_acknowledged_challenge_is_done_and_says_to_resolve_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Challenges(_refused("acknowledged"), ACKNOWLEDGED)

    code, out, _ = _run(monkeypatch, capsys, services, "ack", CHALLENGE_ID)

    assert code == ExitCode.OK
    assert out == (
        f"challenge {CHALLENGE_ID}: acknowledged already, by the awarding organisation: resolve it once you have an"
        f" answer for the learner (`lrs challenges resolve {CHALLENGE_ID} --resolution …`)"
    )
    assert services.asked == [
        ("POST", f"/v1/challenges/{CHALLENGE_ID}/acknowledge"),
        ("GET", f"/v1/challenges/{CHALLENGE_ID}"),
    ]


def test_a_repeated_acknowledgement_with_json_prints_the_challenge_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(
        challenge_commands, "connection", lambda ctx: _Challenges(_refused("acknowledged"), ACKNOWLEDGED)
    )

    assert main(["challenges", "ack", CHALLENGE_ID, "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == ACKNOWLEDGED


def test_acknowledging_a_resolved_challenge_is_still_refused_and_says_how_it_was_resolved(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    resolved = {**ACKNOWLEDGED, "state": "resolved", "resolution": "upheld", "resolved_at": "2026-12-07T16:08:00Z"}
    services = _Challenges(_refused("resolved"), resolved)

    code, _, err = _run(monkeypatch, capsys, services, "ack", CHALLENGE_ID)

    assert code == ExitCode.FAILED
    assert err == (
        f'lrs: challenge {CHALLENGE_ID} is closed: the awarding organisation resolved it as "Data confirmed correct" on'
        " 7 Dec 2026, 16:08 (UK time), so it cannot be acknowledged. Nothing more is needed (`lrs challenges list"
        " --state resolved` shows it)"
    )
    assert services.asked == [
        ("POST", f"/v1/challenges/{CHALLENGE_ID}/acknowledge"),
        ("GET", f"/v1/challenges/{CHALLENGE_ID}"),
    ]


def test_a_first_acknowledgement_says_the_challenge_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Challenges(httpx.Response(200, json=ACKNOWLEDGED))

    code, out, _ = _run(monkeypatch, capsys, services, "ack", CHALLENGE_ID)

    assert (code, out) == (ExitCode.OK, f"challenge {CHALLENGE_ID}: acknowledged")


def test_the_correcting_batches_say_when_each_was_decided_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = {"items": [{"batch_id": BATCH_ID, "decided_at": "2026-07-06T22:42:45.354532Z"}]}
    services = _Challenges(httpx.Response(500), batches=found)

    code, out, _ = _run(monkeypatch, capsys, services, "batches", CHALLENGE_ID)

    assert code == ExitCode.OK
    assert "decided at (UK time)" in out
    assert f"{BATCH_ID} 6 Jul 2026, 23:42" in out  # British Summer Time: an hour on from UTC
    assert "2026-07-06T22:42" not in out
