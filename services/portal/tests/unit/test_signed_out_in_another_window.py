"""A form sent after the person signed out in another window (its cookie cleared, not just its session over) is said
not sent on the sign-in page, as one sent after the session ended while idle is; after they signed in again
elsewhere, the page refusing the old form names that as a reason. The idle time is said in the singular when it is
one minute."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from portal.accounts import Role


def _sent_to_sign_in(location: str) -> dict[str, list[str]]:
    assert location.startswith("/sign-in?"), location
    return parse_qs(urlsplit(location).query)


def test_a_form_sent_after_signing_out_in_another_window_is_said_not_sent() -> None:
    portal = stubbed_portal()
    client, session = portal.signed_in(Role.OPERATOR)
    signed_out = client.post("/sign-out", data=form(session))  # in the other window
    assert signed_out.status_code == 303 and signed_out.headers["set-cookie"].startswith(
        f'{portal.cookies.session_cookie}=""'
    )
    client.cookies.clear()  # as the browser clears it, for every window

    answer = client.post("/ops/accounts", data=form(session, username="nia", display_name="Nia", role="ao"))
    page = portal.client().get(answer.headers["location"])

    assert answer.status_code == 303
    assert _sent_to_sign_in(answer.headers["location"]) == {"next": ["/ops/accounts"], "ended": ["form"]}
    assert "What you had entered was not sent." in page.text
    assert "nia" not in portal.accounts.rows


def test_signing_out_again_in_a_window_signed_out_in_another_says_nothing_was_lost() -> None:
    portal = stubbed_portal()
    client, session = portal.signed_in(Role.OPERATOR)
    client.post("/sign-out", data=form(session))  # in the other window
    client.cookies.clear()

    answer = client.post("/sign-out", data=form(session))

    assert answer.status_code == 303
    assert "ended" not in _sent_to_sign_in(answer.headers["location"])  # no "What you had entered was not sent"


def test_a_page_opened_without_a_session_cookie_is_not_said_to_have_ended() -> None:
    answer = stubbed_portal().client().get("/batches")

    assert _sent_to_sign_in(answer.headers["location"]) == {"next": ["/batches"]}


def test_a_form_of_a_session_signed_out_and_in_again_elsewhere_says_so() -> None:
    portal = stubbed_portal()
    client, old = portal.signed_in(Role.OPERATOR)
    _, new = portal.signed_in(Role.OPERATOR)
    client.cookies.set(portal.cookies.session_cookie, new.token)  # signed in again in the other window

    answer = client.post("/ops/accounts", data=form(old, username="nia", display_name="Nia", role="ao"))

    assert answer.status_code == 403
    assert "you signed out or signed in again in another window" in answer.text
    assert "nia" not in portal.accounts.rows


def _idle_for(portal: StubbedPortal, minutes: int) -> str:
    state = portal.app.state.portal
    settings = state.settings.model_copy(update={"session_idle_minutes": minutes})
    portal.app.state.portal = dataclasses.replace(state, settings=settings)
    text: str = portal.client().get("/sign-in", params={"next": "/batches", "ended": "page"}).text
    return text


def test_the_idle_time_is_said_in_the_singular_for_one_minute() -> None:
    assert "because you did nothing for 1 minute, or your session ended" in _idle_for(stubbed_portal(), 1)
    assert "because you did nothing for 2 minutes, or your session ended" in _idle_for(stubbed_portal(), 2)
