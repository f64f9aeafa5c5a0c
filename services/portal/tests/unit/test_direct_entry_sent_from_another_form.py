"""A direct entry sent, then the browser's Back and Send again: Back draws a new form (a new entry id, so a new key for
ingest), which the browser fills in again as it was, so ingest would make a second batch of the same entry, and the
AO's address would get a second email. As an upload of the same file is, the same entry sent lately from another form
is said to have been sent already, as which batch, and nothing is sent; "Send it again as a new batch" sends it on
purpose. A changed entry, one sent long ago, the same form's own second click (ingest answers it with its batch), and
an entry whose batch recorded nothing are sent as before; so is every entry while ingest cannot list the batches."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

ENTRY = {
    "action": "Create",
    "job_type": "Final",
    "uln": "1000000043",
    "given_name": "Lily",
    "family_name": "McCarthy",
    "qualification_number": "500/0002/0",
    "award_date": "2021-06-30",
    "grade": "Distinction",
    "notification_email": "results@ao.example",
}


class Ingest:
    """Ingest's submissions and listing as far as a direct entry goes: a key's first file makes a batch (received
    now), the same key again is answered with it; the listing is the AO's batches, newest first."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []

    def submit(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        made = next((batch for batch in self.batches if batch["idempotency_key"] == key), None)
        if made is not None:
            return httpx.Response(202, json={"batch_id": made["batch_id"]}, headers={"Idempotent-Replay": "true"})
        made = {
            "batch_id": str(uuid.uuid4()),
            "status": "accepted",
            "format": "json",
            "batch_reference": f"PORTAL-{key.removeprefix('portal-entry-')[:8].upper()}",
            "idempotency_key": key,
            "content_sha256": hashlib.sha256(request.content).hexdigest(),
            "received_at": datetime.now(UTC).isoformat(),
            "counts": {"total": 1},
        }
        self.batches.append(made)
        return httpx.Response(202, json={"batch_id": made["batch_id"], "status": "accepted"})

    def listing(self, request: httpx.Request) -> httpx.Response:
        upload = {  # an uploaded file's batch: never taken for a direct entry
            "batch_id": str(uuid.uuid4()),
            "status": "completed",
            "format": "csv",
            "batch_reference": "SUMMER-2026",
            "idempotency_key": None,
            "content_sha256": "0" * 64,
            "received_at": datetime.now(UTC).isoformat(),
            "counts": {"total": 100},
        }
        items = [*reversed(self.batches), upload]
        return httpx.Response(200, json={"items": items, "total": len(items), "page": 1, "page_size": 50})


def with_ingest(ingest: Ingest) -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("POST", "ingest/v1/batches", ingest.submit)
    portal.on("GET", "ingest/v1/batches", ingest.listing)
    return portal


def entry_id_of(page: str) -> str:
    found = re.search(r'name="entry_id" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def text_of(page: str) -> str:
    return re.sub(r" ([,.])", r"\1", html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))))


def test_the_same_entry_sent_again_from_a_new_form_is_said_to_be_sent_and_can_be_sent_again_on_purpose() -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    first = client.post(
        "/direct-entry", data=form(person, **ENTRY, entry_id=entry_id_of(client.get("/direct-entry").text))
    )
    (made,) = ingest.batches
    back = entry_id_of(client.get("/direct-entry").text)  # Back: a new form, filled in again by the browser

    again = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=back))

    assert first.status_code == 303
    assert again.status_code == 409
    assert len(ingest.batches) == 1  # nothing sent
    page = again.text
    assert "data-sent-already" in page and "data-sent-before" not in page
    assert f'href="/batches/{made["batch_id"]}">{made["batch_reference"]}</a>, received ' in page
    said = text_of(page)
    assert f"You sent this same entry before, as batch {made['batch_reference']}, received " in said
    assert "(UK time), so nothing new was sent." in said
    assert "Look at that batch first: it may have recorded the achievement already." in said
    assert 'class="govuk-error-summary"' not in page
    assert entry_id_of(page) == back  # the same form: a second click on its "Send it again" sends once
    button = re.search(r'<button type="submit" form="direct-entry-form" name="again" value="yes"[^>]*>([^<]+)<', page)
    assert button is not None and button.group(1) == "Send it again as a new batch"
    assert 'id="direct-entry-form"' in page
    assert 'value="Distinction"' in page and 'value="Lily"' in page

    on_purpose = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=back, again="yes"))

    assert on_purpose.status_code == 303
    assert len(ingest.batches) == 2
    assert ingest.batches[1]["idempotency_key"] == f"portal-entry-{back}"
    assert on_purpose.headers["location"] == f"/batches/{ingest.batches[1]['batch_id']}?wait=10"


def test_a_changed_entry_from_a_new_form_is_sent() -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    changed = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=str(uuid.uuid4())))

    assert changed.status_code == 303
    assert len(ingest.batches) == 2


def test_the_same_forms_second_click_goes_to_its_batch() -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    second = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert second.status_code == 303
    assert second.headers["location"] == f"/batches/{ingest.batches[0]['batch_id']}?wait=10"
    assert len(ingest.batches) == 1


@pytest.mark.parametrize(
    "earlier",
    [
        {"received_at": (datetime.now(UTC) - timedelta(minutes=16)).isoformat()},
        {"status": "refused"},
        {"status": "failed"},
        {"status": "abandoned"},
    ],
    ids=["long-ago", "refused", "failed", "abandoned"],
)
def test_the_same_entry_is_sent_when_its_batch_is_old_or_recorded_nothing(earlier: dict[str, str]) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))
    ingest.batches[0].update(earlier)

    again = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    assert again.status_code == 303
    assert len(ingest.batches) == 2


@pytest.mark.parametrize("status", [422, 503])
def test_the_entry_is_sent_when_the_batches_cannot_be_listed(status: int) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(status, json={"title": "No", "detail": "no"}))
    client, person = portal.signed_in()
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    again = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    assert again.status_code == 303
    assert len(ingest.batches) == 2
