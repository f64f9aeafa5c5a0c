"""A direct-entry form sent again with its content changed (sent, then Back, a corrected grade and Send): ingest
refuses the form's key, used for the first entry. The page says in plain words that the form was sent already, as
which batch, and draws the form again with what the person entered under a new entry id, so that the corrected entry
can be sent: never ingest's words about an Idempotency-Key, nor a form whose every Send fails again. Ingest's 409 names
the batch (IDEMPOTENCY_KEY_REUSED, `batch_id`), which the page links without searching the AO's batches for it; an
ingest of the release before (CONFLICT, no batch named) has it looked for among the AO's newest, during a rollout."""

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
from portal.web.ao_pages import SAME_ENTRY_LOOKED_FOR

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
    with that batch, another file under the key is refused as ingest refuses it (409 IDEMPOTENCY_KEY_REUSED naming
    the key's batch; `previous_release`: 409 CONFLICT naming none, as before that code)."""

    def __init__(self, listed: bool = True, publishing: bool = False, previous_release: bool = False) -> None:
        self.batches: list[dict[str, Any]] = []
        self.listed = listed  # whether the AO's newest batches hold those made here
        self.publishing = publishing  # the same file again is answered 409: another request is publishing it
        self.previous_release = previous_release
        self.portal: StubbedPortal | None = None  # answers each batch made here by its id, when set

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
            if self.portal is not None:
                self.portal.on("GET", f"ingest/v1/batches/{made['batch_id']}", self.batch)
            return httpx.Response(202, json={"batch_id": made["batch_id"], "status": "accepted"})
        named = {} if self.previous_release else {"batch_id": made["batch_id"]}
        if made["content_sha256"] != sha:
            code = ProblemCode.CONFLICT if self.previous_release else ProblemCode.IDEMPOTENCY_KEY_REUSED
            return httpx.Response(
                409,
                json={
                    "type": "about:blank",
                    "title": "Idempotency-Key already used for a different file",
                    "status": 409,
                    "detail": f"Idempotency-Key {key!r} was used for batch {made['batch_id']}, whose file differs from"
                    " this one. Use a new key for a new file.",
                    "instance": "/v1/batches",
                    "code": code.value,
                    **named,
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
                    **named,
                },
                headers={"Retry-After": "1"},
            )
        return httpx.Response(202, json={"batch_id": made["batch_id"]}, headers={"Idempotent-Replay": "true"})

    def listing(self, request: httpx.Request) -> httpx.Response:
        others = [{"batch_id": str(uuid.uuid4()), "idempotency_key": None, "received_at": "2026-12-05T09:00:00Z"}]
        items = [*reversed(self.batches), *others] if self.listed else others
        return httpx.Response(200, json={"items": items, "total": len(items), "page": 1, "page_size": 200})

    def batch(self, request: httpx.Request) -> httpx.Response:
        batch_id = request.url.path.rsplit("/", 1)[1]
        found = next((batch for batch in self.batches if batch["batch_id"] == batch_id), None)
        return httpx.Response(200, json=found) if found else httpx.Response(404, json={"title": "Not found"})


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
    ingest.portal = portal
    return portal


def batch_reads(portal: StubbedPortal) -> list[str]:
    """The paths of ingest's batches the portal read: the listing (`/v1/batches`) and any batch by its id; not the
    listing every Send reads first, for the same entry sent lately from another form."""
    return [
        r.url.path
        for r in portal.sent
        if r.method == "GET"
        and r.url.path.startswith("/v1/batches")
        and r.url.params.get("page_size") != str(SAME_ENTRY_LOOKED_FOR)
    ]


@pytest.mark.parametrize("previous_release", [False, True], ids=["named", "found-among-the-newest"])
def test_a_form_sent_again_changed_says_it_was_sent_as_its_batch_and_can_then_send_the_correction(
    previous_release: bool,
) -> None:
    ingest = Ingest(previous_release=previous_release)
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
    assert f'href="/batches/{made["batch_id"]}">{made["batch_reference"]}</a>, received 5 Dec 2026, 10:00' in shown
    assert "What you changed since was not sent." in shown
    assert "Idempotency-Key" not in shown and "Use a new key" not in shown
    assert 'class="govuk-error-summary"' not in shown
    assert value_of(shown, "grade") == "Merit"
    assert value_of(shown, "given_name") == "Lily"
    new_entry_id = entry_id_of(shown)
    assert new_entry_id != entry_id and str(uuid.UUID(new_entry_id)) == new_entry_id
    # the batch ingest named is read by its id; only an answer naming none has it searched for
    assert batch_reads(portal) == (["/v1/batches"] if previous_release else [f"/v1/batches/{made['batch_id']}"])

    corrected = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=new_entry_id))

    assert corrected.status_code == 303
    assert len(ingest.batches) == 2
    assert corrected.headers["location"] == f"/batches/{ingest.batches[1]['batch_id']}?wait=10"
    assert ingest.batches[1]["idempotency_key"] == f"portal-entry-{new_entry_id}"


def test_a_form_sent_again_names_its_batch_even_when_it_is_not_among_the_newest() -> None:
    """An AO sending more than 200 batches between the two Sends: the batch ingest names is linked all the same."""
    ingest = Ingest(listed=False)
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    (made,) = ingest.batches

    again = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=entry_id))

    assert again.status_code == 409
    assert 'This form was already sent, as batch <a class="govuk-notification-banner__link' in again.text
    assert f'href="/batches/{made["batch_id"]}">{made["batch_reference"]}</a>' in again.text
    assert 'href="/batches">your batches</a>' not in again.text
    assert entry_id_of(again.text) != entry_id


@pytest.mark.parametrize("status", [404, 503])
def test_a_form_sent_again_links_the_batch_named_when_it_cannot_be_read(status: int) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    (made,) = ingest.batches
    unreadable = httpx.Response(status, json={"title": "No", "detail": "no", "status": status})
    portal.on("GET", f"ingest/v1/batches/{made['batch_id']}", lambda _: unreadable)

    again = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=entry_id))

    assert again.status_code == 409
    assert f'href="/batches/{made["batch_id"]}">{made["batch_id"]}</a>. What you changed since was not sent.' in (
        again.text
    )
    assert entry_id_of(again.text) != entry_id


def test_a_form_sent_again_before_the_release_naming_its_batch_points_to_the_batches_when_not_found() -> None:
    portal = with_ingest(Ingest(listed=False, previous_release=True))
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    again = client.post("/direct-entry", data=form(person, **{**ENTRY, "grade": "Merit"}, entry_id=entry_id))

    assert again.status_code == 409
    assert "This form was already sent. What you changed since was not sent." in again.text
    assert 'href="/batches">your batches</a>' in again.text
    assert entry_id_of(again.text) != entry_id


@pytest.mark.parametrize("previous_release", [False, True], ids=["named", "found-among-the-newest"])
def test_the_same_entry_sent_while_another_send_publishes_it_goes_to_its_batch(previous_release: bool) -> None:
    ingest = Ingest(publishing=True, previous_release=previous_release)
    portal = with_ingest(ingest)
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    (made,) = ingest.batches

    again = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert again.status_code == 303
    assert again.headers["location"] == f"/batches/{made['batch_id']}?wait=10"
    assert len(ingest.batches) == 1
    assert batch_reads(portal) == (["/v1/batches"] if previous_release else [])


@pytest.mark.parametrize("status", [422, 503])
def test_a_form_sent_again_still_says_so_when_the_batches_cannot_be_listed(status: int) -> None:
    ingest = Ingest(previous_release=True)
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
