"""`lrs batch submit --json --wait` stopped while it waits (Ctrl-C, or SIGTERM from `timeout`, systemd or a Kubernetes
job's deadline, which lrs takes the same way) after ingest accepted the batch: stdout still has the accepted answer,
with `"batch": null` and `"wait_error": "interrupted"`, as for any other wait cut short, so that a script learns
the batch's id; stderr says how to follow it, and lrs still ends as interrupted."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.main import Terminated, main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
ACCEPTED = {"batch_id": BATCH_ID, "status": "accepted"}


class _Ingest:
    """Accepts the batch; the person (or the process's supervisor) stops lrs while it asks how the batch stands."""

    sandpit = False

    def __init__(self, stop: type[BaseException]) -> None:
        self.stop = stop

    def command(self, arguments: str) -> str:
        return f"lrs {arguments}"

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            request.read()
            if request.method == "POST":
                return httpx.Response(202, json=ACCEPTED)
            raise self.stop

        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(answer))


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.csv"
    path.write_bytes(b"ULN,GivenName\r\n1000000043,Lily\r\n")
    return path


@pytest.mark.parametrize("stop", [KeyboardInterrupt, Terminated], ids=lambda stop: stop.__name__)
def test_json_wait_interrupted_prints_the_accepted_batch_with_no_outcome(
    stop: type[BaseException],
    batch_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _Ingest(stop))

    code = main(["batch", "submit", str(batch_file), "--wait", "60", "--json"])

    out, err = capsys.readouterr()
    assert code == 130
    assert json.loads(out) == {**ACCEPTED, "replay": False, "batch": None, "wait_error": "interrupted"}
    assert f"batch {BATCH_ID} was accepted; follow it with: lrs batch status {BATCH_ID}" in err


def test_without_json_the_id_alone_is_on_stdout(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _Ingest(KeyboardInterrupt))

    assert main(["batch", "submit", str(batch_file), "--wait", "60"]) == 130

    out, err = capsys.readouterr()
    assert out == f"{BATCH_ID}\n"
    assert f"follow it with: lrs batch status {BATCH_ID}" in err
