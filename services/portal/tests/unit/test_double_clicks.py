"""A second click on a button that changes something: the browser sends it at most once a second
(GOV.UK Frontend's data-prevent-double-click), and a second POST that still arrives is answered as done."""

from __future__ import annotations

import re
import uuid
from importlib import resources

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal

TEMPLATES = resources.files("portal").joinpath("templates")
POST_FORM = re.compile(r'<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', re.S)
SUBMIT_BUTTON = re.compile(r'<button type="submit"[^>]*>')
# Forms posted only to keep a ULN (and a learner's names) out of the address: they change nothing.
READS = {"/learners", "{{ base }}/learners", "{{ base }}/direct-entry/prefilled"}


def post_forms() -> list[tuple[str, str, str]]:
    """(template, action, submit button) of every button of every POST form of every template."""
    found = []
    for template in TEMPLATES.iterdir():
        if template.name.endswith(".html"):
            for action, body in POST_FORM.findall(template.read_text(encoding="utf-8")):
                found += [(template.name, action, button) for button in SUBMIT_BUTTON.findall(body)]
    return found


def test_every_button_that_changes_something_prevents_a_double_click() -> None:
    buttons = post_forms()
    assert len(buttons) > 20  # the pattern still finds the forms

    lacking = [
        (template, action)
        for template, action, button in buttons
        if action not in READS and 'data-prevent-double-click="true"' not in button
    ]

    assert lacking == []


CHALLENGE_ID = uuid.uuid4()
ACKNOWLEDGE = f"challenges/v1/challenges/{CHALLENGE_ID}/acknowledge"
RESOLVE = f"challenges/v1/challenges/{CHALLENGE_ID}/resolve"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def acknowledged_once(portal: StubbedPortal) -> None:
    """The challenges service: the first acknowledgement is done, any after it a 409 naming the state."""

    def acknowledge(request: httpx.Request) -> httpx.Response:
        if len(portal.sent_to("POST", ACKNOWLEDGE)) == 1:
            return httpx.Response(200, json={"state": "acknowledged"})
        return problem(409, "an acknowledged challenge cannot be acknowledged", state="acknowledged")

    portal.on("POST", ACKNOWLEDGE, acknowledge)


def test_acknowledging_twice_says_done_both_times(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    acknowledged_once(portal)

    answers = [client.post(f"/challenges/{CHALLENGE_ID}/acknowledge", data=form(person)) for _ in range(2)]

    assert [(answer.status_code, answer.headers["location"]) for answer in answers] == [
        (303, f"/challenges/{CHALLENGE_ID}?done=acknowledged")
    ] * 2
    assert len(portal.sent_to("POST", ACKNOWLEDGE)) == 2


def test_acknowledging_a_resolved_challenge_still_says_it_could_not_be_done(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    portal.on(
        "POST", ACKNOWLEDGE, lambda _: problem(409, "a resolved challenge cannot be acknowledged", state="resolved")
    )

    answer = client.post(f"/challenges/{CHALLENGE_ID}/acknowledge", data=form(person))

    assert answer.status_code == 409
    assert "a resolved challenge cannot be acknowledged" in answer.text


def test_resolving_a_challenge_already_resolved_shows_its_page_and_how_it_was_resolved(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    portal.on("POST", RESOLVE, lambda _: problem(409, "a resolved challenge cannot be resolved", state="resolved"))

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason="The data is right.")
    )

    assert (answer.status_code, answer.headers["location"]) == (303, f"/challenges/{CHALLENGE_ID}")
