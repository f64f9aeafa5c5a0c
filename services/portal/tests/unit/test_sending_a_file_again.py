"""The portal keeps ingest's rule that the same file sent again makes no second batch (README): the AO is
told, shown the earlier batch, and can send it as a new batch on purpose."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch
from services.portal.tests.unit.test_pages_refuse_bad_input import SAMPLE, upload

EARLIER = str(uuid.uuid4())


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _ingest_answers(portal: StubbedPortal, received_at: datetime) -> None:
    """Ingest as it answers a file it has: the earlier batch, marked a replay, unless a new key asks for one."""
    new = str(uuid.uuid4())

    def submitted(request: httpx.Request) -> httpx.Response:
        if "idempotency-key" in request.headers:
            return httpx.Response(202, json={"batch_id": new})
        return httpx.Response(202, json={"batch_id": EARLIER}, headers={"Idempotent-Replay": "true"})

    shown = batch(batch_id=EARLIER, status="completed", received_at=received_at.isoformat())
    portal.on("POST", "ingest/v1/batches", submitted)
    portal.on("GET", f"ingest/v1/batches/{EARLIER}", lambda _: httpx.Response(200, json=shown))
    portal.on("GET", f"ingest/v1/batches/{EARLIER}/records", lambda _: httpx.Response(200, json=_no_records()))


def _no_records() -> dict[str, Any]:
    return {"records": [], "total": 0}


def _checked(portal: StubbedPortal) -> tuple[Any, Any, dict[str, str]]:
    client, person = portal.signed_in()
    body, content_type = upload(form(person), "sample.csv", "text/csv", SAMPLE)
    client.post("/batches/check", content=body, headers={"Content-Type": content_type})
    ((upload_id, _),) = portal.uploads.kept.items()
    return client, person, {"upload_id": str(upload_id), "upload_key": "key"}


def test_a_file_sent_before_shows_its_batch_once_and_can_be_sent_again_as_a_new_one(portal: StubbedPortal) -> None:
    _ingest_answers(portal, datetime.now(UTC) - timedelta(days=3))
    client, person, kept = _checked(portal)

    answer = client.post("/batches/submit", data=form(person, **kept))
    shown = client.get(answer.headers["location"])
    reloaded = client.get(answer.headers["location"])
    again = client.post("/batches/submit", data=form(person, **kept, again="yes"))

    assert answer.status_code == 303 and answer.headers["location"] == f"/batches/{EARLIER}"
    assert "idempotency-key" not in portal.sent_to("POST", "ingest/v1/batches")[0].headers
    assert "You sent this file (sample.csv) before, so nothing new was submitted" in shown.text
    assert 'name="again" value="yes"' in shown.text and "Send it again as a new batch" in shown.text
    assert "data-sent-before" not in reloaded.text
    assert again.status_code == 303 and again.headers["location"].endswith("?wait=10")
    assert again.headers["location"] != f"/batches/{EARLIER}?wait=10"
    assert portal.sent_to("POST", "ingest/v1/batches")[1].headers["idempotency-key"] == f"portal-{kept['upload_id']}"
    assert portal.uploads.kept == {}  # sent: forgotten


def test_a_second_click_on_the_same_upload_is_its_own_batch_not_a_file_sent_before(portal: StubbedPortal) -> None:
    _ingest_answers(
        portal, datetime.now(UTC) + timedelta(minutes=5)
    )  # made by this upload's first click (after its check)
    client, person, kept = _checked(portal)

    answer = client.post("/batches/submit", data=form(person, **kept))

    assert answer.status_code == 303 and answer.headers["location"] == f"/batches/{EARLIER}?wait=10"


def test_submit_pressed_again_after_the_batch_was_made_goes_to_that_batch(portal: StubbedPortal) -> None:
    """Back, then Submit (or a second click without JavaScript): the upload's file is gone, its batch is not."""
    made = str(uuid.uuid4())
    client, person, kept = _checked(portal)
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": made}))

    first = client.post("/batches/submit", data=form(person, **kept))
    second = client.post("/batches/submit", data=form(person, **kept))

    assert first.headers["location"] == f"/batches/{made}?wait=10"
    assert (second.status_code, second.headers["location"]) == (303, f"/batches/{made}")
    assert len(portal.sent_to("POST", "ingest/v1/batches")) == 1  # nothing sent twice
    assert portal.uploads.kept == {}


def test_a_batch_maintenance_holds_shows_its_page_at_once(portal: StubbedPortal) -> None:
    """Not after a 10-second wait for a decision the window puts off for hours."""
    made = str(uuid.uuid4())
    held = {"reason": "database upgrade", "until": "2026-07-01T12:00:00Z", "paused": False, "message": "later"}
    client, person, kept = _checked(portal)
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": made, "maintenance": held}))

    answer = client.post("/batches/submit", data=form(person, **kept))

    assert (answer.status_code, answer.headers["location"]) == (303, f"/batches/{made}")


def test_a_file_ingest_cannot_take_yet_is_kept_with_its_submit_button(portal: StubbedPortal) -> None:
    """Decision 0171: too many of the AO's records wait for their decision; the checked file waits in the portal."""
    busy = {
        "title": "Too many records waiting",
        "status": 429,
        "code": "TOO_MANY_RECORDS_WAITING",
        "records_waiting": 104_000,
        "limit": 100_000,
        "retry_after": 30,
    }
    accepted = {"batch_id": EARLIER}
    answers = [httpx.Response(429, json=busy, headers={"Retry-After": "30"}), httpx.Response(202, json=accepted)]
    portal.on("POST", "ingest/v1/batches", lambda _: answers.pop(0))
    client, person, kept = _checked(portal)

    waiting = client.post("/batches/submit", data=form(person, **kept))
    sent = client.post("/batches/submit", data=form(person, **kept))

    said = " ".join(waiting.text.split())
    assert waiting.status_code == 429
    assert "sample.csv is not submitted yet" in said and "104,000 records of your organisation" in said
    assert "submit it again in 30 seconds or later" in said
    assert f'name="upload_id" value="{kept["upload_id"]}"' in waiting.text
    assert sent.status_code == 303 and sent.headers["location"] == f"/batches/{EARLIER}?wait=10"


def test_the_pages_request_id_goes_on_to_the_services_it_calls(portal: StubbedPortal) -> None:
    """One id through the portal's log and the service's: an on-call engineer follows a page to the batch."""
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json={"items": [], "total": 0}))
    client, _ = portal.signed_in()

    page = client.get("/batches", headers={"X-Request-Id": "oncall-portal-1"})

    assert page.headers["x-request-id"] == "oncall-portal-1"
    [called] = portal.sent_to("GET", "ingest/v1/batches")
    assert called.headers["x-request-id"] == "oncall-portal-1"
