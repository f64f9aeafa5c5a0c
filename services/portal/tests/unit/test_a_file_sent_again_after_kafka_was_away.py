"""A Submit while Kafka was away, then the page's own advice followed (review 2 of session 61, findings 1 and 8d). The
batch's page says to upload the same file again and submit it: ingest then answers a replay of the batch it stored,
and queues it now. That submit is what queued the batch, so the page after it says so and follows the batch as one
just submitted: not "You sent this file before, so nothing new was submitted" with a button that makes a second
batch of the same file. A file really sent and queued before is still said to be sent before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch
from services.portal.tests.unit.test_pages_refuse_bad_input import SAMPLE, upload

from portal.auth import utc_now

STORED = str(uuid.uuid4())


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


class Ingest:
    """Ingest with one stored batch of the sample file: Kafka away (503 naming it, the batch left `received`), then
    back (the same file sent again is a replay of that batch, which it queues then: `accepted_at`)."""

    def __init__(self, portal: StubbedPortal, *, received_at: datetime | None = None) -> None:
        self.kafka_away = True
        self.received_at = received_at
        self.accepted_at = received_at
        portal.on("POST", "ingest/v1/batches", self.submitted)
        portal.on("GET", f"ingest/v1/batches/{STORED}", self.view)
        portal.on("GET", f"ingest/v1/batches/{STORED}/records", lambda _: httpx.Response(200, json=_no_records()))

    def submitted(self, request: httpx.Request) -> httpx.Response:
        if self.received_at is None:
            self.received_at = utc_now()
        if self.kafka_away:
            problem = {
                "type": "about:blank",
                "title": "The batch could not be queued",
                "status": 503,
                "detail": "Kafka did not take the batch, so nothing of it was accepted. Send it again later.",
                "instance": f"/v1/batches/{STORED}",
            }
            return httpx.Response(503, json=problem, headers={"Retry-After": "5"})
        if self.accepted_at is None:
            self.accepted_at = utc_now()
        return httpx.Response(202, json={"batch_id": STORED}, headers={"Idempotent-Replay": "true"})

    def view(self, _: httpx.Request) -> httpx.Response:
        assert self.received_at is not None
        queued = self.accepted_at is not None
        shown = batch(
            batch_id=STORED,
            status="accepted" if queued else "received",
            received_at=self.received_at.isoformat(),
            accepted_at=self.accepted_at.isoformat() if self.accepted_at else None,
            decided_at=None,
            failure_reason=None,
        )
        return httpx.Response(200, json=shown)


def _no_records() -> dict[str, Any]:
    return {"records": [], "total": 0}


def _checked(portal: StubbedPortal, client: Any, person: Any) -> dict[str, str]:
    """The sample file uploaded and checked: the upload the portal kept for it."""
    before = set(portal.uploads.kept)
    body, content_type = upload(form(person), "sample.csv", "text/csv", SAMPLE)
    client.post("/batches/check", content=body, headers={"Content-Type": content_type})
    (upload_id,) = set(portal.uploads.kept) - before
    return {"upload_id": str(upload_id), "upload_key": "key"}


def test_the_same_file_uploaded_again_as_the_not_queued_page_says_is_said_to_be_queued_now(
    portal: StubbedPortal,
) -> None:
    ingest = Ingest(portal)
    client, person = portal.signed_in()

    first = client.post("/batches/submit", data=form(person, **_checked(portal, client, person)))
    not_queued = client.get(first.headers["location"])
    ingest.kafka_away = False
    again = _checked(portal, client, person)  # "Upload the same file again and submit it"
    sent = client.post("/batches/submit", data=form(person, **again))
    shown = client.get(sent.headers["location"])
    reloaded = client.get(sent.headers["location"])

    assert first.headers["location"] == f"/batches/{STORED}?not_queued=1"
    assert 'href="/batches/new">Upload the same file again</a>' in not_queued.text
    assert sent.status_code == 303 and sent.headers["location"] == f"/batches/{STORED}?wait=10"  # followed
    assert shown.status_code == 200
    assert "data-sent-before" not in shown.text and "Send it again as a new batch" not in shown.text
    assert "data-queued-now" in shown.text
    said = " ".join(shown.text.split())
    assert "Your file (sample.csv) is queued now, as this batch." in said
    assert "could not queue it then" in said and "no second batch was made" in said
    assert 'data-decided="false"' in shown.text  # followed until it is decided
    assert "data-queued-now" not in reloaded.text  # said once
    assert uuid.UUID(again["upload_id"]) not in portal.uploads.kept  # sent: Back and Submit go to this batch
    assert portal.uploads.made[uuid.UUID(again["upload_id"])] == uuid.UUID(STORED)


def test_a_file_sent_and_queued_before_its_upload_is_still_said_to_be_sent_before(portal: StubbedPortal) -> None:
    ingest = Ingest(portal, received_at=datetime.now(UTC) - timedelta(days=3))
    ingest.kafka_away = False
    client, person = portal.signed_in()
    kept = _checked(portal, client, person)

    sent = client.post("/batches/submit", data=form(person, **kept))
    shown = client.get(sent.headers["location"])

    assert sent.status_code == 303 and sent.headers["location"] == f"/batches/{STORED}"
    assert "You sent this file (sample.csv) before, so nothing new was submitted" in shown.text
    assert "Send it again as a new batch" in shown.text and "data-queued-now" not in shown.text
    assert uuid.UUID(kept["upload_id"]) in portal.uploads.kept  # kept for "Send it again as a new batch"


@pytest.mark.parametrize("asked", ["yes", "true", "10", ""])
def test_a_not_queued_other_than_1_is_the_batch_page_as_if_it_were_not_asked(portal: StubbedPortal, asked: str) -> None:
    Ingest(portal, received_at=datetime.now(UTC) - timedelta(seconds=5)).accepted_at = None
    client, _ = portal.signed_in()

    shown = client.get(f"/batches/{STORED}", params={"not_queued": asked})

    assert shown.status_code == 200, shown.text
    assert "Page not found" not in shown.text and "data-not-published" not in shown.text
    assert 'data-decided="false"' in shown.text
