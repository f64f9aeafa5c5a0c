"""A path `lrs` writes a file to (`reports … --csv`, `batch status --csv`, `plr credential --output`) that is not
a regular file is written straight into, never replaced: a FIFO stays a FIFO and is read, `/dev/null` stays the
device, a process's open file (`/dev/stdout`, `/proc/self/fd/N`) is appended to. A symbolic link is written
through: the file it names is replaced whole, the link kept."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands, plr_commands, report_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
BATCH = {"batch_id": BATCH_ID, "status": "completed", "counts": {"total": 1, "accepted": 1, "rejected": 0}}
CREDENTIAL = {"credential": "eyJ.x.y", "achievements": 2, "jwks_uri": "http://plr/.well-known/jwks.json"}
CSV = b"line,status,mis_identifier\r\n3,accepted,M1\r\n"
OLD = b"what was there before\n"
REPORT = ["reports", "submissions", "--period", "2025-03", "--csv"]
BATCH_STATUS = ["batch", "status", BATCH_ID, "--csv"]
CREDENTIAL_OUTPUT = ["plr", "credential", "1000000043", "--output"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs and /proc/self/fd: Linux")


@dataclass(frozen=True)
class _Services(Connection):
    """Ingest's batch and records CSV, reporting's CSV and the PLR's credential, as the services answer them."""

    asked: list[str] = field(default_factory=list)
    answer: Callable[[httpx.Request], httpx.Response] = field(default=lambda request: httpx.Response(500))

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append(request.url.path)
            if service == "plr_projector":
                return httpx.Response(200, json=CREDENTIAL)
            if service == "ingest" and not request.url.path.endswith("/records.csv"):
                return httpx.Response(200, json=BATCH)
            return httpx.Response(200, content=CSV)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


@pytest.fixture(autouse=True)
def services(monkeypatch: pytest.MonkeyPatch) -> _Services:
    answering = _Services("lrs_test_key")
    for module in (batch_commands, report_commands, plr_commands):
        monkeypatch.setattr(module, "connection", lambda ctx: answering)
    return answering


def _written(command: list[str]) -> bytes:
    """What `command` writes to its file."""
    return CSV if command != CREDENTIAL_OUTPUT else (json.dumps(CREDENTIAL, indent=2) + "\n").encode()


@pytest.fixture
def read_end(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A FIFO with its reading end held open (not waiting for a writer): whatever is written into it stays in the
    pipe to be read; nothing written reads as the end at once, never a wait."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reading = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield fifo, reading
    finally:
        os.close(reading)


def _drained(reading: int) -> bytes:
    read = b""
    while chunk := os.read(reading, 65536):
        read += chunk
    return read


@pytest.mark.parametrize("command", [REPORT, BATCH_STATUS, CREDENTIAL_OUTPUT])
def test_a_fifo_is_written_into_and_stays_a_fifo(command: list[str], read_end: tuple[Path, int]) -> None:
    fifo, reading = read_end

    assert main([*command, str(fifo)]) == ExitCode.OK

    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert _drained(reading) == _written(command)
    assert sorted(path.name for path in fifo.parent.iterdir()) == ["pipe"]


def test_a_link_to_a_fifo_is_written_through_and_both_are_kept(read_end: tuple[Path, int]) -> None:
    fifo, reading = read_end
    link = fifo.parent / "report.csv"
    link.symlink_to(fifo)

    assert main([*REPORT, str(link)]) == ExitCode.OK

    assert link.is_symlink() and link.readlink() == fifo
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert _drained(reading) == CSV


@pytest.mark.parametrize("command", [REPORT, BATCH_STATUS, CREDENTIAL_OUTPUT])
def test_a_link_to_a_file_replaces_the_file_it_names_and_stays_a_link(command: list[str], tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    real = kept / "march.csv"
    real.write_bytes(OLD)
    real.chmod(0o644)
    link = tmp_path / "latest.csv"
    link.symlink_to(real)

    assert main([*command, str(link)]) == ExitCode.OK

    assert link.is_symlink() and link.readlink() == real
    assert real.read_bytes() == _written(command)
    assert stat.S_IMODE(real.lstat().st_mode) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept", "latest.csv"]
    assert sorted(path.name for path in kept.iterdir()) == ["march.csv"]  # no temporary file left beside it


@pytest.mark.parametrize("command", [REPORT, CREDENTIAL_OUTPUT])
def test_a_link_to_dev_null_stays_a_link_to_dev_null(command: list[str], tmp_path: Path) -> None:
    link = tmp_path / "discard"
    link.symlink_to(os.devnull)

    assert main([*command, str(link)]) == ExitCode.OK

    assert link.is_symlink() and str(link.readlink()) == os.devnull
    assert sorted(path.name for path in tmp_path.iterdir()) == ["discard"]


def test_an_open_file_named_through_proc_self_fd_is_appended_to_not_replaced(tmp_path: Path) -> None:
    # `--csv /dev/stdout > out.csv` or `>> log`: /dev/stdout leads to /proc/self/fd/1, and on to the file
    log = tmp_path / "log"
    log.write_bytes(OLD)
    before = log.stat()
    with open(log, "ab") as opened:
        assert main([*REPORT, f"/proc/self/fd/{opened.fileno()}"]) == ExitCode.OK

    assert log.read_bytes() == OLD + CSV
    assert log.stat().st_ino == before.st_ino and stat.S_IMODE(log.stat().st_mode) == stat.S_IMODE(before.st_mode)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["log"]
