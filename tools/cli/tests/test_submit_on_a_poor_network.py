"""The "flaky" walk (an AO's integration developer on a poor network), findings 1, 2, 5 and 6.

1. A connection that broke after it was made (a reset, a proxy closing it, an answer cut short) is not said to be out
   of reach ("is LRS_INGEST_URL right?"): after a submission, whether the batch was kept is unknown and how to look
   is said, as after a timeout (exit 4); a connection never made still says the LRS cannot be reached.
2. The same file sent again after a Kafka outage is answered with the batch kept `received` (or `accepted`), which
   this sending publishes: it is on its way, said so with how to follow it, and no new --idempotency-key is
   suggested (that would make a second batch of the same records).
5. A 408 (the file stopped arriving: nothing kept) is sent again once; a second ends with exit 4, not 1.
6. A Retry-After given as an HTTP date is waited out; a gateway's 503 without one is sent again after waits that
   double up to 60 s, and lrs says it waits instead of "try again later"."""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode, unreachable_text
from lrs_cli.main import main

BATCH_ID = "5e7531fa-0d41-4c4e-9a1e-2f3b4c5d6e7f"
ACCEPTED = {"batch_id": BATCH_ID, "status": "accepted", "status_url": f"/v1/batches/{BATCH_ID}"}
STALLED = {
    "title": "The file stopped arriving",
    "status": 408,
    "code": "REQUEST_TIMEOUT",
    "detail": "nothing of the file arrived for 30 seconds, so ingest stopped waiting for it and kept nothing of it."
    " Send it again.",
}
GATEWAY_PAGE = "<html><head><title>503 Service Temporarily Unavailable</title></head></html>"


class _Ingest:
    """Answers each request with the next of `answers` (the last one again once they run out); an exception is
    raised instead, after the whole request was read (the connection broke once the file was up)."""

    sandpit = False

    def __init__(self, *answers: httpx.Response | type[httpx.TransportError]) -> None:
        self.answers, self.sent = list(answers), 0

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest:8000", transport=httpx.MockTransport(self._answer), timeout=timeout)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        answer = self.answers[min(self.sent, len(self.answers) - 1)]
        self.sent += 1
        if isinstance(answer, type):
            raise answer("Server disconnected without sending a response.", request=request)
        return answer


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "lost2.csv"
    path.write_bytes(b"ULN,GivenName\r\n1000000043,Lily\r\n")
    return path


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", waits.append)
    return waits


