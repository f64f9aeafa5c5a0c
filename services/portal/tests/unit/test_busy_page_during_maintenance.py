"""Report windows, finding 3: while a maintenance window or pause holds an AO's waiting batches, ingest's queue-limit
429 carries the hold's notice, and the "not submitted yet" page says the batches are held until the hold ends, not
that they share the queue and to submit again in 30 seconds (none is decided before the hold ends)."""

from __future__ import annotations

import httpx
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal
from services.portal.tests.unit.test_sending_a_file_again import _checked

BUSY = {
    "title": "Too many records waiting",
    "status": 429,
    "code": "TOO_MANY_RECORDS_WAITING",
    "records_waiting": 104_000,
    "limit": 100_000,
}


def _busy_page(problem: dict[str, object], retry_after: str) -> str:
    portal = stubbed_portal()
    portal.on(
        "POST", "ingest/v1/batches", lambda _: httpx.Response(429, json=problem, headers={"Retry-After": retry_after})
    )
    client, person, kept = _checked(portal)
    page = client.post("/batches/submit", data=form(person, **kept))
    assert page.status_code == 429
    assert f'name="upload_id" value="{kept["upload_id"]}"' in page.text  # the checked file is kept, to submit again
    return " ".join(page.text.split())


def test_a_window_holding_the_batches_is_said_with_its_end_in_uk_time() -> None:
    held = {
        "reason": "database upgrade",
        "until": "2026-07-01T12:00:00Z",
        "paused": False,
        "message": "will be processed after 2026-07-01T12:00:00Z",
    }
    said = _busy_page({**BUSY, "retry_after": 7200, "maintenance": held}, "7200")

    assert "104,000 records of your organisation" in said
    assert "They are held by maintenance (database upgrade) until 1 Jul 2026, 13:00 (UK time)" in said
    assert "none is decided before then" in said and "submit it again after that" in said
    assert "share the queue" not in said and "7200 seconds" not in said


def test_a_pause_holding_the_batches_is_said_without_an_end() -> None:
    held = {
        "reason": "broker incident",
        "until": None,
        "paused": True,
        "message": "will be processed when the LRS resumes after an unplanned pause",
    }
    said = _busy_page({**BUSY, "retry_after": 300, "maintenance": held}, "300")

    assert "They are held by maintenance (broker incident) until the service resumes" in said
    assert "share the queue" not in said and "submit it again after that" in said


def test_without_maintenance_the_batches_share_the_queue_as_before() -> None:
    said = _busy_page({**BUSY, "retry_after": 30}, "30")

    assert "share the queue with other awarding organisations" in said
    assert "submit it again in 30 seconds or later" in said and "held by maintenance" not in said


def test_at_the_batches_limit_the_page_counts_batches_not_records() -> None:
    """Ingest also bounds an AO's waiting batches, however few records each holds (decision 0171's later note)."""
    said = _busy_page(
        {**BUSY, "records_waiting": 12, "batches_waiting": 250, "batch_limit": 250, "retry_after": 30}, "30"
    )

    assert "250 of your organisation's batches are waiting for their decision" in said
    assert "once fewer than 250 wait, however few records each holds" in said
    assert "12 records" not in said
