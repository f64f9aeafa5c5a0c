"""Ctrl-C while `lrs batch submit` sends the file: what was already written may still reach ingest whole, which then
decides the batch and emails the AO. The user is told so, and how to look before sending it again; exit 130 still."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.main import main

INTERRUPTED = 130


class _InterruptedUpload:
    """The user presses Ctrl-C once the first bytes of the file are on their way."""

    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest:8000", transport=httpx.MockTransport(self._interrupt))

    def _interrupt(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        for _ in request.stream:
            raise KeyboardInterrupt
        raise AssertionError("the file was sent with no bytes")


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.csv"
    path.write_bytes(b"ULN,GivenName\r\n1000000043,Lily\r\n")
    return path


@pytest.mark.parametrize(
    ("options", "resend"),
    [
        ([], "submitting the same file again is safe: ingest answers a file it has with that first batch"),
        (["--idempotency-key", "march-results"], "submitting it again with the same --idempotency-key is safe"),
    ],
    ids=["plain", "idempotency-key"],
)
def test_an_upload_interrupted_says_the_batch_may_still_arrive_and_how_to_look(
    options: list[str],
    resend: str,
    batch_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _InterruptedUpload())

    assert main(["batch", "submit", *options, str(batch_file)]) == INTERRUPTED

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "lrs: sending results.csv was interrupted, but the LRS may still have received all of it. Whether it kept the"
        f" batch is unknown: `lrs batch list` shows it if it did, and {resend}\n"
    )
