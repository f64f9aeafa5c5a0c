"""Two tabs, or two colleagues of one AO, sending the same direct entry at the same moment: each form has its own id,
so ingest's key does not make them one, and each looked for the other's batch before either had made it, so two
batches were made (two results emails, the second "no change"). A send now holds the entry's content while it looks
and sends: the other waits for it, then finds its batch and is answered as the same entry sent a moment later is
("sent already", 409, the first batch linked). One still sending after the wait is said to be being sent."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import MemoryHolds, StubbedPortal, form
from services.portal.tests.unit.test_direct_entry_sent_from_another_form import (
    ENTRY,
    Ingest,
    entry_id_of,
    text_of,
    with_ingest,
)
from starlette.requests import Request

from portal.auth import SignedIn
from portal.direct_entry import read_entry
from portal.web import ao_pages


def holds_of(portal: StubbedPortal) -> MemoryHolds:
    holds: MemoryHolds = portal.uploads.forms
    return holds


async def posted_at_once(
    portal: StubbedPortal, people: list[SignedIn], entries: list[dict[str, str]]
) -> list[httpx.Response]:
    """Each entry POSTed to /direct-entry at once, each by its person (in their own browser)."""
    transport = httpx.ASGITransport(app=portal.app)
    browsers = [httpx.AsyncClient(transport=transport, base_url="http://testserver") for _ in people]
    try:
        for browser, person in zip(browsers, people, strict=True):
            browser.cookies.set(portal.cookies.session_cookie, person.token)
        posts = (
            browser.post("/direct-entry", data=form(person, **entry))
            for browser, person, entry in zip(browsers, people, entries, strict=True)
        )
        return list(await asyncio.wait_for(asyncio.gather(*posts), timeout=30))
    finally:
        for browser in browsers:
            await browser.aclose()


def sending_slowly(portal: StubbedPortal, ingest: Ingest) -> None:
    """Ingest takes its time over the first submission: until the second send has found the entry held by the first,
    or (as before the hold) has reached ingest too."""
    holds = holds_of(portal)
    second_submitted = asyncio.Event()
    submissions = 0

    async def submit(request: httpx.Request) -> httpx.Response:
        nonlocal submissions
        submissions += 1
        if submissions > 1:
            second_submitted.set()
        else:
            waits = [asyncio.ensure_future(holds.held_already.wait()), asyncio.ensure_future(second_submitted.wait())]
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in pending:
                waiting.cancel()
        return ingest.submit(request)

    portal.on("POST", "ingest/v1/batches", submit)  # type: ignore[arg-type]  # MockTransport awaits it


@pytest.mark.parametrize("who", ["two tabs", "two colleagues"])
def test_the_same_entry_sent_at_once_from_two_forms_makes_one_batch_and_the_other_is_told_which(who: str) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    sending_slowly(portal, ingest)
    _client, person = portal.signed_in()
    people = [person, person] if who == "two tabs" else [person, portal.signed_in()[1]]
    entries = [{**ENTRY, "entry_id": str(uuid.uuid4())} for _ in people]

    answers = asyncio.run(posted_at_once(portal, people, entries))

    (made,) = ingest.batches
    assert sorted(answer.status_code for answer in answers) == [303, 409]
    first, second = sorted(answers, key=lambda answer: answer.status_code)
    assert first.headers["location"] == f"/batches/{made['batch_id']}?wait=10"
    page = second.text
    assert "data-sent-already" in page and "data-being-sent" not in page
    assert f'href="/batches/{made["batch_id"]}">{made["batch_reference"]}</a>, received ' in page
    assert f"You sent this same entry before, as batch {made['batch_reference']}, received " in text_of(page)
    assert holds_of(portal).held == {}  # each send let go


def test_an_entry_still_being_sent_from_another_form_after_the_wait_is_said_to_be_being_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    monkeypatch.setattr(ao_pages, "ENTRY_WAIT_SECONDS", 0.0)
    _client, person = portal.signed_in()
    reached, answered = asyncio.Event(), asyncio.Event()

    async def submit(request: httpx.Request) -> httpx.Response:
        if not ingest.batches and not reached.is_set():  # the first send: still sending when the second arrives
            reached.set()
            await answered.wait()
        return ingest.submit(request)

    portal.on("POST", "ingest/v1/batches", submit)  # type: ignore[arg-type]  # MockTransport awaits it
    entries = [{**ENTRY, "entry_id": str(uuid.uuid4())} for _ in range(2)]

    async def one_then_another() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=portal.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            browser.cookies.set(portal.cookies.session_cookie, person.token)
            first = asyncio.ensure_future(browser.post("/direct-entry", data=form(person, **entries[0])))
            await asyncio.wait_for(reached.wait(), timeout=10)
            second = await asyncio.wait_for(browser.post("/direct-entry", data=form(person, **entries[1])), 10)
            answered.set()
            return await asyncio.wait_for(first, timeout=10), second

    first, second = asyncio.run(one_then_another())

    assert first.status_code == 303
    assert second.status_code == 409
    assert len(ingest.batches) == 1
    page = second.text
    assert "data-being-sent" in page and "data-sent-already" not in page
    said = text_of(page)
    assert "This same entry is being sent just now from another form" in said
    assert "(another tab, or a colleague of your organisation), so nothing new was sent." in said
    assert 'href="/batches">your batches</a>' in page
    assert entry_id_of(page) == entries[1]["entry_id"]  # the same form: "Send it again as a new batch" sends it
    assert 'name="again" value="yes"' in page
    assert 'value="Distinction"' in page and 'value="Lily"' in page


def test_the_same_entry_sent_again_on_purpose_at_once_is_not_held_up() -> None:
    """The form's "Send it again as a new batch" sends the entry whoever else is sending it: it neither waits nor holds."""
    ingest = Ingest()
    portal = with_ingest(ingest)
    _client, person = portal.signed_in()
    entries = [{**ENTRY, "entry_id": str(uuid.uuid4()), "again": "yes"} for _ in range(2)]

    answers = asyncio.run(posted_at_once(portal, [person, person], entries))

    assert [answer.status_code for answer in answers] == [303, 303]
    assert len(ingest.batches) == 2
    assert holds_of(portal).held == {}


def test_a_refused_send_lets_go_of_the_entry() -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    refusal = {"title": "Unprocessable", "detail": "No.", "code": "INVALID_REQUEST"}
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(422, json=refusal))
    client, person = portal.signed_in()

    refused = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=str(uuid.uuid4())))
    portal.on("POST", "ingest/v1/batches", ingest.submit)
    again = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id_of(refused.text)))

    assert refused.status_code == 400
    assert again.status_code == 303 and len(ingest.batches) == 1
    assert holds_of(portal).held == {}


def test_the_entrys_key_is_its_content_for_its_ao_and_environment_not_its_forms_reference() -> None:
    def key(path: str, ao_id: str, **changes: str) -> uuid.UUID:
        request = Request({"type": "http", "path": path, "headers": [], "query_string": b""})
        return ao_pages._entry_key(request, ao_id, read_entry({**ENTRY, **changes, "entry_id": str(uuid.uuid4())}))

    assert key("/direct-entry", "RN9093") == key("/direct-entry", "RN9093")  # each form its own id and reference
    assert key("/direct-entry", "RN9093") != key("/direct-entry", "RN9093", grade="Merit")
    assert key("/direct-entry", "RN9093") != key("/direct-entry", "RN9002")
    assert key("/direct-entry", "RN9093") != key("/sandpit/direct-entry", "RN9093")
