"""A Sandpit reset waiting behind a batch that Sandpit maintenance holds: its page says it waits for the maintenance
to end, at once, rather than "Every Sandpit service is emptying …" after the whole wait."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import keeping_sandpit_keys, stubbed_portal

from portal.backend import Services

RESET_ID = "8b0f6c1e-2d1a-4c55-9d6e-3f1f0a1b2c3d"
PENDING = {"reset_id": RESET_ID, "ao_id": "RN9093", "status": "pending"}
PAUSED = {
    "reason": "walk sandpit pause",
    "until": None,
    "paused": True,
    "message": "will be applied when the Sandpit resumes after an unplanned pause",
}


def _reset_page(monkeypatch: pytest.MonkeyPatch, answers: list[dict[str, Any]]) -> tuple[str, int, float]:
    """The page after `?wait=20`, the number of reset reads it made, and how long it took; the Sandpit's ingest
    answers `answers` in turn (the last one from then on)."""
    portal = stubbed_portal()
    sandpit = Services(
        {"ingest": "http://sandpit-ingest"}, httpx.AsyncClient(transport=httpx.MockTransport(portal.answer))
    )
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, sandpit=sandpit)
    keeping_sandpit_keys(portal, monkeypatch)
    reads = iter(answers)
    last: list[dict[str, Any]] = [answers[0]]

    def answer(_: httpx.Request) -> httpx.Response:
        last[0] = next(reads, last[0])
        return httpx.Response(200, json=last[0])

    portal.on("GET", f"sandpit-ingest/v1/sandpit/resets/{RESET_ID}", answer)
    client, _ = portal.signed_in()
    started = time.monotonic()
    shown = client.get(f"/sandpit/resets/{RESET_ID}?wait=20")
    assert shown.status_code == 200
    return (
        shown.text,
        len(portal.sent_to("GET", f"sandpit-ingest/v1/sandpit/resets/{RESET_ID}")),
        time.monotonic() - started,
    )


def test_a_reset_held_by_a_pause_says_it_waits_for_the_maintenance_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    page, reads, took = _reset_page(monkeypatch, [PENDING | {"maintenance": PAUSED}])

    assert reads == 1 and took < 10
    assert "waiting for the Sandpit's maintenance (walk sandpit pause) to end" in page
    assert "a batch RN9093 sent before it, which the maintenance holds" in page
    assert "will be applied when the Sandpit resumes after an unplanned pause" in page
    assert "is emptying" not in page
    assert f"/sandpit/resets/{RESET_ID}?wait=20" in page  # Check again


def test_a_reset_held_by_a_window_ending_within_the_wait_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    window = {"reason": "upgrade", "until": soon, "paused": False, "message": f"will be applied after {soon}"}
    completed = {**PENDING, "status": "completed"}

    page, reads, _ = _reset_page(monkeypatch, [PENDING | {"maintenance": window}, completed])

    assert reads == 2
    assert "Your Sandpit is empty" in page
