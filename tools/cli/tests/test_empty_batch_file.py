"""An empty (0-byte) batch file: `lrs batch check` and `lrs batch submit` refuse it here (RS001, exit status 1) in
the portal's words, "FILE is empty (0 bytes): a batch file starts with its header", and nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.main import main

SAID = "lrs: RS001: {name} is empty (0 bytes): a batch file starts with its header"


class _Ingest:
    """Ingest as the CLI reaches it: what it was sent (nothing, here)."""

    sandpit = False

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest:8000", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(422, json={"code": "RS001", "detail": "the body is empty (0 bytes)"})


@pytest.mark.parametrize("name", ["empty.json", "empty.csv", "empty.xml", "empty.txt"])
def test_check_says_the_file_is_empty(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / name
    empty.write_bytes(b"")

    assert main(["batch", "check", str(empty)]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert " ".join(captured.err.split()) == SAID.format(name=name)


def test_check_json_says_it_as_ingest_s_rs001(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")

    assert main(["batch", "check", str(empty), "--json"]) == 1

    refusal = json.loads(capsys.readouterr().out)["refusal"]
    assert (refusal["code"], refusal["status"]) == ("RS001", 422)
    assert refusal["detail"] == "empty.json is empty (0 bytes): a batch file starts with its header"


@pytest.mark.parametrize("options", [[], ["--json"]], ids=["text", "json"])
def test_submit_refuses_it_before_anything_is_sent(
    options: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _Ingest()
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    assert main(["batch", "submit", *options, str(empty)]) == 1

    captured = capsys.readouterr()
    assert ingest.sent == []
    assert " ".join(captured.err.split()) == SAID.format(name="empty.csv")
    if options:
        printed = json.loads(captured.out)
        assert (printed["batch_id"], printed["status"], printed["refusal"]["code"]) == (None, "refused", "RS001")
    else:
        assert captured.out == ""
