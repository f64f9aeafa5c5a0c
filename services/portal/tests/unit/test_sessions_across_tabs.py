"""One person, several tabs (a walk of the portal under multi-user use, decision 0040's later note): a link from a
results email arrives signed in, the sign-in page of a browser signed in already goes on to the page asked, and
signing in again as the same account keeps the session the other tabs use; two actions of one session at once each
show their own notice; two operators' resets of one password at once set one; a revoked key at a form says the form
was not sent."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal
from services.portal.tests.unit.test_forms_sent_twice import MemorySentForms

from portal.accounts import Role
from portal.auth import utc_now
from portal.csrf import FIELD


@pytest.fixture
def portal() -> StubbedPortal:
    stub = stubbed_portal()
    stub.uploads.forms = MemorySentForms()
    return stub


def _signed_in_by_form(portal: StubbedPortal, client: TestClient, username: str, password: str, **more: str) -> str:
    """Signs in through the sign-in form, as a browser does (its form token from its own cookie)."""
    form_token = client.cookies.get(portal.cookies.sign_in_cookie)
    if form_token is None:
        client.get("/sign-in")
        form_token = client.cookies.get(portal.cookies.sign_in_cookie)
    answer = client.post("/sign-in", data={FIELD: form_token or "", "username": username, "password": password, **more})
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def _set_cookies(answer: httpx.Response) -> dict[str, str]:
    return {header.partition("=")[0]: header for header in answer.headers.get_list("set-cookie")}


# --- 1. the sign-in page and a live session ---------------------------------------------------------------------


def test_the_sign_in_page_of_a_browser_signed_in_goes_on_to_the_page_asked(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.AO)

    answer = client.get("/sign-in", params={"next": "/batches", "ended": "page"})
    elsewhere = client.get("/sign-in", params={"next": "//evil.example/batches"})

    assert answer.status_code == 303 and answer.headers["location"] == "/batches"
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/"  # never off the portal


def test_the_sign_in_page_of_a_session_that_ended_is_drawn(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.AO)
    asyncio.run(portal.auth.sign_out(session.token))

    answer = client.get("/sign-in", params={"next": "/batches", "ended": "page"})

    assert answer.status_code == 200 and "Sign in to the Organisation Portal" in answer.text


def test_signing_in_again_as_the_same_account_keeps_the_session_other_tabs_use(portal: StubbedPortal) -> None:
    account, password = portal.account("kai")
    client = portal.client()
    client.get("/sign-in")  # two tabs' sign-in forms: both carry the token of the browser's form cookie
    _signed_in_by_form(portal, client, "kai", password)  # tab 1
    token = client.cookies.get(portal.cookies.session_cookie)
    assert token is not None
    held = asyncio.run(portal.auth.session_for(token))
    assert held is not None
    keys_before = set(portal.keys.live)

    # tab 2, its form drawn before tab 1 signed in (or a link from an email, then the sign-in page)
    went_to = _signed_in_by_form(portal, client, account.username, password, next="/batches")
    page_of_tab_1 = client.post("/session/keep-alive", data=form(held))  # tab 1's form still carries its token

    assert went_to == "/batches"
    assert client.cookies.get(portal.cookies.session_cookie) == token
    assert len(portal.sessions.rows) == 1 and set(portal.keys.live) == keys_before  # no second session or key
    assert page_of_tab_1.status_code == 200


def test_signing_in_again_near_the_sessions_twelve_hour_limit_opens_a_new_one(portal: StubbedPortal) -> None:
    """The warning of the absolute limit tells the person to sign in again: that gives them a whole new session."""
    _, password = portal.account("kai")
    client = portal.client()
    _signed_in_by_form(portal, client, "kai", password)
    token = client.cookies.get(portal.cookies.session_cookie)
    assert token is not None
    (row,) = portal.sessions.rows.values()
    row["created_at"] = utc_now() - timedelta(hours=11, minutes=55)  # five minutes left of the twelve hours

    _signed_in_by_form(portal, client, "kai", password, next="/batches")

    assert client.cookies.get(portal.cookies.session_cookie) != token
    assert asyncio.run(portal.auth.session_for(token)) is None  # the old one ended, as at any new sign-in


def test_signing_in_again_with_a_wrong_password_keeps_nothing_from_the_session(portal: StubbedPortal) -> None:
    _, password = portal.account("kai")
    client = portal.client()
    _signed_in_by_form(portal, client, "kai", password)

    answer = client.post(
        "/sign-in",
        data={FIELD: client.cookies.get(portal.cookies.sign_in_cookie) or "", "username": "kai", "password": "wrong"},
    )

    assert answer.status_code == 400 and "The username or password is not right" in answer.text


def test_signing_in_as_another_account_still_ends_the_session_the_browser_held(portal: StubbedPortal) -> None:
    _, kai_password = portal.account("kai")
    _, lee_password = portal.account("lee")
    client = portal.client()
    _signed_in_by_form(portal, client, "kai", kai_password)
    first = client.cookies.get(portal.cookies.session_cookie)

    _signed_in_by_form(portal, client, "lee", lee_password)

    second = client.cookies.get(portal.cookies.session_cookie)
    assert first and second and second != first
    assert asyncio.run(portal.auth.session_for(first)) is None
    assert [row["username"] for row in portal.sessions.rows.values()] == ["lee"]


def test_the_session_cookie_is_lax_and_the_sign_in_forms_stays_strict_and_is_kept(portal: StubbedPortal) -> None:
    _, password = portal.account("kai")
    client = portal.client()
    form_page = client.get("/sign-in")
    form_token = client.cookies.get(portal.cookies.sign_in_cookie) or ""

    answer = client.post("/sign-in", data={FIELD: form_token, "username": "kai", "password": password})

    session_cookie = _set_cookies(answer)[portal.cookies.session_cookie].lower()
    assert "samesite=lax" in session_cookie and "httponly" in session_cookie
    assert "samesite=strict" in _set_cookies(form_page)[portal.cookies.sign_in_cookie].lower()
    # not cleared: another tab's sign-in form still carries this token
    assert portal.cookies.sign_in_cookie not in _set_cookies(answer)
    assert client.cookies.get(portal.cookies.sign_in_cookie) == form_token


def test_a_cookie_planted_before_sign_in_names_nothing_after_it(portal: StubbedPortal) -> None:
    """Session fixation: the attacker's own live session, planted in the person's browser, is not kept for them."""
    _, password = portal.account("kai")
    _, planted = portal.signed_in(Role.AO)  # the attacker's
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, planted.token)
    client.cookies.set(portal.cookies.sign_in_cookie, "f" * 43)
    assert client.get("/sign-in", params={"next": "/batches"}).status_code == 303  # the planted session is live

    answer = client.post("/sign-in", data={FIELD: "f" * 43, "username": "kai", "password": password})

    assert answer.status_code == 303
    given = _set_cookies(answer)[portal.cookies.session_cookie].partition(";")[0].partition("=")[2]
    assert given and given != planted.token
    assert asyncio.run(portal.auth.session_for(planted.token)) is None


def _confirmation(client: TestClient, username: str) -> dict[str, str]:
    page = client.get(f"/ops/accounts/{username}/reset-password")
    assert page.status_code == 200, page.text
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.text))


# --- 2. notices of two actions at once ----------------------------------------------------------------------------


def test_two_actions_of_one_session_at_once_each_show_their_own_notice(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")

    # tab 1 issues a key and tab 2 resets a password, both sent before either tab draws the page it is sent to
    issued = client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="exam office"))
    reset = client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes"))
    reset_page = shown_after(client, reset)
    key_page = shown_after(client, issued)

    assert issued.headers["location"] == "/ops/accounts?keys_of=RN5133" and reset.headers["location"] == "/ops/accounts"
    assert "API key for ao:RN5133 (shown once)" in key_page.text and "New password for kai" not in key_page.text
    assert "New password for kai" in reset_page.text and "API key for ao:RN5133" not in reset_page.text
    assert len(re.findall(r"data-secret>([^<]+)<", key_page.text)) == 1
    assert len(re.findall(r"data-secret>([^<]+)<", reset_page.text)) == 1
    assert "data-secret" not in client.get("/ops/accounts?keys_of=RN5133").text  # each read once
    assert "data-secret" not in client.get("/ops/accounts").text


def test_two_forms_that_act_once_sent_to_the_same_page_at_once_are_each_shown_once(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.account("kai")
    portal.account("lee")

    first = client.post("/ops/accounts/kai/reset-password", data=_confirmation(client, "kai"))
    second = client.post("/ops/accounts/lee/reset-password", data=_confirmation(client, "lee"))
    shown = [shown_after(client, first).text, shown_after(client, second).text]

    assert sum("New password for kai" in page for page in shown) == 1
    assert sum("New password for lee" in page for page in shown) == 1
    assert "data-secret" not in client.get("/ops/accounts").text


# --- 4. two operators resetting one password at once --------------------------------------------------------------


def test_a_reset_confirmed_after_another_operators_reset_sets_no_second_password(portal: StubbedPortal) -> None:
    first_operator, _ = portal.signed_in(Role.OPERATOR)
    second_operator, _ = portal.signed_in(Role.OPERATOR)
    portal.account("kai")
    first_form, second_form = _confirmation(first_operator, "kai"), _confirmation(second_operator, "kai")
    assert first_form["password_set_at"]  # the confirmation carries the password it found

    first = first_operator.post("/ops/accounts/kai/reset-password", data=first_form)
    hash_set_first = portal.accounts.rows["kai"][1]
    second = second_operator.post("/ops/accounts/kai/reset-password", data=second_form)

    assert first.status_code == 303 and "New password for kai" in shown_after(first_operator, first).text
    assert second.status_code == 409
    assert "The password of kai was reset meanwhile by operator:user." in second.text
    assert "no new password was set" in second.text and "data-secret" not in second.text
    assert portal.accounts.rows["kai"][1] == hash_set_first  # the password shown first still works
    assert [change.change.value for change in portal.accounts.changed if change.subject == "kai"] == [
        "created",
        "password_reset",
    ]
    # sent again after the refusal (its id given back), that form asks again: it found another password
    assert second_operator.post("/ops/accounts/kai/reset-password", data=second_form).status_code == 409


def test_a_reset_confirmation_with_a_stamp_that_is_no_time_is_refused(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.account("kai")
    sent = {**_confirmation(client, "kai"), "password_set_at": "yesterday"}

    assert client.post("/ops/accounts/kai/reset-password", data=sent).status_code == 400


# --- 5. a revoked key at a form -------------------------------------------------------------------------------------

REVOKED = httpx.Response(
    401, json={"title": "Unauthenticated", "detail": "The API key is unknown, revoked or malformed."}
)


def test_a_form_sent_with_a_revoked_key_is_said_not_sent(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.on("GET", "ingest/v1/maintenance", lambda _: REVOKED)

    sent_from = {"referer": "http://testserver/ops/maintenance?shown=all"}
    answer = client.post("/ops/maintenance/pause", data=form(session, reason="x"), headers=sent_from)

    assert answer.status_code == 303, answer.text
    asked = parse_qs(urlsplit(answer.headers["location"]).query)
    assert asked == {"next": ["/ops/maintenance?shown=all"], "ended": ["form"]}  # the page the form is on
    assert "What you had entered was not sent" in portal.client().get(answer.headers["location"]).text
    assert asyncio.run(portal.auth.session_for(session.token)) is None


def test_a_page_opened_with_a_revoked_key_says_the_session_ended(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.AO)
    portal.on("GET", "ingest/v1/maintenance", lambda _: REVOKED)

    answer = client.get("/batches?page=2")

    assert answer.status_code == 303, answer.text
    asked = parse_qs(urlsplit(answer.headers["location"]).query)
    assert asked == {"next": ["/batches?page=2"], "ended": ["page"]}
