"""A double-click on "Email a password link" or on the confirmation of "Reset password" (the browser sends the form
twice and shows the answer to the second): as "Issue key" and "Create an account" (decision 0190), each form carries
a one-time id made when its page is shown, so one email goes and one password is set, and the second answer is the
first's result page, the new password shown once, not an error and not a second password."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal
from services.portal.tests.unit.test_forms_sent_twice import MemorySentForms

from portal.accounts import AccountChange, Role, SignInOutcome
from portal.web import account_pages

EMAIL = "kai@ao.example"


@pytest.fixture
def portal() -> StubbedPortal:
    stub = stubbed_portal(sends_reset_links=True)
    stub.uploads.forms = MemorySentForms()
    return stub


def sent_forms(portal: StubbedPortal) -> MemorySentForms:
    forms: MemorySentForms = portal.uploads.forms
    return forms


def form_id_of(page: str, action: str) -> str:
    """The one-time id of the page's form that posts to `action`."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert found is not None, f"no form posting to {action}"
    matched = re.search(r'name="form_id" value="([0-9a-f-]{36})"', found.group(1))
    assert matched is not None, f"the form posting to {action} has no one-time id"
    return matched.group(1)


def changes_of(portal: StubbedPortal, username: str, change: AccountChange) -> int:
    return sum(1 for kept in portal.accounts.changed if kept.subject == username and kept.change is change)


def test_each_email_link_form_and_each_reset_confirmation_has_a_fresh_one_time_id(portal: StubbedPortal) -> None:
    portal.account("kai", email=EMAIL)
    portal.account("lee", email="lee@ao.example")
    client, _ = portal.signed_in(Role.OPERATOR)

    pages = [client.get("/ops/accounts").text for _ in range(2)]
    links = [form_id_of(page, f"/ops/accounts/{name}/email-link") for page in pages for name in ("kai", "lee")]
    resets = [form_id_of(client.get("/ops/accounts/kai/reset-password").text, "/ops/accounts/kai/reset-password")]
    resets.append(form_id_of(client.get("/ops/accounts/kai/reset-password").text, "/ops/accounts/kai/reset-password"))
    disable = client.get("/ops/accounts/kai/disable").text

    assert len({*links, *resets}) == 6
    assert 'name="form_id"' not in disable  # disabling twice disables once already: it needs none


def test_email_link_sent_twice_sends_one_email_and_the_second_answer_is_the_first_page(portal: StubbedPortal) -> None:
    portal.account("kai", email=EMAIL)
    client, session = portal.signed_in(Role.OPERATOR)
    sent = form(session, form_id=str(uuid.uuid4()))  # as the page makes one

    first, second = (client.post("/ops/accounts/kai/email-link", data=sent) for _ in range(2))
    shown = client.get(second.headers["location"])  # the browser shows the second answer only
    third = client.post("/ops/accounts/kai/email-link", data=sent)  # later, from the Back button
    shown_later = shown_after(client, third)

    assert len(portal.mailer.sent) == 1
    assert changes_of(portal, "kai", AccountChange.PASSWORD_LINK_SENT) == 1
    assert [answer.status_code for answer in (first, second, third)] == [303, 303, 303]
    assert first.headers["location"] == second.headers["location"] == "/ops/accounts"
    assert shown.status_code == 200 and "Link emailed to kai" in shown.text and f"emailed to {EMAIL}" in shown.text
    assert "govuk-error-summary" not in shown.text and "govuk-error-summary" not in shown_later.text
    assert "This form was sent already: a link to choose a password was emailed to kai then" in shown_later.text
    assert "Link emailed to kai" not in shown_later.text


def test_a_new_email_link_form_sends_another_link(portal: StubbedPortal) -> None:
    """Sending another link is still possible: the page shown after the first gives the button a new id."""
    portal.account("kai", email=EMAIL)
    client, session = portal.signed_in(Role.OPERATOR)
    first_id = form_id_of(client.get("/ops/accounts").text, "/ops/accounts/kai/email-link")
    shown = shown_after(client, client.post("/ops/accounts/kai/email-link", data=form(session, form_id=first_id)))

    again_id = form_id_of(shown.text, "/ops/accounts/kai/email-link")
    client.post("/ops/accounts/kai/email-link", data=form(session, form_id=again_id))

    assert again_id != first_id and len(portal.mailer.sent) == 2


def test_an_email_link_that_could_not_go_gives_its_id_back(portal: StubbedPortal) -> None:
    portal.account("kai", email=EMAIL)
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = form_id_of(client.get("/ops/accounts").text, "/ops/accounts/kai/email-link")
    portal.mailer.refusing = True

    failed = client.post("/ops/accounts/kai/email-link", data=form(session, form_id=form_id))
    given_back = uuid.UUID(form_id) not in sent_forms(portal).rows
    portal.mailer.refusing = False
    again = client.post("/ops/accounts/kai/email-link", data=form(session, form_id=form_id))

    assert failed.status_code == 503 and given_back
    assert again.status_code == 303 and len(portal.mailer.sent) == 1