def _submit(ingest: _Ingest, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    return main(["batch", "submit", *args])


def _one_line(err: str) -> str:
    return " ".join(err.split())


# 1. A connection broken after the file went up


@pytest.mark.parametrize("broken", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError])
def test_a_connection_broken_before_the_answer_says_the_batch_may_be_kept(
    broken: type[httpx.TransportError],
    batch_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _submit(_Ingest(broken), str(batch_file), monkeypatch=monkeypatch)

    err = _one_line(capsys.readouterr().err)
    assert code == ExitCode.UNREACHABLE
    assert "cannot reach" not in err and "LRS_INGEST_URL right" not in err
    assert err == (
        "lrs: the connection to http://ingest:8000 broke before it answered (Server disconnected without sending a"
        " response.). Whether it kept the batch is unknown: `lrs batch list` shows it if it did, and submitting the"
        " same file again is safe: ingest answers a file it has with that first batch"
    )


def test_with_a_key_the_broken_connection_says_to_send_it_again_with_that_key(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(
        _Ingest(httpx.ReadError), str(batch_file), "--idempotency-key", "flaky-rst-1", monkeypatch=monkeypatch
    )

    err = _one_line(capsys.readouterr().err)
    assert code == ExitCode.UNREACHABLE
    assert err.endswith(
        "Whether it kept the batch is unknown: `lrs batch list` shows it if it did, and submitting it again with the"
        " same --idempotency-key is safe"
    )


def test_a_connection_never_made_still_says_the_lrs_cannot_be_reached(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(httpx.ConnectError), str(batch_file), monkeypatch=monkeypatch)

    err = _one_line(capsys.readouterr().err)
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("lrs: cannot reach http://ingest:8000 (")
    assert "kept the batch" not in err


def _broken(method: str, url: str) -> str:
    request = httpx.Request(method, url, extensions={"lrs_url_variable": "LRS_CHALLENGES_URL"})
    return unreachable_text(httpx.ReadError("[Errno 104] Connection reset by peer", request=request))


def test_any_other_write_broken_before_the_answer_says_to_look_before_asking_again() -> None:
    said = _broken("POST", "https://api.lrs.example/v1/challenges/42/resolve")

    assert said == (
        "the connection to https://api.lrs.example broke before it answered ([Errno 104] Connection reset by peer)."
        " Whether it did what was asked is unknown: look before asking again"
    )


def test_a_read_broken_before_the_answer_is_to_be_asked_again() -> None:
    said = _broken("GET", "https://api.lrs.example/v1/challenges/42")

    assert said == (
        "the connection to https://api.lrs.example broke before it answered ([Errno 104] Connection reset by peer):"
        " try again"
    )


# 2. A kept batch published by the file sent again


def _replay(status: str) -> httpx.Response:
    return httpx.Response(202, json={**ACCEPTED, "status": status}, headers={"Idempotent-Replay": "true"})


@pytest.mark.parametrize("status", ["accepted", "received", "queued", "validating"])
def test_the_file_sent_again_for_a_batch_not_decided_is_said_on_its_way_not_to_be_sent_anew(
    status: str, batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(_replay(status)), str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    said = _one_line(err)
    assert (code, out.strip()) == (0, BATCH_ID)
    assert "--idempotency-key with a value not used before" not in said
    assert said.startswith(
        f"lrs: lost2.csv was sent before, as batch {BATCH_ID}, which is not decided yet ({status}): it is on its way,"
        " and nothing new was submitted. Do not send lost2.csv as a new batch: it would be a second batch of the"
        f" same records. Follow it with: lrs batch status {BATCH_ID} --wait 60"
    )


def test_under_a_key_a_batch_not_decided_is_said_on_its_way_not_to_be_given_a_new_key(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(_replay("accepted")), str(batch_file), "--idempotency-key", "k-1", monkeypatch=monkeypatch)

    said = _one_line(capsys.readouterr().err)
    assert code == 0
    assert "give a new --idempotency-key" not in said
    assert said.startswith(
        f"lrs: this --idempotency-key was used before, for batch {BATCH_ID}, which is not decided yet (accepted): it"
        " is on its way"
    )


def test_a_decided_batch_sent_again_still_says_how_to_send_it_as_a_new_batch(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(_replay("completed")), str(batch_file), "--json", monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["replay"] is True
    assert "add --idempotency-key with a value not used before" in _one_line(err)


# 5. A 408: the file stopped arriving, nothing was kept


def _answer(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_a_file_that_stopped_arriving_once_is_sent_again(
    batch_file: Path, slept: list[float], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest(_answer(408, STALLED), httpx.Response(202, json=ACCEPTED))

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, out.strip(), ingest.sent) == (0, BATCH_ID, 2)
    assert "lrs sends lost2.csv again in 2 s (Ctrl-C stops it)" in _one_line(err)


def test_a_file_that_stopped_arriving_twice_is_unavailable_for_now_not_refused(
    batch_file: Path, slept: list[float], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest(_answer(408, STALLED))

    code = _submit(ingest, str(batch_file), "--json", monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, ingest.sent) == (ExitCode.UNREACHABLE, 2)
    assert json.loads(out) == {"batch_id": None, "status": "refused", "refusal": STALLED}
    assert _one_line(err).endswith(
        "It stopped arriving again when lrs sent it once more: nothing of lost2.csv was kept; send it again when"
        " the connection is steadier."
    )


# 6. Retry-After as an HTTP date; a gateway's 503 without one


def _unavailable_until(moment: datetime) -> httpx.Response:
    return httpx.Response(
        503,
        text=GATEWAY_PAGE,
        headers={"Content-Type": "text/html", "Retry-After": email.utils.format_datetime(moment, usegmt=True)},
    )


def test_a_retry_after_given_as_a_date_is_waited_out(
    batch_file: Path, slept: list[float], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest(_unavailable_until(datetime.now(UTC) + timedelta(seconds=150)), httpx.Response(202, json=ACCEPTED))

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    assert (code, ingest.sent) == (0, 2)
    assert len(slept) == 1 and 140 < slept[0] <= 150


def test_a_retry_after_date_gone_by_is_a_short_wait(
    batch_file: Path, slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = _Ingest(_unavailable_until(datetime.now(UTC) - timedelta(minutes=5)), httpx.Response(202, json=ACCEPTED))

    assert _submit(ingest, str(batch_file), monkeypatch=monkeypatch) == 0
    assert slept == [1.0]


def _gateway_away(times: int) -> _Ingest:
    page = httpx.Response(503, text=GATEWAY_PAGE, headers={"Content-Type": "text/html"})
    return _Ingest(*[page] * times, httpx.Response(202, json=ACCEPTED))


def test_a_gateway_503_without_retry_after_is_sent_again_after_longer_and_longer_waits(
    batch_file: Path, slept: list[float], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _gateway_away(8)

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    err = capsys.readouterr().err
    assert (code, ingest.sent) == (0, 9)
    assert slept == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    first = _one_line(err.split("\nlrs: ")[0])
    assert first == (
        "lrs: a gateway in front of the LRS answered 503 (text/html from http://ingest:8000/v1/batches): the service"
        " may be restarting. lrs sends lost2.csv again in 2 s (Ctrl-C stops it)."
    )
    assert "try again later" not in err


def test_a_gateway_408_says_the_file_stopped_arriving_not_to_check_the_url(
    batch_file: Path, slept: list[float], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ingress-nginx's own 408 (its body timeout) is a page, not ingest's problem document: nothing was passed on."""
    page = httpx.Response(408, text="<html>408 Request Time-out</html>", headers={"Content-Type": "text/html"})
    ingest = _Ingest(page)

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    err = _one_line(capsys.readouterr().err)
    assert (code, ingest.sent) == (ExitCode.UNREACHABLE, 2)
    assert "check the LRS_<SERVICE>_URL variables" not in err
    assert (
        "lrs: a gateway in front of the LRS answered 408 (text/html from http://ingest:8000/v1/batches): the request"
        " stopped arriving, so nothing of it was kept; send it again."
    ) in err
