"""A file the user names is read for at most its limit and one byte more: a file past the limit is refused at once,
in the words and with the exit status it already had, whatever the file is (a sparse file, a pipe, a device), and
nothing is sent. A file at the limit is read and judged as before."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lrs_cli import admin_commands, batch_commands, credential_commands
from lrs_cli.client import CommandError, ExitCode, read_replacement
from lrs_cli.main import main
from lrs_contracts.codes import LEARNER_IMPORT_BYTES, MAX_BATCH_BYTES
from lrs_platform.http import DEAD_LETTER_BODY_BYTES

from .offline import refuse_the_network

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"
CHUNK = 65_536


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk (as the 3 GB file of the report did)."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


class Feeder:
    """Writes to a FIFO until its reader lets go or `offered` bytes are written, counting what went in: a reader
    that stops at its limit leaves the rest unwritten."""

    def __init__(self, fifo: Path, offered: int) -> None:
        self.fifo, self.offered = fifo, offered
        self.written = 0
        self.pipe_capacity = 0
        self._thread = threading.Thread(target=self._feed, daemon=True)

    def _feed(self) -> None:
        descriptor = os.open(self.fifo, os.O_WRONLY)  # waits for the reader
        self.pipe_capacity = fcntl.fcntl(descriptor, fcntl.F_GETPIPE_SZ)
        try:
            while self.written < self.offered:
                self.written += os.write(descriptor, b"0" * CHUNK)
        except BrokenPipeError:
            pass
        finally:
            os.close(descriptor)

    def most_a_bounded_reader_lets_in(self, limit: int) -> int:
        return limit + 1 + self.pipe_capacity + CHUNK

    @contextlib.contextmanager
    def running(self) -> Iterator[Feeder]:
        self._thread.start()
        try:
            yield self
        finally:
            # A reader that never came (or one still reading): open and let go of the read end, so the feeder's
            # open returns and its next write fails; it ends either way.
            with contextlib.suppress(OSError):
                os.close(os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK))
            self._thread.join(timeout=30)
            assert not self._thread.is_alive()


def fed_fifo(tmp_path: Path, name: str, offered: int) -> Feeder:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    return Feeder(fifo, offered)


def test_batch_check_refuses_a_file_one_byte_over_the_limit_with_rs002(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sparse_file(tmp_path / "big.csv", MAX_BATCH_BYTES + 1)

    assert main(["batch", "check", str(big)]) == ExitCode.FAILED
    said = capsys.readouterr().err
    assert "RS002: the whole file is refused: the file is 6,291,457 bytes, more than the 6,291,456 a batch may be" in (
        " ".join(said.split())
    )


def test_batch_check_still_reads_a_file_of_exactly_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = SAMPLE.read_bytes()
    at_limit = tmp_path / "at-limit.csv"
    at_limit.write_bytes(content + b"\n" * (MAX_BATCH_BYTES - len(content)))

    assert main(["batch", "check", str(at_limit)]) == ExitCode.OK
    assert "at-limit.csv: 100 records" in capsys.readouterr().out


def test_batch_check_of_a_pipe_reads_no_more_than_the_limit_and_says_rs002(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fed_fifo(tmp_path, "stream.csv", 8 * MAX_BATCH_BYTES).running() as feeder:
        code = main(["batch", "check", str(feeder.fifo)])

    assert code == ExitCode.FAILED
    assert feeder.written <= feeder.most_a_bounded_reader_lets_in(MAX_BATCH_BYTES)
    said = " ".join(capsys.readouterr().err.split())
    assert "RS002: the whole file is refused: the file is more than 6,291,456 bytes" in said


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        pytest.param(
            lambda path: path.symlink_to("/dev/zero"),
            "the file is more than 6,291,456 bytes",
            id="dev-zero",
        ),
        pytest.param(
            lambda path: sparse_file(path, 3_000_000_000),
            "the file is 3,000,000,000 bytes, more than the 6,291,456 a batch may be",
            id="3-GB-sparse-file",
        ),
    ],
)
def test_batch_check_of_the_reported_files_answers_rs002_within_bounded_memory(
    tmp_path: Path, make: Callable[[Path], object], refused: str
) -> None:
    """The report's two files, each named as a CSV file: run in a process of its own with its memory capped at
    1 GiB and a deadline, so a CLI that reads either whole fails this test instead of the machine."""
    batch = tmp_path / "batch.csv"
    make(batch)
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
        " from lrs_cli.main import main; sys.exit(main(sys.argv[1:]))"
    )

    run = subprocess.run(
        [sys.executable, "-c", code, "batch", "check", str(batch)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == ExitCode.FAILED, run.stderr[-2000:]
    assert f"RS002: the whole file is refused: {refused}" in " ".join(run.stderr.split())


def test_batch_submit_refuses_an_oversized_file_before_sending_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sparse_file(tmp_path / "big.csv", 3 * MAX_BATCH_BYTES)
    refuse_the_network(monkeypatch, batch_commands)

    assert main(["batch", "submit", str(big)]) == ExitCode.FAILED
    out, err = capsys.readouterr()
    assert out == ""
    assert "RS002: the whole file is refused: the file is 18,874,368 bytes, more than the 6,291,456 a batch may be" in (
        " ".join(err.split())
    )


def test_batch_submit_of_a_pipe_reads_no_more_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refuse_the_network(monkeypatch, batch_commands)

    with fed_fifo(tmp_path, "stream.csv", 8 * MAX_BATCH_BYTES).running() as feeder:
        code = main(["batch", "submit", str(feeder.fifo)])

    assert code == ExitCode.FAILED
    assert feeder.written <= feeder.most_a_bounded_reader_lets_in(MAX_BATCH_BYTES)
    assert "RS002: the whole file is refused: the file is more than 6,291,456 bytes" in capsys.readouterr().err


def test_learners_import_refuses_a_file_over_what_the_import_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sparse_file(tmp_path / "learners.csv", LEARNER_IMPORT_BYTES + 1)
    refuse_the_network(monkeypatch, admin_commands)

    assert main(["learners", "import", str(big)]) == ExitCode.FAILED
    assert (
        "learners.csv is 67,108,865 bytes, more than the 67,108,864 bytes a learner import reads: split it into"
        " smaller files"
    ) in " ".join(capsys.readouterr().err.split())


def test_learners_import_of_a_pipe_reads_no_more_than_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = 100_000
    monkeypatch.setattr(admin_commands, "LEARNER_IMPORT_BYTES", limit, raising=False)
    refuse_the_network(monkeypatch, admin_commands)

    with fed_fifo(tmp_path, "learners.csv", 200 * limit).running() as feeder:
        code = main(["learners", "import", str(feeder.fifo)])

    assert code == ExitCode.FAILED
    assert feeder.written <= feeder.most_a_bounded_reader_lets_in(limit)
    assert "learners.csv is more than the 100,000 bytes a learner import reads" in capsys.readouterr().err


def test_a_key_file_larger_than_a_key_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = sparse_file(tmp_path / "api.key", 4_097)

    assert main(["--key-file", str(key_file), "batch", "list"]) == ExitCode.USAGE
    assert f"the key file {key_file} is more than 4,096 bytes" in " ".join(capsys.readouterr().err.split())


def test_a_replacement_envelope_larger_than_a_retry_takes_is_refused_unread(tmp_path: Path) -> None:
    big = sparse_file(tmp_path / "replacement.json", DEAD_LETTER_BODY_BYTES + 1)

    with pytest.raises(CommandError, match="is more than the 16,777,216 bytes a retry takes"):
        read_replacement(str(big))


def test_a_replacement_envelope_within_the_limit_reads_as_before(tmp_path: Path) -> None:
    envelope: dict[str, Any] = {"event_type": "org.lrs.example.v1", "data": {"uln": "1000000043"}}
    path = tmp_path / "replacement.json"
    path.write_text('{"event_type": "org.lrs.example.v1", "data": {"uln": "1000000043"}}\r\n', encoding="utf-8")

    assert read_replacement(str(path)) == envelope


def test_plr_verify_refuses_a_credential_or_jwks_file_past_its_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = credential_commands.CREDENTIAL_FILE_BYTES
    big = sparse_file(tmp_path / "credential.json", limit + 1)
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}', encoding="utf-8")

    assert main(["plr", "verify", str(big), "--jwks", str(jwks)]) == ExitCode.USAGE  # cannot be read: docs say 2
    assert "is more than the 16,777,216 bytes lrs reads of a credential file" in capsys.readouterr().err

    token = tmp_path / "credential.jws"
    token.write_text("e30.e30.sig", encoding="utf-8")
    big_jwks = sparse_file(tmp_path / "big-jwks.json", limit + 1)
    assert main(["plr", "verify", str(token), "--jwks", str(big_jwks)]) == ExitCode.USAGE
    assert "is more than the 16,777,216 bytes lrs reads of a JWKS file" in capsys.readouterr().err


class EndlessBody(BaseHTTPRequestHandler):
    """A JWKS URL that never stops sending (a wrong URL, a hostile server): chunks until the client hangs up."""

    sent = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        chunk = b" " * CHUNK
        with contextlib.suppress(OSError):
            while EndlessBody.sent < 4 * credential_commands.CREDENTIAL_FILE_BYTES:
                self.wfile.write(chunk)
                EndlessBody.sent += len(chunk)

    def log_message(self, *args: Any) -> None:
        pass


def test_plr_verify_stops_reading_a_jwks_url_past_its_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EndlessBody)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    payload = base64.urlsafe_b64encode(json.dumps({"issuer": {"id": issuer}}).encode()).decode().rstrip("=")
    kid = f"{issuer}/.well-known/jwks.json#k1"  # a header no key could fail is refused before the JWKS is fetched
    header = base64.urlsafe_b64encode(json.dumps({"alg": "EdDSA", "kid": kid}).encode()).decode().rstrip("=")
    token = tmp_path / "credential.jws"
    token.write_text(f"{header}.{payload}.sig", encoding="utf-8")  # the JWKS URL is the issuer's: it is fetched
    try:
        url = f"{issuer}/.well-known/jwks.json"
        assert main(["plr", "verify", str(token), "--jwks", url]) == ExitCode.FAILED
    finally:
        server.shutdown()
    assert "sends more than the 16,777,216 bytes lrs reads of a JWKS" in capsys.readouterr().err
    assert EndlessBody.sent < 2 * credential_commands.CREDENTIAL_FILE_BYTES
