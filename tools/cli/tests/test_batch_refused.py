"""`lrs batch submit` of a file ingest refuses whole: the refused batch is kept, so its id is printed as an accepted
batch's is (on stdout, or in --json with the refusal), the reason on stderr, and the exit status is 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.batch_commands import summary
from lrs_cli.client import ExitCode, problem_text
from lrs_cli.main import main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
RS003 = {
    "type": "/problems/RS003",
    "title": "The file has more than 10,000 records",
    "status": 422,
    "detail": "the file has more than 10,000 records",
    "code": "RS003",
    "instance": f"/v1/batches/{BATCH_ID}",
    "line": 10_003,
}


class _Ingest:
    sandpit = False

    def __init__(self, status: int, answer: dict[str, Any]) -> None:
        self.status, self.answer = status, answer

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(self.status, json=self.answer)


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.csv"
    path.write_bytes(b"ULN,GivenName\r\n1000000043,Lily\r\n")
    return path


def _submit(ingest: _Ingest, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    return main(["batch", "submit", *args])


def test_a_refused_file_prints_its_batch_id_and_says_why_once(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(422, RS003), str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == ExitCode.FAILED
    assert out.strip() == BATCH_ID
    assert "HTTP 422: RS003 - The file has more than 10,000 records (line 10003)." in err


def test_a_refused_file_in_json_names_the_batch_and_its_refusal(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(422, RS003), str(batch_file), "--json", monkeypatch=monkeypatch)

    printed = json.loads(capsys.readouterr().out)
    assert code == ExitCode.FAILED
    assert printed == {"batch_id": BATCH_ID, "status": "refused", "refusal": RS003}


def test_a_refusal_that_keeps_no_batch_prints_no_id(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unkept = {"title": "Forbidden", "status": 403, "detail": "This key may not submit batches.", "code": "FORBIDDEN"}
    code = _submit(_Ingest(403, unkept), str(batch_file), "--json", monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == ExitCode.KEY_REFUSED
    assert out == ""
    assert "HTTP 403: Forbidden: this key may not submit batches." in err


def test_a_batch_kafka_never_took_says_to_send_the_file_again_not_to_wait() -> None:
    batch = {
        "batch_id": "b1",
        "status": "received",
        "counts": {},
        "not_published": "Kafka did not take this batch when it was sent. Send the same file again.",
    }
    assert summary(batch).plain.splitlines() == [
        "batch b1: received",
        "  Kafka did not take this batch when it was sent. Send the same file again.",
    ]


TOO_MANY_WAITING = {
    "title": "Too many records waiting",
    "status": 429,
    "detail": "100,000 records of your batches are waiting for their decision.",
    "code": "TOO_MANY_RECORDS_WAITING",
}
KAFKA_AWAY = {
    "title": "Service unavailable",
    "status": 503,
    "detail": "Kafka did not take the batch in time: nothing was accepted. Send it again later.",
}


class _BusyIngest(_Ingest):
    """Answers `problem` (429: too many of the AO's records waiting; 503: Kafka away) `busy` times, then accepts."""

    def __init__(self, busy: int | float, problem: dict[str, Any] = TOO_MANY_WAITING) -> None:
        super().__init__(202, {"batch_id": BATCH_ID, "status": "accepted", "status_url": f"/v1/batches/{BATCH_ID}"})
        self.busy, self.sent, self.problem = busy, 0, problem

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent += 1
        if self.sent <= self.busy:
            return httpx.Response(self.problem["status"], json=self.problem, headers={"Retry-After": "7"})
        return httpx.Response(202, json=self.answer)


def test_a_file_answered_429_is_sent_again_after_retry_after(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", slept.append)
    ingest = _BusyIngest(busy=2)

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, out.strip(), ingest.sent, slept) == (0, BATCH_ID, 3, [7, 7])
    assert "TOO_MANY_RECORDS_WAITING" in err and "lrs sends results.csv again in 7 s" in err


def test_a_file_answered_503_is_sent_again_after_retry_after(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broker or database away a moment answered 503 and exit status 1, as a refused file: a script could not tell
    the two apart, though the answer said to send it again (a fault walk-through)."""
    slept: list[float] = []
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", slept.append)
    ingest = _BusyIngest(busy=2, problem=KAFKA_AWAY)

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, out.strip(), ingest.sent, slept) == (0, BATCH_ID, 3, [7, 7])
    assert "did not take the batch in time" in err and "lrs sends results.csv again in 7 s" in err


def test_a_file_answered_503_all_along_exits_4_saying_nothing_was_kept(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = iter(range(0, 100_000, 60))
    monkeypatch.setattr("lrs_cli.batch_commands.time.monotonic", lambda: float(next(clock)))
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", lambda seconds: None)

    code = _submit(_BusyIngest(busy=float("inf"), problem=KAFKA_AWAY), str(batch_file), monkeypatch=monkeypatch)

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert "still so after 15 minutes: nothing of results.csv was kept; send it again later" in err


def test_a_failure_on_the_lrss_side_names_the_request_to_quote() -> None:
    request = httpx.Request("GET", "http://ingest/v1/batches")
    failed = httpx.Response(
        503, json={"title": "Unavailable", "status": 503}, headers={"X-Request-Id": "ab12"}, request=request
    )
    refused = httpx.Response(422, json={"title": "Invalid", "status": 422}, headers={"X-Request-Id": "cd34"})

    assert problem_text(failed).endswith("(request ab12: quote it to the LRS service desk)")
    assert "cd34" not in problem_text(refused)  # the caller's to mend
