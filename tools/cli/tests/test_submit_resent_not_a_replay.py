"""Chaos walk, finding 2: Kafka away during `lrs batch submit`, ingest keeps the file as a batch `received` and
answers 503; the command sends the file again after `Retry-After`, and ingest answers that resend as a replay of the
batch the first try kept. That batch is the command's own, published now: it is said so (`published as batch … once
Kafka was back`), not "submitted before … not a new one", which made an AO look for someone else's earlier
submission. A replay on the first try is still said as one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.main import main

BATCH_ID = "640cac4c-d36c-426b-9a83-bc4c1329fdf7"
ACCEPTED = {"batch_id": BATCH_ID, "status": "accepted", "status_url": f"/v1/batches/{BATCH_ID}"}
KAFKA_AWAY = {
    "title": "The batch could not be queued",
    "status": 503,
    "detail": "Kafka did not take the batch, so nothing of it was accepted. Send it again later.",
    "instance": f"/v1/batches/{BATCH_ID}",
}
NAMES_NOTHING = {"title": "Service unavailable", "status": 503, "detail": "Send it again later."}


class _KeptThenReplayed:
    """Answers `problem` `busy` times, then names the batch the first try kept (`Idempotent-Replay: true`)."""

    sandpit = False

    def __init__(self, busy: int, problem: dict[str, Any] = KAFKA_AWAY) -> None:
        self.busy, self.problem, self.sent = busy, problem, 0

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent += 1
        if self.sent <= self.busy:
            return httpx.Response(self.problem["status"], json=self.problem, headers={"Retry-After": "5"})
        return httpx.Response(202, json=ACCEPTED, headers={"Idempotent-Replay": "true"})


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "RN9008-6.xml"
    path.write_bytes(b"<Batch/>")
    return path


def _submit(ingest: _KeptThenReplayed, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", lambda seconds: None)
    return main(["batch", "submit", *args])


def _last_line(err: str) -> str:
    return " ".join(err.strip().splitlines()[-1].split())


def test_the_resend_of_a_file_kafka_refused_is_said_published_not_submitted_before(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _KeptThenReplayed(busy=2)

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, out.strip(), ingest.sent) == (0, BATCH_ID, 3)
    assert "was sent before" not in err
    assert _last_line(err) == f"lrs: RN9008-6.xml was published as batch {BATCH_ID} once Kafka was back"


def test_a_resend_in_json_is_an_accepted_batch_not_a_replay(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_KeptThenReplayed(busy=1), str(batch_file), "--json", monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {**ACCEPTED, "replay": False}
    assert "published as batch" in err and "was sent before" not in err


def test_a_replay_after_a_503_that_kept_nothing_is_of_an_earlier_batch(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 503 that names no batch kept (PostgreSQL away, a 429) kept nothing of this command's: a replay then is of the
    file sent before, and is said so (review of the day, finding 2: it was said this command's own)."""
    code = _submit(_KeptThenReplayed(busy=1, problem=NAMES_NOTHING), str(batch_file), "--json", monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["replay"] is True
    assert "RN9008-6.xml was sent before, as batch" in " ".join(err.split())
    assert "published as batch" not in err


def test_a_replay_on_the_first_try_is_still_said_as_an_earlier_batch(
    batch_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _submit(_KeptThenReplayed(busy=0), str(batch_file), "--json", monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["replay"] is True
    assert "RN9008-6.xml was sent before, as batch" in " ".join(err.split())
    assert "published as batch" not in err
