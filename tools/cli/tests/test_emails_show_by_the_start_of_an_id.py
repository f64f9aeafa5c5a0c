"""`lrs emails show` takes the 8 characters of a batch email's subject when they name one batch, as `lrs batch
status` does (tracer walk, finding 4): it was a usage error, though the desk has nothing else from the AO."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_cli import output
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

BATCH_ID = "aa079236-1f2e-4c3d-9b8a-7f6e5d4c3b2a"
OTHER_ID = "aa079236-9999-4c3d-9b8a-7f6e5d4c3b2a"


def _batch(batch_id: str) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "ao_id": "RN9093",
        "status": "completed",
        "format": "csv",
        "counts": {"total": 4},
        "received_at": "2026-12-07T02:50:00Z",
    }


def _asked(monkeypatch: pytest.MonkeyPatch, *batches: dict[str, Any]) -> list[httpx.Request]:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.path == "/v1/batches":
            page = {"items": list(batches), "page": 1, "page_size": 20, "total": len(batches)}
            return httpx.Response(200, json=page)
        assert request.url.path == "/v1/deliveries"
        return httpx.Response(200, json=[])

    answered_by(monkeypatch, answer)
    monkeypatch.setattr(output, "UNLIMITED_WIDTH", 400)
    return asked


def test_the_start_of_an_id_that_names_one_batch_asks_the_notifier_of_that_batch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _asked(monkeypatch, _batch(BATCH_ID))

    assert main(["emails", "show", "aa079236"]) == ExitCode.OK

    assert [request.url.path for request in asked] == ["/v1/batches", "/v1/deliveries"]
    assert asked[0].url.params["id_prefix"] == "aa079236"
    assert dict(asked[1].url.params) == {"batch": BATCH_ID}
    assert f"lrs batch status {BATCH_ID}" in capsys.readouterr().out


def test_a_whole_id_is_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _asked(monkeypatch)

    assert main(["emails", "show", BATCH_ID]) == ExitCode.OK

    assert [request.url.path for request in asked] == ["/v1/deliveries"]


def test_the_start_of_an_id_that_names_several_lists_them_and_asks_for_more(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _asked(monkeypatch, _batch(BATCH_ID), _batch(OTHER_ID))

    assert main(["emails", "show", "aa079236"]) == ExitCode.USAGE

    said = capsys.readouterr()
    assert BATCH_ID in said.out and OTHER_ID in said.out
    assert "several batches (2) start with aa079236 (above): give more of the id" in said.err
    assert [request.url.path for request in asked] == ["/v1/batches"]
