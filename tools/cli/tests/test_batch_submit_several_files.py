"""Report backfill, finding 6: `lrs batch submit FILE...` sends several files one after another in the order given,
each as one file is sent; each line names its file (with --json, one JSON object a line, with "file"). The first
file refused stops the run (the rest are not sent, and said so) unless --keep-going; the exit status is then that
file's. One file is sent and printed as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .test_batch_refused import BATCH_ID as REFUSED_ID  # the batch its RS003 keeps
from .test_batch_refused import RS003


class _Ingest:
    """Accepts each file as a batch numbered in the order received; refuses (RS003, kept as a batch) any whose
    content says REFUSE."""

    sandpit = False

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        self.received.append(content)
        if b"REFUSE" in content:
            return httpx.Response(422, json=RS003)
        batch_id = f"00000000-0000-0000-0000-{len(self.received):012d}"
        return httpx.Response(202, json={"batch_id": batch_id, "status": "accepted"})


def _files(tmp_path: Path, *contents: str) -> list[str]:
    paths = []
    for number, content in enumerate(contents, start=1):
        path = tmp_path / f"r{number}.csv"
        path.write_text(f"ULN,GivenName\r\n1000000043,{content}\r\n")
        paths.append(str(path))
    return paths


def _submit(ingest: _Ingest, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    return main(["batch", "submit", *args])


def _id(number: int) -> str:
    return f"00000000-0000-0000-0000-{number:012d}"


def test_each_file_is_sent_in_order_and_named_with_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest()
    files = _files(tmp_path, "Lily", "Rose", "Iris")

    code = _submit(ingest, *files, monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert code == ExitCode.OK
    assert [b"Lily" in ingest.received[0], b"Rose" in ingest.received[1], b"Iris" in ingest.received[2]] == [True] * 3
    assert out.splitlines() == [f"{file}: {_id(number)}" for number, file in enumerate(files, start=1)]


def test_with_json_each_file_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path, "Lily", "Rose")

    code = _submit(_Ingest(), "--json", *files, monkeypatch=monkeypatch)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == ExitCode.OK
    assert [(line["file"], line["batch_id"], line["status"]) for line in lines] == [
        (files[0], _id(1), "accepted"),
        (files[1], _id(2), "accepted"),
    ]


def test_the_first_refused_file_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest()
    files = _files(tmp_path, "Lily", "REFUSE", "Iris")

    code = _submit(ingest, "--json", *files, monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    lines: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
    assert (code, len(ingest.received)) == (ExitCode.FAILED, 2)
    assert lines[1] == {"file": files[1], "batch_id": REFUSED_ID, "status": "refused", "refusal": RS003}
    assert len(lines) == 2
    assert f"lrs: {files[1]}: HTTP 422: RS003" in " ".join(err.split())
    assert f"not sent: {files[2]}" in " ".join(err.split())


def test_keep_going_sends_every_file_and_still_exits_as_the_refused_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest()
    files = _files(tmp_path, "REFUSE", "Rose")

    code = _submit(ingest, "--keep-going", *files, monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert (code, len(ingest.received)) == (ExitCode.FAILED, 2)
    assert out.splitlines() == [f"{files[0]}: {REFUSED_ID}", f"{files[1]}: {_id(2)}"]


def test_a_key_refused_stops_even_with_keep_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class _Refusing(_Ingest):
        def _answer(self, request: httpx.Request) -> httpx.Response:
            self.received.append(request.read())
            return httpx.Response(401, json={"title": "Unauthorised", "status": 401, "code": "UNAUTHENTICATED"})

    ingest = _Refusing()
    files = _files(tmp_path, "Lily", "Rose")

    code = _submit(ingest, "--keep-going", "--json", *files, monkeypatch=monkeypatch)

    out = capsys.readouterr().out
    assert (code, len(ingest.received)) == (ExitCode.KEY_REFUSED, 1)
    (line,) = [json.loads(each) for each in out.splitlines()]
    assert (line["file"], line["batch_id"]) == (files[0], None) and "HTTP 401" in line["error"]


def test_an_idempotency_key_with_several_files_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest()

    code = _submit(ingest, "--idempotency-key", "k1", *_files(tmp_path, "Lily", "Rose"), monkeypatch=monkeypatch)

    assert (code, ingest.received) == (ExitCode.USAGE, [])
    assert "--idempotency-key names one batch: give it with one FILE, not 2" in capsys.readouterr().err


def test_one_file_prints_its_id_alone_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_Ingest(), *_files(tmp_path, "Lily"), monkeypatch=monkeypatch)

    assert (code, capsys.readouterr().out) == (ExitCode.OK, f"{_id(1)}\n")


class _BreakingIngest(_Ingest):
    """Breaks the connection on any file whose content says BREAK, after it went up."""

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if b"BREAK" in request.read():
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return super()._answer(request)


def test_with_json_a_file_whose_connection_broke_still_prints_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _BreakingIngest()
    files = _files(tmp_path, "one", "BREAK", "three")

    assert _submit(ingest, "--json", *files, monkeypatch=monkeypatch) == ExitCode.UNREACHABLE

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["file"], line["batch_id"]) for line in lines] == [(files[0], _id(1)), (files[1], None)]
    assert "error" in lines[1]
