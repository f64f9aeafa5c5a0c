"""A direct-entry form sent again with its content changed (sent, then Back, a corrected grade and Send): ingest
refuses the form's key, used for the first entry. The page says in plain words that the form was sent already, as
which batch, and draws the form again with what the person entered under a new entry id, so that the corrected entry
can be sent: never ingest's words about an Idempotency-Key, nor a form whose every Send fails again."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from lrs_contracts.codes import ProblemCode

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
    """Ingest's submissions as far as keys go: a key's first file makes a batch, the same file again is answered
    with that batch, another file under the key is refused as ingest refuses it (409)."""

    def __init__(self, listed: bool = True, publishing: bool = False) -> None:
        self.batches: list[dict[str, Any]] = []
        self.listed = listed  # whether the AO's newest batches hold those made here
        self.publishing = publishing  # the same file again is answered 409: another request is publishing it

    def submit(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        sha = hashlib.sha256(request.content).hexdigest()
        made = next((batch for batch in self.batches if batch["idempotency_key"] == key), None)
        if made is None:
            made = {
                "batch_id": str(uuid.uuid4()),
                "status": "accepted",
                "format": "json",
                "batch_reference": f"PORTAL-{key.removeprefix('portal-entry-')[:8].upper()}",
                "idempotency_key": key,
                "content_sha256": sha,
                "received_at": "2026-12-05T10:00:00Z",
                "counts": {"total": 1},
            }
            self.batches.append(made)
            return httpx.Response(202, json={"batch_id": made["batch_id"], "status": "accepted"})
        if made["content_sha256"] != sha:
            return httpx.Response(
                409,
                json={
                    "type": "about:blank",
                    "title": "Idempotency-Key already used for a different file",
                    "status": 409,
                    "detail": f"Idempotency-Key {key!r} was used for batch {made['batch_id']}, whose file differs from"
                    " this one. Use a new key for a new file.",
                    "instance": "/v1/batches",
                    "code": ProblemCode.CONFLICT.value,
                },
            )
        if self.publishing:
            return httpx.Response(
                409,
                json={
                    "title": "The same submission is being published right now",
                    "status": 409,
                    "detail": f"Batch {made['batch_id']} is being published by another request; ask again in a moment.",
                    "instance": "/v1/batches",
                    "code": ProblemCode.CONFLICT.value,
                },
                headers={"Retry-After": "1"},
            )
        return httpx.Response(202, json={"batch_id": made["batch_id"]}, headers={"Idempotent-Replay": "true"})

    def listing(self, request: httpx.Request) -> httpx.Response:
        others = [{"batch_id": str(uuid.uuid4()), "idempotency_key": None, "received_at": "2026-12-05T09:00:00Z"}]
        items = [*reversed(self.batches), *others] if self.listed else others
        return httpx.Response(200, json={"items": items, "total": len(items), "page": 1, "page_size": 200})


def entry_id_of(page: str) -> str:
    found = re.search(r'name="entry_id" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def value_of(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="text" value="([^"]*)"', page) or re.search(
        rf'name="{name}"[^>]* value="([^"]*)"', page
    )
    assert found is not None, name
    return html.unescape(found.group(1))


def with_ingest(ingest: Ingest) -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("POST", "ingest/v1/batches", ingest.submit)
    portal.on("GET", "ingest/v1/batches", ingest.listing)
    return portal


def test_a_form_sent_again_changed_says_it_was_sent_as_its_batch_and_can_then_send_the_correction() -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    entry_id = entry_id_of(client.get("/direct-entry").text)
    first = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    (made,) = ingest.batches

    again = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=entry_id))

    assert first.status_code == 303
    assert again.status_code == 409
    shown = again.text
    assert "data-sent-before" in shown
    assert "This form was already sent, as batch" in shown
    assert f'href="/batches/{made["batch_id"]}">{made["batch_reference"]}</a>' in shown
    assert "What you changed since was not sent." in shown
    assert "Idempotency-Key" not in shown and "Use a new key" not in shown
    assert 'class="govuk-error-summary"' not in shown
    assert value_of(shown, "grade") == "Merit"
    assert value_of(shown, "given_name") == "Lily"
    new_entry_id = entry_id_of(shown)
    assert new_entry_id != entry_id and str(uuid.UUID(new_entry_id)) == new_entry_id

    corrected = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=new_entry_id))

    assert corrected.status_code == 303
    assert len(ingest.batches) == 2
    assert corrected.headers["location"] == f"/batches/{ingest.batches[1]['batch_id']}?wait=10"
    assert ingest.batches[1]["idempotency_key"] == f"portal-entry-{new_entry_id}"


def test_a_form_sent_again_whose_batch_is_not_among_the_newest_points_to_the_batches() -> None:
    portal = with_ingest(Ingest(listed=False))
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    again = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=entry_id))

    assert again.status_code == 409
    assert "This form was already sent. What you changed since was not sent." in again.text
    assert 'href="/batches">your batches</a>' in again.text
    assert entry_id_of(again.text) != entry_id


def test_the_same_entry_sent_while_another_send_publishes_it_goes_to_its_batch() -> None:
    ingest = Ingest(publishing=True)
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    (made,) = ingest.batches

    again = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert again.status_code == 303
    assert again.headers["location"] == f"/batches/{made['batch_id']}?wait=10"
    assert len(ingest.batches) == 1


@pytest.mark.parametrize("status", [422, 503])
def test_a_form_sent_again_still_says_so_when_the_batches_cannot_be_listed(status: int) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(status, json={"title": "No", "detail": "no"}))
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    again = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=entry_id))

    assert again.status_code == 409
    assert "This form was already sent." in again.text
    assert entry_id_of(again.text) != entry_id


def test_another_refusal_of_a_direct_entry_is_said_on_the_form_as_before() -> None:
    portal = stubbed_portal()
    portal.on(
        "POST",
        "ingest/v1/batches",
        lambda _: httpx.Response(
            422, json={"title": "Refused", "detail": "RS001: the file is not right", "code": "RS001", "status": 422}
        ),
    )
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert answer.status_code == 400
    assert "RS001: the file is not right" in answer.text
    assert "data-sent-before" not in answer.text
    assert entry_id_of(answer.text) == entry_id
