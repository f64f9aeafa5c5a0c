"""`lrs batch list` reads the list a page at a time after the last batch it read (ingest's `next`), not by page
number: a batch received while it reads neither repeats one nor pushes one out. `--all` reads every page; when
more follow, the last line on stderr says how to go on (`--after`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main


class ArrivingBatches:
    """Ingest's batch list, newest first, paged by position; a new batch arrives after every page it answers.
    Asked for a numbered page, it answers as ingest does: the list as it stands now, so that page shifts."""

    def __init__(self, batches: int) -> None:
        self.batches = [self._batch(number) for number in range(batches)][::-1]
        self.asked: list[dict[str, str]] = []

    @staticmethod
    def _batch(number: int) -> dict[str, Any]:
        return {
            "batch_id": f"batch-{number:04d}",
            "received_at": f"2026-12-01T09:{number // 60:02d}:{number % 60:02d}Z",
        }

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        asked = dict(request.url.params)
        self.asked.append(asked)
        size = int(asked["page_size"])
        ids = [batch["batch_id"] for batch in self.batches]
        start = ids.index(asked["after"]) + 1 if "after" in asked else (int(asked.get("page", 1)) - 1) * size
        page = self.batches[start : start + size]
        more = start + size < len(self.batches)
        answer = {"items": page, "page": None, "page_size": size, "total": len(self.batches)}
        answer["next"] = page[-1]["batch_id"] if more else None
        self.batches.insert(0, self._batch(len(self.batches) + 1000))
        return httpx.Response(200, json=answer)


def _list(ingest: ArrivingBatches, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)
    return main(["batch", "list", "--json", *args])


def test_every_batch_is_listed_once_while_batches_arrive(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = ArrivingBatches(450)
    there = [batch["batch_id"] for batch in ingest.batches]

    assert _list(ingest, "--all", monkeypatch=monkeypatch) == ExitCode.OK

    listed = [batch["batch_id"] for batch in json.loads(capsys.readouterr().out)]
    assert listed == there
    assert [asked.get("after") for asked in ingest.asked] == [None, there[199], there[399]]
    assert all("page" not in asked for asked in ingest.asked)


def test_a_limit_reads_only_what_it_shows_and_says_how_to_go_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = ArrivingBatches(450)
    there = [batch["batch_id"] for batch in ingest.batches]

    assert _list(ingest, "--limit", "250", monkeypatch=monkeypatch) == ExitCode.OK
    shown = capsys.readouterr()
    assert [batch["batch_id"] for batch in json.loads(shown.out)] == there[:250]
    assert [asked["page_size"] for asked in ingest.asked] == ["200", "50"]
    assert shown.err.splitlines() == [
        "lrs: the newest 250 of 451 batches: --all or a larger --limit shows more",
        f"more: the same command with --after {there[249]}",
    ]

    assert _list(ingest, "--limit", "250", "--after", there[249], monkeypatch=monkeypatch) == ExitCode.OK
    went_on = capsys.readouterr()
    assert [batch["batch_id"] for batch in json.loads(went_on.out)] == there[250:]
    assert "more:" not in went_on.err
