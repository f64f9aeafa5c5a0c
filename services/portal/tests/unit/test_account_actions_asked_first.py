"""Disable, Enable again and Reset password on the accounts page each ask first on a page of their own, say what
they did once after, and never reset the signed-in operator's own password (that would end the session about to
show the new one)."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from portal.accounts import Role


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_an_operator_with_every_duty_is_offered_no_reset_of_their_own_password(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    me = session.account.username
    portal.account("root", Role.OPERATOR)

    listed = client.get("/ops/accounts").text
    asked = client.get(f"/ops/accounts/{me}/reset-password")
    refused = client.post(f"/ops/accounts/{me}/reset-password", data=form(session, confirmed="yes"))

    assert f'href="/ops/accounts/{me}/reset-password"' not in listed
    assert 'href="/ops/accounts/root/reset-password"' in listed
    for answer in (asked, refused):
        assert answer.status_code == 400 and 'href="#accounts"' in answer.text
        assert "You cannot reset your own password here: change it on the Change your password page" in answer.text
    assert [change.change.value for change in portal.accounts.changed if change.subject == me] == ["created"]
    assert client.get("/ops/accounts").status_code == 200  # still signed in


def test_disabling_an_account_asks_first_then_says_it_was_done_once(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")

    asked = client.get("/ops/accounts/kai/disable")
    unconfirmed = client.post("/ops/accounts/kai/disable", data=form(session))  # a form from before the step
    still_enabled = portal.accounts.rows["kai"][0].disabled_at is None
    answer = client.post("/ops/accounts/kai/disable", data=form(session, confirmed="yes", reason="Left the AO"))
    shown = shown_after(client, answer)
    reloaded = client.get("/ops/accounts")

    assert asked.status_code == 200
    assert "<title>Disable the account of kai? \u2013" in asked.text
    assert 'action="/ops/accounts/kai/disable"' in asked.text and 'name="confirmed" value="yes"' in asked.text
    assert (
        "Yes, disable kai" in asked.text and '<a class="govuk-link" href="/ops/accounts">No, keep it</a>' in asked.text
    )
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"] == "/ops/accounts/kai/disable"
    assert still_enabled
    assert answer.headers["location"] == "/ops/accounts"
    assert portal.accounts.rows["kai"][0].disabled_at is not None
    banner = re.search(r'<div class="govuk-notification-banner[^>]*data-account-done>', shown.text)
    assert banner is not None and 'role="alert"' in banner.group(0)  # govuk-frontend focuses it
    assert "Account kai disabled" in shown.text
    assert "Account kai disabled" not in reloaded.text


def test_resetting_a_password_asks_first_then_shows_the_new_one_under_a_banner(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")

    asked = client.get("/ops/accounts/kai/reset-password")
    unconfirmed = client.post("/ops/accounts/kai/reset-password", data=form(session))
    changes_unconfirmed = [change.change.value for change in portal.accounts.changed if change.subject == "kai"]
    shown = shown_after(client, client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes")))

    assert "Reset the password of kai?" in asked.text and "Yes, reset the password of kai" in asked.text
    assert unconfirmed.headers["location"] == "/ops/accounts/kai/reset-password"
    assert changes_unconfirmed == ["created"]
    assert "data-account-done" in shown.text and "Password of kai reset" in shown.text
    assert "data-secret" in shown.text and "New password for kai" in shown.text


def test_the_confirmation_page_refuses_what_the_action_would_refuse(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    portal.account("root", Role.OPERATOR)
    portal.account("kai")
    client.post("/ops/accounts/kai/disable", data=form(session, confirmed="yes", reason="Left the AO"))

    last_root = client.get("/ops/accounts/root/disable")
    own = client.get(f"/ops/accounts/{session.account.username}/disable")
    disabled_again = client.get("/ops/accounts/kai/disable")
    reset_disabled = client.get("/ops/accounts/kai/reset-password")
    operator_reset = client.get("/ops/accounts/root/reset-password")
    nobody = client.get("/ops/accounts/nobody/enable")

    assert last_root.status_code == 409 and "root is the last enabled operator with every duty" in last_root.text
    assert own.status_code == 400 and "You cannot disable your own account" in own.text
    assert disabled_again.status_code == 409 and "The account kai is disabled already" in disabled_again.text
    assert reset_disabled.status_code == 409 and "enable it again before resetting its password" in reset_disabled.text
    assert operator_reset.status_code == 403 and "reset an operator" in operator_reset.text
    assert nobody.status_code == 404


def test_disabling_an_account_asks_why_and_keeps_the_reason_in_the_record_of_changes(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")

    asked = client.get("/ops/accounts/kai/disable")
    without = client.post("/ops/accounts/kai/disable", data=form(session, confirmed="yes", reason="  "))
    still_enabled = portal.accounts.rows["kai"][0].disabled_at is None
    with_nul = client.post("/ops/accounts/kai/disable", data=form(session, confirmed="yes", reason="left\x00"))
    still_enabled_after_nul = portal.accounts.rows["kai"][0].disabled_at is None
    answer = client.post(
        "/ops/accounts/kai/disable", data=form(session, confirmed="yes", reason="Password may be in the wrong hands")
    )
    listed = shown_after(client, answer)

    assert 'name="reason"' in asked.text and "Why you are disabling the account" in asked.text
    assert without.status_code == 400 and without.text.count('href="#reason"') == 1
    assert "<title>Error: Disable the account of kai?" in without.text
    assert "Say why you are disabling the account: it is kept in the record of account changes" in without.text
    assert 'name="confirmed" value="yes"' in without.text  # the same question, asked again
    assert still_enabled
    assert with_nul.status_code == 400 and still_enabled_after_nul
    assert answer.status_code == 303 and portal.accounts.rows["kai"][0].disabled_at is not None
    kept = [(change.change.value, change.detail) for change in portal.accounts.changed if change.subject == "kai"]
    assert kept == [("created", "AO user of RN9093"), ("disabled", "Password may be in the wrong hands")]
    changes = listed.text[listed.text.index('data-table="account-changes"') :]
    assert "disabled: Password may be in the wrong hands" in changes
