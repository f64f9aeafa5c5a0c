"""`lrs batch status ID --only rejected --csv FILE` writes only the rejected records (ingest's `records.csv` asked
with `status`), and says so; `--json` without `--records` reads no page of records, which it would not print."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
BATCH = {"batch_id": BATCH_ID, "status": "completed", "format": "csv", "counts": {"total": 2, "accepted": 1}}
HEAD = b"\xef\xbb\xbfLine,MISIdentifier,Action,ULN,Status,Codes,Messages,PLRChanged\r\n"
ROWS = {
    "accepted": b"4,M4,Create,******0043,accepted,,,Y\r\n",
    "rejected": b"5,M5,Create,******3096,rejected,RV004,not registered,N\r\n",
}
RECORD = {"line": 5, "mis_identifier": "M5", "status": "rejected", "errors": [], "warnings": []}
OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "ingest.json"


@dataclass(frozen=True)
class _Ingest(Connection):
    """Ingest with a batch of two records, one rejected; each request made is kept."""

    asked: list[httpx.Request] = field(default_factory=list)

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append(request)
            only = request.url.params.get("status")
            if request.url.path.endswith("/records.csv"):
                return httpx.Response(200, content=HEAD + b"".join(row for s, row in ROWS.items() if only in (None, s)))
            if request.url.path.endswith("/records"):
                return httpx.Response(200, json={"records": [RECORD], "total": 1})
            return httpx.Response(200, json=BATCH)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))

    def paths(self) -> list[str]:
        return [request.url.path.removeprefix(f"/v1/batches/{BATCH_ID}") for request in self.asked]


def _use(monkeypatch: pytest.MonkeyPatch) -> _Ingest:
    ingest = _Ingest("lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    return ingest


def test_only_with_a_csv_file_writes_only_those_records_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _use(monkeypatch)
    target = tmp_path / "rejected.csv"

    code = main(["batch", "status", BATCH_ID, "--only", "rejected", "--csv", str(target)])

    err = capsys.readouterr().err
    assert code == ExitCode.OK
    assert target.read_bytes() == HEAD + ROWS["rejected"]
    asked = next(request for request in ingest.asked if request.url.path.endswith("/records.csv"))
    assert asked.url.params.get("status") == "rejected"
    assert f"wrote the rejected records' results to {target}" in err and "every record" not in err


def test_only_with_the_csv_on_standard_output_writes_only_those_records(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    _use(monkeypatch)

    code = main(["batch", "status", BATCH_ID, "--only", "rejected", "--csv", "-"])

    assert code == ExitCode.OK
    assert capsysbinary.readouterr().out == HEAD.removeprefix(b"\xef\xbb\xbf") + ROWS["rejected"]


def test_without_only_the_csv_file_has_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _use(monkeypatch)
    target = tmp_path / "all.csv"

    assert main(["batch", "status", BATCH_ID, "--csv", str(target)]) == ExitCode.OK

    assert target.read_bytes() == HEAD + ROWS["accepted"] + ROWS["rejected"]
    assert all("status" not in request.url.params for request in ingest.asked)
    assert f"wrote every record's result to {target}" in capsys.readouterr().err


def test_the_status_the_cli_sends_is_a_documented_query_parameter_of_the_results_csv() -> None:
    document: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    parameters = document["paths"]["/v1/batches/{batch_id}/records.csv"]["get"]["parameters"]

    assert any(each["name"] == "status" and each["in"] == "query" for each in parameters)


@pytest.mark.parametrize(
    ("options", "records_read"),
    [([], False), (["--records"], True), (["--only", "rejected"], True)],
)
def test_json_reads_the_records_only_when_it_prints_them(
    options: list[str], records_read: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _use(monkeypatch)

    assert main(["batch", "status", BATCH_ID, "--json", *options]) == ExitCode.OK

    shown = json.loads(capsys.readouterr().out)
    assert ("/records" in ingest.paths()) is records_read
    assert shown == ({"batch": BATCH, "records": [RECORD]} if records_read else BATCH)
