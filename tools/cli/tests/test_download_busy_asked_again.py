"""A results download ingest refuses 429 (the caller's other downloads are being sent: its per-caller bound) is asked
again after the answer's Retry-After, as `lrs batch submit` asks again after a 429; once the patience is spent, the
refusal is said (exit 1). Before, `lrs batch status ID --csv FILE` failed at once, as a failed batch does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lrs_cli import downloads
from lrs_cli.client import CommandError

CSV = b"\xef\xbb\xbfLine,Status\r\n4,accepted\r\n"
BUSY = {"title": "Too many requests", "status": 429, "code": "TOO_MANY_REQUESTS", "detail": "3 downloads at once"}


def _ingest(busy_answers: int) -> tuple[httpx.Client, list[str]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if len(asked) <= busy_answers:
            return httpx.Response(
                429, json=BUSY, headers={"Retry-After": "5", "content-type": "application/problem+json"}
            )
        return httpx.Response(200, content=CSV)

    return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(answer)), asked


def test_a_busy_download_is_asked_again_after_its_retry_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[float] = []
    monkeypatch.setattr("lrs_cli.downloads.time.sleep", waited.append)
    client, asked = _ingest(busy_answers=2)

    written = downloads.download(client, "/v1/batches/b/records.csv", tmp_path / "records.csv")

    assert (written, (tmp_path / "records.csv").read_bytes()) == (len(CSV), CSV)
    assert waited == [5.0, 5.0] and len(asked) == 3


def test_a_download_still_busy_when_the_patience_is_spent_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "DOWNLOAD_PATIENCE_SECONDS", 4.0)  # less than one Retry-After
    monkeypatch.setattr("lrs_cli.downloads.time.sleep", lambda seconds: pytest.fail("nothing to wait for"))
    client, _ = _ingest(busy_answers=1)

    with pytest.raises(CommandError) as refused:
        downloads.download(client, "/v1/batches/b/records.csv", tmp_path / "records.csv")

    assert "3 downloads at once" in str(refused.value)
    assert not (tmp_path / "records.csv").exists()
