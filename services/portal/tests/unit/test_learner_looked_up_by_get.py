"""Post/Redirect/Get for a learner looked up by ULN: the POST checks the ULN and keeps the look-up in the person's
session under a random id, then sends the browser (303) to the page that id names, which reads the learner's record
afresh each time it is asked. No ULN or name is in that address; Back and reload ask it by GET, never "Confirm form
resubmission"; another person's session, and the same person's next one, holds no such look-up."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import AO_ID, StubbedPortal, form, stubbed_portal, with_a_sandpit
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, ULN

from portal.accounts import Role
from portal.sessions import token_hash

OTHER_ULN = "1000000051"
ACHIEVEMENTS = "plr-projector/v1/ao/achievements"
FOUND = "/learners/found/"


def _answering(portal: StubbedPortal, grades: dict[str, str], host: str = "") -> None:
    """The projector's record of each ULN asked, with the grade `grades` holds for it as it is asked."""

    def record(request: httpx.Request) -> httpx.Response:
        uln = request.url.params["uln"]
        event = {**ACHIEVEMENT, "grade": grades[uln]}
        return httpx.Response(200, json={"uln": uln, "master_uln": None, "ulns": [uln], "learning_events": [event]})

    portal.on("GET", f"{host}{ACHIEVEMENTS}", record)
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))


def _shows(page: httpx.Response, uln: str) -> bool:
    return f"ULN {uln}</h2>" in page.text and "data-achievement=" in page.text


def _looked_up(client: TestClient, csrf: str, uln: str, **names: str) -> str:
    """Where the look-up of `uln` sends the browser."""
    answer = client.post("/learners", data={"csrf_token": csrf, "uln": uln, **names})
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def test_the_look_up_answers_a_redirect_to_an_address_naming_no_learner_whose_page_shows_them() -> None:
    portal = stubbed_portal()
    _answering(portal, {ULN: "Merit"})
    client, person = portal.signed_in(Role.AO)

    answer = client.post("/learners", data=form(person, uln=ULN, given_name="Ann", family_name="Lee"))
    read_by_the_post = len(portal.sent_to("GET", ACHIEVEMENTS))
    shown = client.get(answer.headers["location"])

    assert answer.status_code == 303
    assert answer.headers["location"].startswith(FOUND)
    assert ULN not in answer.headers["location"] and "Ann" not in answer.headers["location"]
    assert read_by_the_post == 0  # the record is read by the page, each time it is asked
    assert shown.status_code == 200 and _shows(shown, ULN) and "Merit" in shown.text
    assert 'name="given_name" type="text" value="Ann"' in shown.text  # what was typed, as the form had it
    assert "data-drawn-from-post" not in shown.text  # a GET's answer: nothing for the script to soften


def test_the_page_asked_again_reads_the_record_afresh_and_sends_no_form() -> None:
    portal = stubbed_portal()
    grades = {ULN: "Merit"}
    _answering(portal, grades)
    client, person = portal.signed_in(Role.AO)
    found = _looked_up(client, person.csrf_token, ULN)
    first = client.get(found)

    grades[ULN] = "Distinction"  # the record changed since
    again = client.get(found)  # a reload, or Back to it

    assert "Merit" in first.text
    assert again.status_code == 200 and _shows(again, ULN) and "Distinction" in again.text
    assert len(portal.sent_to("GET", ACHIEVEMENTS)) == 2


def test_each_look_up_keeps_its_own_page_as_two_tabs_would() -> None:
    portal = stubbed_portal()
    _answering(portal, {ULN: "Merit", OTHER_ULN: "Pass"})
    client, person = portal.signed_in(Role.AO)

    first = _looked_up(client, person.csrf_token, ULN)
    second = _looked_up(client, person.csrf_token, OTHER_ULN)

    assert first != second
    assert _shows(client.get(first), ULN) and not _shows(client.get(first), OTHER_ULN)
    assert _shows(client.get(second), OTHER_ULN)


def test_another_persons_session_is_shown_the_empty_form_at_that_address() -> None:
    portal = stubbed_portal()
    _answering(portal, {ULN: "Merit"})
    client, person = portal.signed_in(Role.AO)
    found = _looked_up(client, person.csrf_token, ULN)
    other, _ = portal.signed_in(Role.AO)  # another person of the same AO

    shown = other.get(found)

    assert shown.status_code == 200
    assert ULN not in shown.text and "data-achievement=" not in shown.text
    assert f"A learner's achievements from {AO_ID}" in shown.text and 'name="uln"' in shown.text  # the empty form
    assert not portal.sent_to("GET", ACHIEVEMENTS)


def test_the_look_up_is_sealed_in_the_session_and_ends_with_it_at_sign_out() -> None:
    portal = stubbed_portal()
    _answering(portal, {ULN: "Merit"})
    account, password = portal.account("ao.lookups")
    session = asyncio.run(portal.auth.sign_in(account.username, password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)
    found = _looked_up(client, session.csrf_token, ULN, given_name="Ann")
    sealed = portal.sessions.rows[token_hash(session.token)]["look_ups"]

    signed_out = client.post("/sign-out", data=form(session))
    after = asyncio.run(portal.auth.sign_in(account.username, password)).session  # the same person, signed in again
    assert after is not None
    client.cookies.set(portal.cookies.session_cookie, after.token)
    shown = client.get(found)

    assert ULN.encode() not in sealed and b"Ann" not in sealed
    assert signed_out.status_code == 303 and token_hash(session.token) not in portal.sessions.rows
    assert shown.status_code == 200 and ULN not in shown.text and "data-achievement=" not in shown.text


def test_an_address_the_session_holds_no_look_up_for_shows_the_empty_form() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)

    shown = client.get(f"{FOUND}no-such-look-up")

    assert shown.status_code == 200 and 'name="uln"' in shown.text and "data-achievement=" not in shown.text
    assert not portal.sent_to("GET", ACHIEVEMENTS)


def test_a_look_up_refused_is_the_form_again_saying_why_and_nothing_is_kept() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)

    refused = client.post("/learners", data=form(person, uln="12345"))

    assert refused.status_code == 400 and "Enter a ULN of 10 digits" in refused.text
    assert "look_ups" not in portal.sessions.rows[token_hash(person.token)]


def test_the_look_up_keeps_the_batch_it_was_asked_after() -> None:
    portal = stubbed_portal()
    _answering(portal, {ULN: "Merit"})
    client, person = portal.signed_in(Role.AO)
    batch_id = "5f0c4d9a-1b2e-4c3d-8e7f-9a0b1c2d3e4f"

    found = client.post("/learners", data=form(person, uln=ULN, after_batch=batch_id))
    client.get(found.headers["location"])
    client.get(found.headers["location"])

    asked = portal.sent_to("GET", ACHIEVEMENTS)
    assert batch_id not in found.headers["location"]
    assert [request.url.params.get("after_batch") for request in asked] == [batch_id, batch_id]


def test_a_sandpit_look_up_is_shown_at_the_sandpits_address_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    portal = with_a_sandpit(stubbed_portal(), monkeypatch)
    _answering(portal, {ULN: "Merit"}, host="sandpit-")
    client, person = portal.signed_in(Role.AO)

    answer = client.post("/sandpit/learners", data=form(person, uln=ULN))
    found = answer.headers["location"]
    live = client.get(found.removeprefix("/sandpit"))

    assert answer.status_code == 303 and found.startswith(f"/sandpit{FOUND}")
    assert _shows(client.get(found), ULN)
    assert live.status_code == 200 and "data-achievement=" not in live.text  # the live page holds no Sandpit look-up
