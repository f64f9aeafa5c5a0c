"""`lrs batch status ID --csv FILE` of a batch not decided yet writes nothing (an earlier file of that name is kept)
and says there are no results to write, exit status 3 as the batch's status says; ingest is not asked for a results
file it would answer 409 BATCH_NOT_DECIDED. A decided batch's results are written as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
HEAD = b"\xef\xbb\xbfLine,MISIdentifier,Action,ULN,Status,Codes,Messages,PLRChanged\r\n"
ROW = b"4,M4,Create,******0043,accepted,,,Y\r\n"
EARLIER = b"the results of another batch, kept\n"


@dataclass(frozen=True)
class _Ingest(Connection):
    """Ingest with one batch in `status`; each path asked is kept."""

    status: str = "queued"
    asked: list[str] = field(default_factory=list)

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append(request.url.path)
            if request.url.path.endswith("/records.csv"):
                if self.status in batch_commands.FINAL_STATES:
                    return httpx.Response(200, content=HEAD + ROW)
                return httpx.Response(
                    409,
                    json={"title": "The batch is not decided yet", "code": "BATCH_NOT_DECIDED", "status": 409},
                    headers={"Content-Type": "application/problem+json"},
                )
            return httpx.Response(
                200, json={"batch_id": BATCH_ID, "status": self.status, "format": "csv", "counts": {"total": 1}}
            )

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


def _use(monkeypatch: pytest.MonkeyPatch, status: str) -> _Ingest:
    ingest = _Ingest("lrs_test_key", status=status)
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    return ingest


@pytest.mark.parametrize("status", ["received", "accepted", "queued", "validating"])
def test_an_undecided_batch_writes_no_file_and_says_so(
    status: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _use(monkeypatch, status)
    target = tmp_path / "results.csv"

    code = main(["batch", "status", BATCH_ID, "--csv", str(target)])

    err = capsys.readouterr().err
    assert code == ExitCode.NOT_FINAL
    assert not target.exists()
    assert f"not decided yet: no results to write to {target}" in err
    assert "wrote" not in err
    assert not any(path.endswith("/records.csv") for path in ingest.asked)


def test_an_earlier_file_of_that_name_is_left_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, "validating")
    target = tmp_path / "results.csv"
    target.write_bytes(EARLIER)

    assert main(["batch", "status", BATCH_ID, "--csv", str(target)]) == ExitCode.NOT_FINAL

    assert target.read_bytes() == EARLIER


def test_an_undecided_batch_writes_nothing_to_standard_output(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    _use(monkeypatch, "queued")

    code = main(["batch", "status", BATCH_ID, "--csv", "-"])

    out, err = capsysbinary.readouterr()
    assert code == ExitCode.NOT_FINAL
    assert out == b""
    assert f"batch {BATCH_ID} is queued, not decided yet: no results to write".encode() in err


@pytest.mark.parametrize(("status", "exit_code"), [("completed", ExitCode.OK), ("failed", 1), ("refused", 1)])
def test_a_decided_batch_writes_its_results(
    status: str, exit_code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, status)
    target = tmp_path / "results.csv"

    assert main(["batch", "status", BATCH_ID, "--csv", str(target)]) == exit_code

    assert target.read_bytes() == HEAD + ROW
    assert f"wrote every record's result to {target}" in capsys.readouterr().err
