"""A form says every field's error at once in its error summary (GOV.UK's pattern), not one a submission: the
accounts page's new account, and a person's own email address."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from portal.accounts import Role, account_errors


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


def summary_links(html: str) -> dict[str, str]:
    """The error summary's links: the field each goes to, and what it says."""
    summary = (
        html.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0] if "govuk-error-summary" in html else ""
    )
    return dict(re.findall(r'<li><a href="#([a-z_]+)">([^<]+)</a></li>', summary))


def test_every_rule_a_new_account_breaks_is_found_with_its_field() -> None:
    errors = account_errors("No Such User!", " ", Role.AO, "9037", "not an address", ["keys"])

    assert set(errors) == {"username", "display_name", "ao_id", "scopes", "email"}
    assert account_errors("nia", "Nia", Role.AO, "RN5133", "nia@ao.example") == {}
    assert set(account_errors("No Such User!", "Nia", None, "RN12", "")) == {"username"}  # no role: its rules unjudged


def test_a_new_account_with_every_field_wrong_says_every_error_at_once(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    typed = {
        "username": "Nia Example",
        "display_name": "",
        "role": "ao",
        "ao_id": "RN12",
        "email": "nia@",
        "first_link": "yes",
    }

    answer = client.post("/ops/accounts", data=form(session, **typed))

    assert answer.status_code == 400
    assert answer.text.count("<title>Error: Accounts and keys") == 1
    assert list(summary_links(answer.text)) == ["username", "display_name", "ao_id", "email"]  # the form's order
    assert summary_links(answer.text)["display_name"] == "Enter the person&#39;s name."
    assert 'value="Nia Example"' in answer.text  # what was typed is kept
    assert set(portal.accounts.rows) == {session.account.username}


def test_a_new_operator_with_no_duty_chosen_and_a_bad_name_says_both(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    answer = client.post(
        "/ops/accounts", data=form(session, username="oncall", display_name="\x07", role="operator", ao_id="RN5133")
    )

    assert answer.status_code == 400
    assert set(summary_links(answer.text)) == {"display_name", "ao_id", "duties"}


def test_a_link_asked_for_without_an_address_says_so_beside_the_other_errors(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    answer = client.post(
        "/ops/accounts",
        data=form(session, username="nia", display_name="", role="ao", ao_id="RN5133", first_link="yes"),
    )

    assert summary_links(answer.text) == {
        "display_name": "Enter the person&#39;s name.",
        "email": "Enter the email address to send the link to.",
    }


def test_a_bad_address_and_no_password_are_both_said_on_the_own_email_page(portal: StubbedPortal) -> None:
    client, session = portal.signed_in()

    answer = client.post("/account/email", data=form(session, email="me@", current_password=""))

    assert answer.status_code == 400
    assert list(summary_links(answer.text)) == ["email", "current_password"]
    assert "in the correct format" in summary_links(answer.text)["email"]
    assert summary_links(answer.text)["current_password"] == "Enter your password"
