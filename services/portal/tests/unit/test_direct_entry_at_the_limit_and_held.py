"""A direct entry at the AO's waiting-records limit, and one a maintenance window holds (windows report, findings 4
and 5). Ingest's 429 TOO_MANY_RECORDS_WAITING (decision 0171) was shown as an error on the Action field telling the
person to "send this file again", answered 400: it is the form again, as it was, with a message above it, answered
429, as an upload's busy page is. A batch maintenance holds was waited on for 10 seconds before its page showed
"queued": its page is shown at once, as an upload's is."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_direct_entry_sent_again import ENTRY, value_of

from lrs_contracts.codes import ProblemCode

BUSY: dict[str, Any] = {
    "type": "/problems/TOO_MANY_RECORDS_WAITING",
    "title": "Too many records waiting",
    "status": 429,
    "detail": "200 records of your batches are waiting for their decision (at most 150 may wait): send this file"
    " again in 30 seconds, once some of them are decided. Nothing of it was kept.",
    "code": ProblemCode.TOO_MANY_RECORDS_WAITING.value,
    "records_waiting": 200,
    "limit": 150,
    "retry_after": 30,
}
HELD = {
    "reason": "database upgrade",
    "until": "2027-06-06T22:00:00Z",
    "paused": False,
    "message": "will be processed after 2027-06-06T22:00:00Z",
}


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json={"items": [], "total": 0}))
    return portal


def said(page: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def busy_banner(page: str) -> str:
    return said(page.split("data-busy>", 1)[1].split("</div>\n    </div>", 1)[0])


def test_an_entry_at_the_limit_is_the_form_again_as_it_was_with_a_message_above_it(portal: StubbedPortal) -> None:
    answers = [httpx.Response(429, json=BUSY, headers={"Retry-After": "30"})]
    portal.on("POST", "ingest/v1/batches", lambda _: answers.pop(0))
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert answer.status_code == 429
    assert busy_banner(answer.text) == (
        "Important Not sent yet: 200 records of your organisation's batches are waiting for their decision, and the"
        " LRS takes a new batch from you once fewer than 150 wait. Send this entry again in 30 seconds or later."
        " Nothing of it was sent. The form below keeps what you entered."
    )
    assert "<title>Not sent yet: Enter one achievement" in answer.text
    # on no field, and never ingest's words about a file
    assert 'class="govuk-error-message">' not in answer.text  # each field's message is hidden
    assert 'href="#action"' not in answer.text and "<title>Error:" not in answer.text
    assert "send this file" not in answer.text
    assert value_of(answer.text, "grade") == ENTRY["grade"] and value_of(answer.text, "given_name") == "Lily"
    # sent again under the same key: ingest kept nothing of it, and a second click makes no second batch
    assert f'name="entry_id" value="{entry_id}"' in answer.text


def test_an_entry_at_the_limit_during_maintenance_says_what_holds_the_batches_and_until_when(
    portal: StubbedPortal,
) -> None:
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(429, json={**BUSY, "maintenance": HELD}))
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    assert answer.status_code == 429
    banner = busy_banner(answer.text)
    assert (
        "They are held by maintenance (database upgrade) until 6 Jun 2027, 23:00 (UK time): none is decided before"
        " then. Send this entry again after that."
    ) in banner
    assert "30 seconds" not in banner


def test_an_entry_maintenance_holds_shows_its_batch_page_at_once(portal: StubbedPortal) -> None:
    made = str(uuid.uuid4())
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": made, "maintenance": HELD}))
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    assert (answer.status_code, answer.headers["location"]) == (303, f"/batches/{made}")


def test_an_entry_nothing_holds_waits_for_its_decision_on_its_batch_page(portal: StubbedPortal) -> None:
    made = str(uuid.uuid4())
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": made, "status": "accepted"}))
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    assert (answer.status_code, answer.headers["location"]) == (303, f"/batches/{made}?wait=10")


def test_an_entry_at_the_batches_limit_says_batches_not_records(portal: StubbedPortal) -> None:
    """Ingest also bounds an AO's waiting batches, however few records each holds (decision 0171's later note): the
    records' words ("12 records … once fewer than 100,000 wait") explained nothing then."""
    at_batches = {**BUSY, "records_waiting": 12, "limit": 100_000, "batches_waiting": 250, "batch_limit": 250}
    portal.on(
        "POST", "ingest/v1/batches", lambda _: httpx.Response(429, json=at_batches, headers={"Retry-After": "30"})
    )
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))

    assert answer.status_code == 429
    assert busy_banner(answer.text).startswith(
        "Important Not sent yet: 250 of your organisation's batches are waiting for their decision, and the LRS takes"
        " a new batch from you once fewer than 250 wait, however few records each holds."
    )
