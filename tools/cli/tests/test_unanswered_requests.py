"""A service that was reached but did not answer in time (a read timeout: a table locked, its connections all in
use) is not said to be out of reach: the user is told it may be busy, and after a submission whether to send the
file again. A connection that was never made still says the service cannot be reached. Both exit 4."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands, plr_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main


class _SilentService:
    """Every request fails as `failure` does, after the connection or before it."""

    sandpit = False

    def __init__(self, failure: type[httpx.TransportError]) -> None:
        self.failure = failure

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://{service.replace('_', '-')}:8000",
            transport=httpx.MockTransport(self._fail),
            timeout=timeout,
        )

    def _fail(self, request: httpx.Request) -> httpx.Response:
        request.read()
        raise self.failure("timed out", request=request)


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.csv"
    path.write_bytes(b"ULN,GivenName\r\n1000000043,Lily\r\n")
    return path


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")


def _run(failure: type[httpx.TransportError], argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    service = _SilentService(failure)
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: service)
    monkeypatch.setattr(plr_commands, "connection", lambda ctx: service)
    return main(argv)


def test_a_submission_unanswered_in_time_says_it_may_have_been_kept_and_how_to_check(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(httpx.ReadTimeout, ["batch", "submit", str(batch_file)], monkeypatch)

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert err == (
        "lrs: http://ingest:8000 did not answer within 60 s: it may be busy or waiting on its database. Whether it"
        " kept the batch is unknown: `lrs batch list` shows it if it did, and submitting the same file again is"
        " safe: ingest answers a file it has with that first batch\n"
    )


def test_a_submission_with_an_idempotency_key_is_to_be_sent_again_with_that_key(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["batch", "submit", "--idempotency-key", "march-results", str(batch_file)]
    code = _run(httpx.ReadTimeout, argv, monkeypatch)

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert err.endswith(
        "`lrs batch list` shows it if it did, and submitting it again with the same --idempotency-key is safe\n"
    )


def test_a_submission_whose_upload_stalls_says_so(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(httpx.WriteTimeout, ["batch", "submit", str(batch_file)], monkeypatch)

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("lrs: http://ingest:8000 took no more of the request within 60 s: it may be busy")
    assert "`lrs batch list` shows it if it did" in err


def test_a_read_unanswered_in_time_says_the_service_may_be_busy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(httpx.ReadTimeout, ["plr", "show", "1000000043"], monkeypatch)

    assert code == ExitCode.UNREACHABLE
    assert capsys.readouterr().err == (
        "lrs: http://plr-projector:8000 did not answer within 60 s: it may be busy or waiting on its database; try"
        " again later\n"
    )


@pytest.mark.parametrize("argv", [["batch", "submit", "BATCH_FILE"], ["plr", "show", "1000000043"]])
def test_a_connection_never_made_still_says_the_service_cannot_be_reached(
    argv: list[str], batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(batch_file) if each == "BATCH_FILE" else each for each in argv]
    code = _run(httpx.ConnectTimeout, argv, monkeypatch)

    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("lrs: cannot reach http://")
    assert err.endswith(" (timed out): is it running, and is its LRS_<SERVICE>_URL right?\n")
