"""`-` as the batch file of `lrs batch check` and `lrs batch submit` is standard input (`lrs batch submit - <
results.csv`, a pipe from an export), as `--csv -` is standard output: named "standard input" in what lrs says, its
format told from its first bytes (as for /dev/stdin), and read for no more than a batch may be (6 MB and a byte)
whatever is piped in. `./-` is still a file named `-`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.codes import MAX_BATCH_BYTES

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"
BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"


class _Endless(io.RawIOBase):
    """A pipe that never ends (an export gone wrong): a CSV header, then blank lines for ever; counts the bytes it
    handed out."""

    def __init__(self) -> None:
        self.given = 0
        self.head = b"FileVersion,AwardingOrganisation\r\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        chunk = (self.head + b"\n" * size)[:size]
        self.head = self.head[size:]
        buffer[:] = chunk
        self.given += size
        return size


def _stdin(monkeypatch: pytest.MonkeyPatch, content: bytes | io.RawIOBase) -> None:
    raw = io.BytesIO(content) if isinstance(content, bytes) else content
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(raw)))


@pytest.mark.parametrize("fmt", ["csv", "xml", "json"])
def test_batch_check_dash_reads_standard_input_and_tells_its_format_from_its_first_bytes(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, (SAMPLES / f"sample-100.{fmt}").read_bytes())

    assert main(["batch", "check", "-"]) == ExitCode.OK

    assert capsys.readouterr().out.startswith("standard input: 100 records\n")


def test_batch_check_dash_json_names_the_file_as_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, (SAMPLES / "sample-100.csv").read_bytes())

    assert main(["batch", "check", "-", "--json"]) == ExitCode.OK

    report = json.loads(capsys.readouterr().out)
    assert report["file"] == "-" and report["counts"]["total"] == 100


def test_an_empty_standard_input_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, b"")

    assert main(["batch", "check", "-"]) == ExitCode.FAILED

    assert "RS001: standard input is empty (0 bytes)" in capsys.readouterr().err


def test_standard_input_of_no_format_is_a_usage_error_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, b"%PDF-1.7 not a batch\n")

    assert main(["batch", "check", "-"]) == ExitCode.USAGE

    said = " ".join(capsys.readouterr().err.split())
    assert "cannot tell the format of standard input from its first bytes" in said


def test_endless_standard_input_is_read_no_further_than_the_limit_and_refused_rs002(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endless = _Endless()
    _stdin(monkeypatch, endless)

    assert main(["batch", "check", "-"]) == ExitCode.FAILED

    assert endless.given <= MAX_BATCH_BYTES + 1 + 2 * io.DEFAULT_BUFFER_SIZE
    said = " ".join(capsys.readouterr().err.split())
    assert "RS002: the whole file is refused: the file is more than 6,291,456 bytes" in said


class _Ingest:
    """Accepts whatever it is sent, keeping it."""

    sandpit = False

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def command(self, arguments: str) -> str:
        return f"lrs {arguments}"

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            request.read()
            self.sent.append(request)
            return httpx.Response(202, json={"batch_id": BATCH_ID, "status": "accepted"})

        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(("fmt", "content_type"), [("csv", "text/csv"), ("xml", "application/xml")])
def test_batch_submit_dash_sends_standard_input_as_its_format(
    fmt: str, content_type: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = (SAMPLES / f"sample-100.{fmt}").read_bytes()
    _stdin(monkeypatch, content)
    ingest = _Ingest()
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    assert main(["batch", "submit", "-"]) == ExitCode.OK

    assert capsys.readouterr().out == f"{BATCH_ID}\n"
    [sent] = ingest.sent
    assert sent.headers["Content-Type"] == content_type and sent.content == content


def test_batch_submit_of_endless_standard_input_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endless = _Endless()
    _stdin(monkeypatch, endless)
    ingest = _Ingest()
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    assert main(["batch", "submit", "-", "--json"]) == ExitCode.FAILED

    assert ingest.sent == [] and endless.given <= MAX_BATCH_BYTES + 1 + 2 * io.DEFAULT_BUFFER_SIZE
    printed = json.loads(capsys.readouterr().out)
    assert printed["batch_id"] is None and printed["refusal"]["code"] == "RS002"


def test_dot_slash_dash_is_the_file_named_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "-").write_bytes((SAMPLES / "sample-100.csv").read_bytes())
    monkeypatch.chdir(tmp_path)
    _stdin(monkeypatch, b"")  # read, this would be refused as empty

    assert main(["batch", "check", "./-"]) == ExitCode.OK

    assert capsys.readouterr().out.startswith("-: 100 records\n")


def test_a_real_redirect_and_a_real_pipe_are_read() -> None:
    """In a process of its own: sys.stdin as the shell gives it, a file redirected (`< sample-100.xml`) and a pipe."""
    command = [sys.executable, "-c", "import sys; from lrs_cli.main import main; sys.exit(main(sys.argv[1:]))"]
    with (SAMPLES / "sample-100.xml").open("rb") as redirected:
        run = subprocess.run(
            [*command, "batch", "check", "-"], stdin=redirected, capture_output=True, timeout=120, check=False
        )
    assert run.returncode == ExitCode.OK, run.stderr[-2000:]
    assert run.stdout.startswith(b"standard input: 100 records\n")

    piped = subprocess.run(
        [*command, "batch", "check", "-"],
        input=(SAMPLES / "sample-100.json").read_bytes(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == ExitCode.OK, piped.stderr[-2000:]
    assert piped.stdout.startswith(b"standard input: 100 records\n")
