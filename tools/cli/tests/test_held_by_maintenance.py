"""A batch maintenance holds past the wait is said to be held at once: `lrs batch submit --wait 20` sat out its 20
seconds, and `lrs plr show --after-batch` its 30, then failed saying nothing of maintenance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from lrs_cli import plr_commands
from lrs_cli.batch_commands import follow, held_past

BATCH_ID = "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80"


def _queued(until: datetime | None) -> dict[str, Any]:
    message = "will be processed after " + until.isoformat().replace("+00:00", "Z") if until else "when resumed"
    notice = {"reason": "database upgrade", "until": until and until.isoformat(), "paused": until is None}
    return {"batch_id": BATCH_ID, "status": "queued", "maintenance": notice | {"message": message}}


def test_held_past_the_wait_only_while_the_hold_outlasts_it() -> None:
    now = datetime.now(UTC)
    assert held_past(_queued(now + timedelta(hours=2)), 20)
    assert held_past(_queued(None), 20)  # an unplanned pause: until an operator resumes
    assert not held_past(_queued(now + timedelta(seconds=5)), 20)  # over within the wait: worth waiting for
    assert not held_past({"status": "queued", "maintenance": None}, 20)


class _Ingest:
    sandpit = False

    def __init__(self, batch: dict[str, Any]) -> None:
        self.batch, self.asked = batch, 0

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "ingest"
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        return httpx.Response(200, json=self.batch)


def test_a_wait_for_a_held_batch_ends_at_once() -> None:
    ingest = _Ingest(_queued(datetime.now(UTC) + timedelta(hours=2)))
    with ingest.client("ingest") as client:
        batch = follow(client, BATCH_ID, 20.0)
    assert (batch["status"], ingest.asked) == ("queued", 1)


def test_reading_the_plr_after_a_held_batch_says_it_is_held() -> None:
    ingest = _Ingest(_queued(datetime.now(UTC) + timedelta(hours=2)))
    why = plr_commands._not_on_the_plr_soon(ingest, BATCH_ID)  # type: ignore[arg-type]
    assert why is not None and why.held
    assert why.said.startswith("is held by maintenance (database upgrade): it will be processed after")
