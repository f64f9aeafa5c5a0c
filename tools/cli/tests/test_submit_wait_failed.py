"""`lrs batch submit --wait` whose wait fails after ingest accepted the batch: the hint to follow it runs as
printed (the same environment and key file), and `--json` still prints the accepted batch, with `"batch": null`
and why the wait failed, exit status 3 (not final)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
ACCEPTED = {"batch_id": BATCH_ID, "status": "accepted"}
BROKEN = {"title": "Internal Server Error", "status": 500, "detail": "the database went away"}


@dataclass(frozen=True)
class _Ingest(Connection):
    """Accepts the batch, then answers 500 to every look at it."""

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            request.read()
            if request.method == "POST":
                return httpx.Response(202, json=ACCEPTED)
            return httpx.Response(500, json=BROKEN)

        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(answer))


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.csv"
    path.write_bytes(b"ULN,GivenName\r\n1000000043,Lily\r\n")
    return path


def test_the_hint_after_a_failed_wait_keeps_the_sandpit_and_the_key_file(
    batch_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "my key"
    ingest = _Ingest("lrs_sbx_key", Environment.SANDPIT, key_file)
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    code = main(["batch", "submit", str(batch_file), "--wait", "5"])

    out, err = capsys.readouterr()
    assert code == ExitCode.FAILED
    assert out.strip() == BATCH_ID
    assert f"follow it with: lrs --sandpit --key-file '{key_file}' batch status {BATCH_ID}" in err


def test_json_after_a_failed_wait_prints_the_accepted_batch_and_why_then_exits_not_final(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest("lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    code = main(["batch", "submit", str(batch_file), "--wait", "5", "--json"])

    out, err = capsys.readouterr()
    printed = json.loads(out)
    assert code == ExitCode.NOT_FINAL
    assert printed["batch_id"] == BATCH_ID and printed["status"] == "accepted" and printed["batch"] is None
    assert printed["wait_error"].startswith("HTTP 500: Internal Server Error") and "database" in printed["wait_error"]
    assert f"follow it with: lrs batch status {BATCH_ID}" in err
