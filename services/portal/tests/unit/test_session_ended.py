"""A session that ended (30 minutes without a request, or ended elsewhere) sends the person to sign in and then
back to the page they were on; a form sent then goes back to the page the form is on, not the start page, and the
sign-in page says why they were signed out and that the form was not sent."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal, with_a_sandpit

from portal.accounts import Role
from portal.auth import SignedIn, utc_now
from portal.sessions import token_hash


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def ended(portal: StubbedPortal, session: SignedIn) -> None:
    """The session as it is 30 minutes after its last request: over, its cookie still in the browser."""
    portal.sessions.rows[token_hash(session.token)]["expires_at"] = utc_now() - timedelta(seconds=1)


def sent_to_sign_in(answer: object) -> dict[str, list[str]]:
    location = answer.headers["location"]  # type: ignore[attr-defined]
    assert answer.status_code == 303 and location.startswith("/sign-in?")  # type: ignore[attr-defined]
    return parse_qs(urlsplit(location).query)


def test_a_form_sent_after_the_session_ended_goes_back_to_its_own_page(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    ended(portal, session)

    answer = client.post("/ops/accounts", data=form(session, username="nia", display_name="Nia", role="ao"))

    assert sent_to_sign_in(answer) == {"next": ["/ops/accounts"], "ended": ["form"]}
    assert "nia" not in portal.accounts.rows


def test_a_form_whose_address_is_no_page_goes_back_to_the_portal_page_that_sent_it(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")
    ended(portal, session)
    sent_from = {"referer": "http://testserver/ops/accounts?keys_of=RN5133"}

    answer = client.post("/ops/accounts/kai/email-link", data=form(session), headers=sent_from)

    assert sent_to_sign_in(answer) == {"next": ["/ops/accounts?keys_of=RN5133"], "ended": ["form"]}


@pytest.mark.parametrize(
    "referer",
    [
        "https://elsewhere.example/ops/accounts",  # another site
        "http://testserver//elsewhere.example/ops",  # a path that is another site's address
        "http://testserver/static/portal.css",  # the portal's, but no page
        "http://testserver/no-such-page",
        "http://testserver/v1/admin/users",  # the admin API: no page
        "",
    ],
)
def test_a_form_from_anywhere_but_a_portal_page_goes_back_to_the_start_page(
    portal: StubbedPortal, referer: str
) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    ended(portal, session)

    answer = client.post("/sign-out", data=form(session), headers={"referer": referer} if referer else {})

    assert sent_to_sign_in(answer)["next"] == ["/"]


def test_a_page_opened_after_the_session_ended_says_so_and_one_never_signed_in_does_not(
    portal: StubbedPortal,
) -> None:
    client, session = portal.signed_in()
    ended(portal, session)

    answer = client.get("/batches?status=failed")
    never = TestClient(portal.app, follow_redirects=False).get("/batches")

    assert sent_to_sign_in(answer) == {"next": ["/batches?status=failed"], "ended": ["page"]}
    assert sent_to_sign_in(never) == {"next": ["/batches"]}


def test_the_sign_in_page_says_why_the_person_was_signed_out_and_that_the_form_was_not_sent(
    portal: StubbedPortal,
) -> None:
    account, password = portal.account("kai")
    client = portal.client()

    at_form = client.get("/sign-in", params={"next": "/batches/new", "ended": "form"})
    at_page = client.get("/sign-in", params={"next": "/batches", "ended": "page"})
    plain = client.get("/sign-in", params={"next": "/batches", "ended": "<b>"})
    mistyped = client.post(
        "/sign-in",
        data={
            "csrf_token": client.cookies[portal.cookies.sign_in_cookie],
            "username": "kai",
            "password": "wrong!",
            "next": "/batches/new",
            "ended": "form",
        },
    )

    said = "You were signed out because you did nothing for 30 minutes, or your session ended. Sign in to carry on."
    assert said in at_form.text and "The file you chose was not sent" in at_form.text  # /batches/new: an upload
    assert 'name="ended" value="form"' in at_form.text and 'name="next" value="/batches/new"' in at_form.text
    assert said in at_page.text and "was not sent" not in at_page.text
    assert "data-session-ended" not in plain.text
    assert "data-session-ended" in mistyped.text  # still said after a wrong password
    assert account.username == "kai" and password


@pytest.mark.parametrize("sent_to", ["/batches/check", "/batches/submit"])
def test_a_file_sent_after_the_session_ended_is_said_not_sent_and_to_be_chosen_again(
    portal: StubbedPortal, sent_to: str
) -> None:
    """An upload is no typing: the file chosen is what was not sent, and it is chosen again (the check's page, asked
    for after signing in, is the upload form)."""
    client, session = portal.signed_in()
    ended(portal, session)
    sent_from = {"referer": "http://testserver/batches/check"}  # the check page, whose form submits the upload

    answer = client.post(
        sent_to,
        data={"csrf_token": session.csrf_token},
        files={"batch_file": ("results.csv", b"header\n", "text/csv")},
        headers=sent_from,
    )
    asked = sent_to_sign_in(answer)
    sign_in = portal.client().get("/sign-in", params={"next": asked["next"][0], "ended": asked["ended"][0]})
    again, _ = portal.signed_in()
    back = again.get(asked["next"][0])

    assert asked == {"next": [sent_to], "ended": ["form"]}
    assert "The file you chose was not sent." in sign_in.text
    assert "taken back to the upload page: choose the file again" in sign_in.text
    assert "typed" not in sign_in.text
    assert (back.status_code, back.headers["location"]) == (303, "/batches/new")  # the upload page, as said


@pytest.mark.parametrize(
    ("next_path", "said"),
    [
        ("/sandpit/batches/check", "The file you chose was not sent."),
        ("/batches/new", "The file you chose was not sent."),
        ("/direct-entry", "What you had entered was not sent."),
        ("/ops/accounts?keys_of=RN5133", "What you had entered was not sent."),
        ("/batches/checked", "What you had entered was not sent."),
    ],
)
def test_what_was_not_sent_is_said_as_the_form_had_it(portal: StubbedPortal, next_path: str, said: str) -> None:
    page = portal.client().get("/sign-in", params={"next": next_path, "ended": "form"})

    assert said in page.text and "typed" not in page.text


def test_the_submit_asked_by_get_is_the_upload_form_live_and_in_the_sandpit(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where signing in leads back to after a session ended at Submit: once the portal's "Page not found" (the
    address read as a batch's, "submit" no batch id)."""
    client, _ = with_a_sandpit(portal, monkeypatch).signed_in()

    live, sandpit = client.get("/batches/submit"), client.get("/sandpit/batches/submit")

    assert (live.status_code, live.headers["location"]) == (303, "/batches/new")
    assert (sandpit.status_code, sandpit.headers["location"]) == (303, "/sandpit/batches/new")
