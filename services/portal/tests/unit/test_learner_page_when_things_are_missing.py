"""The learner look-up's page when something it shows is missing: the challenges service not answering (the record
is still shown, with its buttons, and a line says the open challenges are missing), or a look-up the session no
longer holds (the form, saying the look-up ended). Its form asks the browser to keep no ULN or names to refill."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, ULN

from portal.accounts import Role
from portal.web import ao_pages
from portal.web.dashboard import SIDE_FIGURE_SECONDS

ACHIEVEMENTS = "plr-projector/v1/ao/achievements"
CHALLENGES_AWAY = "Open challenges are not available just now: try again in a few minutes"
ENDED = "That look-up has ended (a look-up lasts while you are signed in): find the learner again."


def _record(request: httpx.Request) -> httpx.Response:
    uln = request.url.params["uln"]
    return httpx.Response(200, json={"uln": uln, "master_uln": None, "ulns": [uln], "learning_events": [ACHIEVEMENT]})


def test_the_record_is_shown_with_its_buttons_when_the_challenges_service_does_not_answer() -> None:
    portal = stubbed_portal()
    portal.on("GET", ACHIEVEMENTS, _record)
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(503, json={"title": "Away"}))
    client, person = portal.signed_in(Role.AO)

    found = client.post("/learners", data=form(person, uln=ULN, given_name="Ann", family_name="Lee"))
    shown = client.get(found.headers["location"])

    assert shown.status_code == 200, shown.text
    assert f"ULN {ULN}</h2>" in shown.text and f'data-achievement="{ACHIEVEMENT["id"]}"' in shown.text
    assert 'data-action="Update"' in shown.text and 'data-action="Withdraw"' in shown.text
    assert CHALLENGES_AWAY in shown.text
    assert portal.sent_to("GET", "challenges/v1/challenges")  # asked, and its silence said


def test_the_challenges_service_is_given_the_dashboards_short_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The httpx client's own limit is the one for calls a page cannot do without (30 s): open challenges are a side
    figure of the learner's page, as the dashboard's count is of its. (The bound is set apart here from the stub
    client's own limit, httpx's default 5 s, so that the test tells them apart.)"""
    assert vars(ao_pages).get("SIDE_FIGURE_SECONDS") == SIDE_FIGURE_SECONDS  # the dashboard's bound
    monkeypatch.setattr(ao_pages, "SIDE_FIGURE_SECONDS", 2.5, raising=False)
    portal = stubbed_portal()
    portal.on("GET", ACHIEVEMENTS, _record)
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    client, person = portal.signed_in(Role.AO)

    found = client.post("/learners", data=form(person, uln=ULN))
    shown = client.get(found.headers["location"])

    assert shown.status_code == 200 and 'data-action="Update"' in shown.text
    (asked,) = portal.sent_to("GET", "challenges/v1/challenges")
    assert asked.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 2.5)


def test_the_record_is_shown_when_the_challenges_service_is_too_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service that takes its time (it answers nothing until the page gave up on it; the stub's transport keeps no
    time limit, so the page's own bound is what ends the wait)."""
    monkeypatch.setattr(ao_pages, "SIDE_FIGURE_SECONDS", 0.2, raising=False)
    given_up = asyncio.Event()

    async def slow(_: httpx.Request) -> httpx.Response:
        try:
            await asyncio.wait_for(asyncio.Event().wait(), timeout=20)  # only a page that never gives up waits this out
        except asyncio.CancelledError:
            given_up.set()
            raise
        except TimeoutError:
            pass
        return httpx.Response(200, json={"items": [], "next": None})

    portal = stubbed_portal()
    portal.on("GET", ACHIEVEMENTS, _record)
    portal.on("GET", "challenges/v1/challenges", slow)  # type: ignore[arg-type]  # MockTransport awaits it
    client, person = portal.signed_in(Role.AO)

    found = client.post("/learners", data=form(person, uln=ULN))
    shown = client.get(found.headers["location"])

    assert shown.status_code == 200, shown.text
    assert f'data-achievement="{ACHIEVEMENT["id"]}"' in shown.text and 'data-action="Update"' in shown.text
    assert CHALLENGES_AWAY in shown.text
    assert given_up.is_set()  # the call was ended, not left running


def test_no_word_about_challenges_when_the_service_answers() -> None:
    portal = stubbed_portal()
    portal.on("GET", ACHIEVEMENTS, _record)
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    client, person = portal.signed_in(Role.AO)

    found = client.post("/learners", data=form(person, uln=ULN))
    shown = client.get(found.headers["location"])

    assert shown.status_code == 200 and 'data-action="Update"' in shown.text
    assert CHALLENGES_AWAY not in shown.text


def test_a_look_up_the_session_does_not_hold_says_it_has_ended() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)

    shown = client.get("/learners/found/L9QRzgLQ6HF3RK5R")

    assert shown.status_code == 200 and 'name="uln"' in shown.text and "data-achievement=" not in shown.text
    assert ENDED in shown.text
    assert not portal.sent_to("GET", ACHIEVEMENTS)


def test_the_plain_form_says_nothing_of_an_ended_look_up() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)

    plain = client.get("/learners")
    refused = client.post("/learners", data=form(person, uln="12345"))

    assert plain.status_code == 200 and 'name="uln"' in plain.text
    assert ENDED not in plain.text and ENDED not in refused.text


def test_the_browser_is_asked_to_keep_no_uln_or_names_to_refill_after_back() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)

    page = client.get("/learners").text

    for name in ("uln", "given_name", "family_name"):
        field = re.search(rf'<input [^>]*name="{name}"[^>]*>', page)
        assert field is not None and 'autocomplete="off"' in field.group(0), name


def test_the_names_hint_speaks_to_staff_without_a_rule_code() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)

    page = client.get("/learners").text

    assert (
        "Needed to update, withdraw or reinstate: typed here, they are filled in for you there. "
        "The LRS does not show learners&#39; names." in page
    )
    assert "RV021" not in page
