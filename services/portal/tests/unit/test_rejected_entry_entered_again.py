"""A direct entry the LRS rejected (RS005, its one record) is entered again from its batch's page filled in as it was
sent, so that correcting one field is not typing nine again (WCAG 3.3.7, Redundant Entry): every field but the
learner's names, which the LRS never shows back. The address names the batch, not the learner; what was sent is kept
sealed in the session that sent it, so another person's session, or the Sandpit's, gets the empty form, saying so."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch

from portal.direct_entry import entry_reference

ENTRY = {
    "action": "Create",
    "job_type": "Final",
    "uln": "1000000043",
    "given_name": "Lily",
    "family_name": "McCarthy",
    "date_of_birth": "2001-03-27",
    "gender": "2",
    "qualification_number": "500/0002/0",
    "award_date": "2013-07-02",
    "grade": "Merit",
    "centre_ukprn": "10007890",
    "language_for_assessment": "Welsh",
    "credits": "17",
    "mis_identifier": "MIS-42",
    "notification_email": "results@ao.example",
}


def rejected_entry(stub: StubbedPortal, entry_id: str) -> str:
    """Ingest, making the entry a batch that failed RS005 (its one record rejected): its id."""
    batch_id = str(uuid.uuid4())
    counts = {"total": 1, "accepted": 0, "rejected": 1, "warnings": 0, "no_ops": 0}
    failed: dict[str, Any] = batch(
        batch_id=batch_id,
        status="failed",
        failure_code="RS005",
        failure_reason=None,
        format="json",
        batch_reference=entry_reference(entry_id),
        counts=counts,
    )
    stub.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": batch_id}))
    stub.on("GET", f"ingest/v1/batches/{batch_id}", lambda _: httpx.Response(200, json=failed))
    stub.on(
        "GET",
        f"ingest/v1/batches/{batch_id}/records",
        lambda _: httpx.Response(200, json={"records": [], "total": 0, "page": 1, "page_size": 100}),
    )
    return batch_id


def shown_value(page: str, name: str) -> str:
    """A text field's value, or a select's chosen option, as the browser would fill it in."""
    field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    if field is not None:
        value = re.search(r'value="([^"]*)"', field.group(0))
        return html.unescape(value.group(1)) if value else ""
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.DOTALL)
    assert select is not None, name
    chosen = re.search(r'<option value="([^"]*)" selected', select.group(0))
    return html.unescape(chosen.group(1)) if chosen else ""


def enter_again_link(page: str) -> str:
    found = re.search(r'<a class="govuk-link" href="([^"]+)">enter it again</a>', page)
    assert found is not None, "the rejected entry's page links to entering it again"
    return html.unescape(found.group(1))


def test_a_rejected_entry_is_entered_again_filled_in_as_sent_but_for_the_names() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in()
    entry_id = str(uuid.uuid4())
    batch_id = rejected_entry(stub, entry_id)

    sent = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    assert sent.status_code == 303
    batch_page = client.get(f"/batches/{batch_id}")
    link = enter_again_link(batch_page.text)
    again = client.get(link)

    assert link == f"/direct-entry?batch={batch_id}"  # the address names the batch, never the learner
    assert again.status_code == 200
    for name, value in ENTRY.items():
        if name in ("given_name", "family_name"):
            assert shown_value(again.text, name) == "", name  # never shown back
        else:
            assert shown_value(again.text, name) == value, name
    assert 'data-entered-again="filled"' in again.text
    assert "Type the learner's given and family names again" in again.text
    assert f'href="/batches/{batch_id}/records/1">what was wrong with it</a>' in again.text
    assert shown_value(again.text, "entry_id") != entry_id  # sent again, it is a new entry
    assert "Lily" not in again.text and "McCarthy" not in again.text
    assert client.get(link).text.count('data-entered-again="filled"') == 1  # a reload fills it in again


def test_an_entry_sent_from_another_session_is_not_filled_in_and_the_form_says_so() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in()
    entry_id = str(uuid.uuid4())
    batch_id = rejected_entry(stub, entry_id)
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))
    other, _ = stub.signed_in()

    again = other.get(f"/direct-entry?batch={batch_id}")
    sandpit_less = client.get(f"/direct-entry?batch={uuid.uuid4()}")

    for page in (again, sandpit_less):
        assert page.status_code == 200
        assert 'data-entered-again="not-kept"' in page.text
        assert shown_value(page.text, "uln") == "" and shown_value(page.text, "grade") == ""


def test_a_kept_entry_is_no_learner_look_up() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in()
    entry_id = str(uuid.uuid4())
    batch_id = rejected_entry(stub, entry_id)
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    found = client.get(f"/learners/found/entry:{batch_id}")

    assert found.status_code == 200
    assert "data-look-up-ended" in found.text
    assert "1000000043" not in found.text


def test_the_rejected_entrys_record_page_enters_it_again_filled_in_too() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in()
    entry_id = str(uuid.uuid4())
    batch_id = rejected_entry(stub, entry_id)
    errors = [{"code": "RV009", "field": "grade", "message": "The grade is not one of the qualification's."}]
    record = {"line": 1, "status": "rejected", "errors": errors, "warnings": [], "uln_masked": "******0043"}
    record |= {"mis_identifier": "MIS-42", "action": "Create", "achievement_id": None}
    stub.on(
        "GET",
        f"ingest/v1/batches/{batch_id}/records",
        lambda _: httpx.Response(200, json={"records": [record], "total": 1, "page": 1, "page_size": 1_000}),
    )
    client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    record_page = client.get(f"/batches/{batch_id}/records/1")

    assert record_page.status_code == 200, record_page.text
    assert enter_again_link(record_page.text) == f"/direct-entry?batch={batch_id}"
    assert "the form is filled in as you sent it" in record_page.text
