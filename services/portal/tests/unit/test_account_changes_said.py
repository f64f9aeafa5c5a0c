"""What an operator did on the accounts page is said back: a colleague's email address or duties saved say so in a
focused banner (as disabling does), with what follows from it; the panel holding what is shown once (a new account's
password, a key's secret) takes focus, and the page's title says what was done."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from portal.accounts import Role
from portal.csrf import FIELD

EMAIL = "nia@ao.example"
SUFFIX = " \u2013 Accounts and keys \u2013 LRS Organisation Portal"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


def banner(html: str) -> str | None:
    """The focused Success banner of the accounts page: what it says, heading then body."""
    found = re.search(r'role="alert"[^>]*data-account-done>(.*?)</div>\s*</div>', html, re.DOTALL)
    return None if found is None else " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.DOTALL)
    assert found is not None
    return found.group(1)


def panel(html: str, marker: str) -> str:
    """The start tag of the confirmation panel carrying `marker`."""
    found = re.search(rf'<div class="govuk-panel govuk-panel--confirmation"[^>]*\s{marker}[\s>][^>]*>?', html)
    assert found is not None, marker
    return found.group(0)


def test_saving_an_operators_duties_says_which_and_that_they_sign_in_again(portal: StubbedPortal) -> None:
    portal.account("oncall", Role.OPERATOR, frozenset({"rebuild"}))
    client, session = portal.signed_in(Role.OPERATOR)

    limited = shown_after(
        client,
        client.post(
            "/ops/accounts/oncall/duties", data={**form(session, duties="only"), "scopes": ["rebuild", "dead-letters"]}
        ),
    )
    every = shown_after(client, client.post("/ops/accounts/oncall/duties", data=form(session, duties="every")))
    later = client.get("/ops/accounts")

    said = "Any session of theirs has ended: they sign in again to work with these duties."
    assert banner(limited.text) == f"Success Duties of oncall saved: dead-letters, rebuild {said}"  # the form's order
    assert banner(every.text) == f"Success Duties of oncall saved: every duty {said}"
    assert title(every.text) == f"Duties of oncall saved: every duty{SUFFIX}"
    assert banner(later.text) is None  # said once


def test_saving_a_colleagues_email_address_says_the_new_one_and_what_follows(portal: StubbedPortal) -> None:
    portal.account("nia", email=EMAIL)
    portal.account("kai")
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))

    def saved(username: str, email: str) -> str:
        answer = client.post(f"/ops/accounts/{username}/email", data={FIELD: session.csrf_token, "email": email})
        return shown_after(client, answer).text

    changed = saved("nia", "nia@new.example")
    same = saved("nia", "nia@new.example")
    removed = saved("nia", "")
    first = saved("kai", "kai@ao.example")

    assert banner(changed) == (
        "Success Email address of nia changed to nia@new.example Links to choose a password now go there."
        f" Any link sent to {EMAIL} no longer works, and {EMAIL} is told of the change."
    )
    assert title(changed) == f"Email address of nia changed{SUFFIX}"  # no address: browsers keep titles in history
    assert title(removed) == f"Email address of nia removed{SUFFIX}"
    assert banner(same) == "Success Email address of nia not changed Their address is nia@new.example already."
    assert banner(removed) == (
        "Success Email address of nia removed No link to choose a password can be emailed to them until they have"
        " an address again. Any link sent to nia@new.example no longer works, and nia@new.example is told of the"
        " change."
    )
    assert banner(first) == (
        "Success Email address of kai changed to kai@ao.example Links to choose a password now go there."
        " They had no email address before."
    )


def test_a_new_accounts_password_panel_takes_focus_and_the_title_says_it_was_created(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    details = {"username": "nia", "display_name": "Nia Jones", "role": "ao", "ao_id": "RN5133", "email": EMAIL}

    given = shown_after(client, client.post("/ops/accounts", data=form(session, **details, first_link="")))
    linked = shown_after(
        client, client.post("/ops/accounts", data=form(session, **{**details, "username": "kai"}, first_link="yes"))
    )

    assert title(given.text) == f"Account nia created{SUFFIX}"
    assert 'tabindex="-1" autofocus' in panel(given.text, "data-issued")
    assert title(linked.text) == f"Account kai created{SUFFIX}"
    assert 'tabindex="-1" autofocus' in panel(linked.text, "data-first-link-sent")
    assert "autofocus" not in client.get("/ops/accounts").text
    assert title(client.get("/ops/accounts").text) == "Accounts and keys \u2013 LRS Organisation Portal"


def test_a_keys_panel_takes_focus_and_the_title_says_it_was_issued(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    issued = shown_after(client, client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="exams")))

    assert title(issued.text) == f"API key issued for RN5133{SUFFIX}"
    assert 'tabindex="-1" autofocus' in panel(issued.text, "data-issued")
    assert issued.text.count("autofocus") == 1


def test_beside_a_banner_that_takes_focus_itself_a_reset_passwords_panel_does_not(portal: StubbedPortal) -> None:
    portal.account("kai")
    client, session = portal.signed_in(Role.OPERATOR)

    reset = shown_after(client, client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes")))

    assert title(reset.text) == f"Password of kai reset{SUFFIX}"
    assert "data-account-done" in reset.text and "autofocus" not in reset.text
