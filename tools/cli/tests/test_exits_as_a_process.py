"""`lrs` as cron, systemd or a Kubernetes job runs it, a process of its own: SIGTERM (`timeout`, a job's deadline) is
said as Ctrl-C is and ends with 143; a standard input or output started closed is one line, never a traceback; and
starting it loads no web framework (a script calls it once per ULN)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"
BATCH_ID = "b20d919e-01fc-4037-8486-e7285dc84202"
LRS = [sys.executable, "-m", "lrs_cli.main"]
TERMINATED = 143


@dataclass
class _Ingest:
    """Accepts a batch, then holds every read of it until the test ends: `asked` is set once lrs waits on one."""

    url: str = ""
    asked: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(ingest: _Ingest) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._answer(202, {"batch_id": BATCH_ID, "status": "accepted"})

        def do_GET(self) -> None:
            ingest.asked.set()
            ingest.release.wait(60)
            self._answer(200, {"batch_id": BATCH_ID, "status": "validating"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            encoded = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def ingest() -> Iterator[_Ingest]:
    held = _Ingest()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(held))
    server.daemon_threads = True
    held.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield held
    finally:
        held.release.set()
        server.shutdown()
        server.server_close()


def _environment(**more: str) -> dict[str, str]:
    return {**os.environ, "LRS_API_KEY": "lrs_test_key", "PYTHONUNBUFFERED": "1", **more}


def test_sigterm_while_waiting_says_the_batch_was_accepted_and_ends_with_143(ingest: _Ingest) -> None:
    lrs = subprocess.Popen(
        [*LRS, "batch", "submit", "--wait", "60", str(SAMPLE)],
        env=_environment(LRS_INGEST_URL=ingest.url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert ingest.asked.wait(60), "lrs never asked for the batch it submitted"
        lrs.send_signal(signal.SIGTERM)
        out, err = lrs.communicate(timeout=60)
    finally:
        if lrs.poll() is None:
            lrs.kill()
            lrs.communicate()

    assert lrs.returncode == TERMINATED, err
    assert out.strip() == BATCH_ID
    assert err == (f"lrs: batch {BATCH_ID} was accepted; follow it with: lrs batch status {BATCH_ID}\n"), err


def _closed(redirection: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """lrs started with a standard stream closed (`<&-`, `>&-`), as some supervisors start jobs."""
    command = ["sh", "-c", f'exec "$@" {redirection}', "sh", *LRS, *arguments]
    return subprocess.run(command, env=_environment(), capture_output=True, text=True, timeout=120, check=False)


def test_a_confirmation_with_standard_input_closed_is_asked_of_nobody() -> None:
    erased = _closed("<&-", "learners", "erase", "1000000043", "--reason", "test")

    assert (erased.returncode, erased.stdout) == (2, "")
    assert erased.stderr == "lrs: erasure cannot be undone: pass --yes to confirm it when not on a terminal\n"


def test_standard_output_closed_is_one_line_and_nothing_is_done() -> None:
    listed = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *LRS, "batch", "list", "--json"],
        env=_environment(LRS_INGEST_URL="http://127.0.0.1:9"),  # never asked: nothing is done
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )

    assert listed.returncode == 2
    assert listed.stderr == (
        "lrs: standard output is closed: lrs prints its answers there, so nothing was done; send it to /dev/null\n"
    )


def test_starting_lrs_loads_no_web_framework() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import lrs_cli.main, sys; print('fastapi' in sys.modules, 'starlette' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert loaded.stdout == "False False\n", loaded.stderr