def test_a_double_click_on_email_link_waits_for_the_first_send(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second POST arrives while the first is still talking to the mail relay: it waits, sending nothing."""
    portal.account("kai", email=EMAIL)
    _client, session = portal.signed_in(Role.OPERATOR)
    sent = form(session, form_id=str(uuid.uuid4()))  # as the page makes one
    forms = sent_forms(portal)
    send = portal.mailer.send

    async def slow_send(message: object) -> None:
        await forms.claimed_again.wait()  # the second click has found the form being acted on
        await send(message)  # type: ignore[arg-type]

    monkeypatch.setattr(portal.mailer, "send", slow_send)

    async def double_click() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=portal.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            browser.cookies.set(portal.cookies.session_cookie, session.token)
            posts = (browser.post("/ops/accounts/kai/email-link", data=sent) for _ in range(2))
            answers = await asyncio.wait_for(asyncio.gather(*posts), timeout=10)
            return [*answers, await browser.get(answers[1].headers["location"])]

    first, second, shown = asyncio.run(double_click())

    assert len(portal.mailer.sent) == 1
    assert (first.status_code, second.status_code) == (303, 303)
    assert "Link emailed to kai" in shown.text


def test_reset_password_sent_twice_resets_once_and_shows_the_password_that_works(portal: StubbedPortal) -> None:
    portal.account("kai")
    client, session = portal.signed_in(Role.OPERATOR)
    sent = form(session, confirmed="yes", form_id=str(uuid.uuid4()))  # as the confirmation page makes one

    first, second = (client.post("/ops/accounts/kai/reset-password", data=sent) for _ in range(2))
    shown = client.get(second.headers["location"])  # the browser shows the second answer only
    third = client.post("/ops/accounts/kai/reset-password", data=sent)  # later, from the Back button
    shown_later = shown_after(client, third)

    assert changes_of(portal, "kai", AccountChange.PASSWORD_RESET) == 1
    assert [answer.status_code for answer in (first, second, third)] == [303, 303, 303]
    assert first.headers["location"] == second.headers["location"] == "/ops/accounts"
    [secret] = re.findall(r"data-secret>([^<]+)<", shown.text)  # the first's notice, unread until now
    assert "Password of kai reset" in shown.text and "New password for kai" in shown.text
    assert asyncio.run(portal.auth.sign_in("kai", secret)).outcome is SignInOutcome.SIGNED_IN
    assert "data-secret" not in shown_later.text and secret not in shown_later.text
    assert "This form was sent already: the password of kai was reset then" in shown_later.text
    assert "govuk-error-summary" not in shown.text and "govuk-error-summary" not in shown_later.text


def test_a_reset_still_under_way_past_the_wait_resets_nothing(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal.account("kai")
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = form_id_of(client.get("/ops/accounts/kai/reset-password").text, "/ops/accounts/kai/reset-password")
    asyncio.run(sent_forms(portal).claim(session.account.username, uuid.UUID(form_id), "reset_password"))  # acting
    monkeypatch.setattr(account_pages, "FORM_WAIT_SECONDS", 0.0)

    answer = client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes", form_id=form_id))
    shown = shown_after(client, answer)

    assert changes_of(portal, "kai", AccountChange.PASSWORD_RESET) == 0
    assert "This form was sent already: the password of kai is still being reset" in shown.text


def test_a_refused_reset_gives_its_id_back(portal: StubbedPortal) -> None:
    """A reset of an account disabled meanwhile sets nothing: once enabled, the same form resets it."""
    portal.account("kai")
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = form_id_of(client.get("/ops/accounts/kai/reset-password").text, "/ops/accounts/kai/reset-password")
    sent = form(session, confirmed="yes", form_id=form_id)
    asyncio.run(portal.auth.disable_account("kai", by="operator:tests"))

    refused = client.post("/ops/accounts/kai/reset-password", data=sent)
    asyncio.run(portal.auth.enable("kai", by="operator:tests"))
    again = client.post("/ops/accounts/kai/reset-password", data=sent)

    assert refused.status_code == 409 and "is disabled" in refused.text
    assert again.status_code == 303 and changes_of(portal, "kai", AccountChange.PASSWORD_RESET) == 1


def test_another_operators_reset_form_id_is_refused(portal: StubbedPortal) -> None:
    portal.account("kai")
    client, session = portal.signed_in(Role.OPERATOR)
    other, other_session = portal.signed_in(Role.OPERATOR)
    form_id = form_id_of(client.get("/ops/accounts/kai/reset-password").text, "/ops/accounts/kai/reset-password")
    assert client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes", form_id=form_id))

    answer = other.post("/ops/accounts/kai/reset-password", data=form(other_session, confirmed="yes", form_id=form_id))

    assert answer.status_code == 400 and changes_of(portal, "kai", AccountChange.PASSWORD_RESET) == 1
