"""Files `lrs` writes (`batch status --csv`, `reports … --csv`, `plr credential --output`): a download cut short
leaves the file that was there and is said as a broken connection, not an unreachable service; what is written is
0600 (learners' data); `-` is standard output; a place that cannot be written is a usage error (exit status 2)
before the service is asked."""

from __future__ import annotations

import json
import stat
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
CSV = b"line,status,mis_identifier\r\n3,accepted,M1\r\n"
OLD = b"the outcome downloaded yesterday\n"


class _BrokenStream(httpx.SyncByteStream):
    """An answer that begins, then loses its connection."""

    def __iter__(self) -> Iterator[bytes]:
        yield CSV
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


@dataclass(frozen=True)
class _Services(Connection):
    """Every service answered by `answer`; the requests made are kept."""

    answer: Callable[[httpx.Request], httpx.Response] = field(default=lambda request: httpx.Response(500))
    asked: list[str] = field(default_factory=list)

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append(request.url.path)
            return self.answer(request)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


def _ingest(broken: bool) -> _Services:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/records.csv"):
            return httpx.Response(200, stream=_BrokenStream()) if broken else httpx.Response(200, content=CSV)
        return httpx.Response(200, json=BATCH)

    return _Services("lrs_test_key", answer=answer)


def _reporting(broken: bool) -> _Services:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_BrokenStream()) if broken else httpx.Response(200, content=CSV)

    return _Services("lrs_test_key", answer=answer)


def _use(monkeypatch: pytest.MonkeyPatch, services: _Services) -> _Services:
    for module in (batch_commands, report_commands, plr_commands):
        monkeypatch.setattr(module, "connection", lambda ctx: services)
    return services


def _left_beside(target: Path) -> list[str]:
    return sorted(path.name for path in target.parent.iterdir())


def test_a_batch_csv_cut_short_keeps_the_file_there_and_says_the_connection_broke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "outcome.csv"
    target.write_bytes(OLD)
    _use(monkeypatch, _ingest(broken=True))

    code = main(["batch", "status", BATCH_ID, "--csv", str(target)])

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert target.read_bytes() == OLD
    assert _left_beside(target) == ["outcome.csv"]  # no temporary file left behind
    assert f"the connection broke after {len(CSV)} bytes" in err and f"{target} was not written" in err
    assert "cannot reach" not in err


def test_a_report_csv_cut_short_keeps_the_file_there_and_says_the_connection_broke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "march.csv"
    target.write_bytes(OLD)
    _use(monkeypatch, _reporting(broken=True))

    code = main(["reports", "submissions", "--period", "2025-03", "--csv", str(target)])

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert target.read_bytes() == OLD
    assert _left_beside(target) == ["march.csv"]
    assert f"the connection broke after {len(CSV)} bytes" in err and "cannot reach" not in err


@pytest.mark.parametrize(
    ("services", "command"),
    [
        (_ingest(broken=False), ["batch", "status", BATCH_ID, "--csv"]),
        (_reporting(broken=False), ["reports", "submissions", "--period", "2025-03", "--csv"]),
    ],
)
def test_a_csv_downloaded_whole_replaces_the_file_and_only_its_owner_may_read_it(
    services: _Services, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "outcome.csv"
    target.write_bytes(OLD)
    target.chmod(0o644)
    _use(monkeypatch, services)

    assert main([*command, str(target)]) == ExitCode.OK
    assert target.read_bytes() == CSV
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _left_beside(target) == ["outcome.csv"]


def test_a_credential_written_to_a_file_only_its_owner_may_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = {"credential": "eyJ.x.y", "achievements": 2, "jwks_uri": "http://plr/.well-known/jwks.json"}
    _use(monkeypatch, _Services("lrs_test_key", answer=lambda request: httpx.Response(200, json=credential)))
    target = tmp_path / "cred.json"

    assert main(["plr", "credential", "1000000043", "--output", str(target)]) == ExitCode.OK
    assert json.loads(target.read_text()) == credential
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_report_csv_to_dash_goes_to_standard_output_not_a_file_named_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.chdir(tmp_path)
    _use(monkeypatch, _reporting(broken=False))

    assert main(["reports", "submissions", "--period", "2025-03", "--csv", "-"]) == ExitCode.OK
    assert capsysbinary.readouterr().out == CSV
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    ("services", "command"),
    [
        (_ingest(broken=False), ["batch", "status", BATCH_ID, "--csv", "nodir/x.csv"]),
        (_reporting(broken=False), ["reports", "submissions", "--period", "2025-03", "--csv", "nodir/x.csv"]),
        (_reporting(broken=False), ["plr", "credential", "1000000043", "--output", "nodir/cred.json"]),
    ],
)
def test_a_file_in_a_folder_that_is_not_there_is_a_usage_error_before_the_service_is_asked(
    services: _Services,
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    used = _use(monkeypatch, services)
    used.asked.clear()

    assert main(command) == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert used.asked == [] and out == ""
    assert "nodir/" in err and "cannot be written" in err
