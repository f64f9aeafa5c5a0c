"""Decision 0130: an operator's action that did something sends the browser on to a page (303), which shows
what it did once; reloading that page sends nothing again and shows no secret again."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from portal.accounts import Role

EMAIL = "kai@ao.example"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


def test_a_reset_password_is_shown_once_and_a_reload_resets_nothing(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")

    answer = client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes"))
    shown = shown_after(client, answer)
    reloaded = client.get(answer.headers["location"])

    assert answer.headers["location"] == "/ops/accounts"
    [password] = re.findall(r"data-secret>([^<]+)<", shown.text)
    assert "New password for kai" in shown.text
    assert "data-secret" not in reloaded.text and "New password for kai" not in reloaded.text
    assert [change.change.value for change in portal.accounts.changed if change.subject == "kai"] == [
        "created",
        "password_reset",
    ]
    assert password not in str(portal.sessions.rows)  # kept sealed while it waited


def test_an_emailed_link_is_said_once_and_a_reload_sends_no_second_email(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai", email=EMAIL)

    shown = shown_after(client, client.post("/ops/accounts/kai/email-link", data=form(session)))
    reloaded = client.get("/ops/accounts")

    assert "Link emailed to kai" in shown.text and "Link emailed to kai" not in reloaded.text
    assert len(portal.mailer.sent) == 1


def test_a_notice_waits_for_its_own_page_and_is_not_shown_on_another(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="exam office"))
    elsewhere = client.get("/ops/accounts/changes")
    shown = client.get(answer.headers["location"])
    another_session, _ = portal.signed_in(Role.OPERATOR)

    assert answer.status_code == 303 and answer.headers["location"] == "/ops/accounts?keys_of=RN5133"
    assert elsewhere.status_code == 200 and "API key for ao:RN5133" not in elsewhere.text
    assert "API key for ao:RN5133 (shown once)" in shown.text and "data-secret" in shown.text
    assert "data-secret" not in another_session.get("/ops/accounts").text
