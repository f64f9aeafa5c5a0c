"""`--json` with `--csv -` would both write standard output, and a script that adds `--json` to every call would parse
CSV: a usage error (exit status 2) in one line, before any service is asked. `--json` with `--csv FILE` still writes
the file and prints the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands, report_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
REFUSED = "lrs: --json and --csv - both write standard output: choose one\n"


class _NoService:
    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        raise AssertionError("no service is asked for a command refused as used")


@pytest.mark.parametrize(
    "command",
    [
        ["batch", "status", BATCH_ID],
        ["batch", "status", BATCH_ID, "--only", "rejected"],
        ["reports", "submissions", "--period", "2025-03"],
        ["reports", "timeliness"],
        ["reports", "plr-timeliness", "--from", "2025-01"],
        ["reports", "rejections"],
        ["reports", "challenges"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
@pytest.mark.parametrize("order", ["json-first", "csv-first"])
def test_json_and_csv_to_standard_output_is_a_usage_error(
    command: list[str], order: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _NoService())
    monkeypatch.setattr(report_commands, "connection", lambda ctx: _NoService())
    options = ["--json", "--csv", "-"] if order == "json-first" else ["--csv", "-", "--json"]

    assert main([*command, *options]) == ExitCode.USAGE

    out, err = capsys.readouterr()
    assert out == ""
    assert err == REFUSED


class _Ingest:
    """A completed batch of one record, and its results CSV."""

    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/records.csv"):
                return httpx.Response(200, content=b"Line,Status\r\n4,accepted\r\n")
            return httpx.Response(200, json={"batch_id": BATCH_ID, "status": "completed", "counts": {"total": 1}})

        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(answer))


def test_json_with_csv_to_a_file_prints_the_json_and_writes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _Ingest())
    target = tmp_path / "results.csv"

    assert main(["batch", "status", BATCH_ID, "--json", "--csv", str(target)]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out)["status"] == "completed"
    assert target.read_bytes() == b"Line,Status\r\n4,accepted\r\n"
