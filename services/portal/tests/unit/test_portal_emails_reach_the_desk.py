"""The portal's own emails say where to turn, as the notifier's do: the LRS service desk (`PORTAL_SUPPORT_*`, or the
portal's page on contacting it), replies going to its address (Reply-To) or said not to be read; a new account's
email names its AO as the register does. And a password changed, by a link, by an operator or by the person, is
told to the account's address, as an address changed is (decision 0128), so a change nobody expected is seen."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import structlog.testing
from fastapi.testclient import TestClient
from httpx import Response
from services.portal.tests.unit.stubbed_portal import (
    AO_ID,
    RESET_LINKS,
    MemoryAccounts,
    StubbedPortal,
    form,
    shown_after,
    stubbed_portal,
)

from lrs_contracts.environments import Environment
from lrs_domain.reference_files import load_register
from lrs_platform.identity import Principal
from portal import bootstrap
from portal.accounts import Account, AddressChange, Role, SignInOutcome
from portal.config import PortalSettings
from portal.csrf import FIELD
from portal.password_emails import PasswordEmails
from portal.reset_links import (
    CONTACT_PAGE,
    PasswordChangedBy,
    ResetLinkPolicy,
    ServiceDesk,
    address_changed_email,
    first_password_email,
    operator_link_email,
    password_changed_email,
    reset_email,
)
from portal.web.help_pages import CONTACT

EMAIL = "nia@ao.example"
NEW = "correct horse battery staple"
DESK = ServiceDesk("lrs-desk@lrs.test", "0300 303 2000", "Monday to Friday, 9am to 5pm")
NOT_READ = "This email was sent automatically: replies to it are not read."
CHANGED = "The password of your Organisation Portal account has changed"
WHEN = re.compile(r"at \d\d:\d\d on [1-9]\d? [A-Z][a-z]+ \d{4} \(UK time\)")
BEARER = {"Authorization": "Bearer lrs_k_s"}
PEARSON = load_register()[AO_ID].name  # the AO the stubbed portal's accounts are for


class OperatorKeys:
    environment = Environment.LIVE

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:desk", frozenset())


def every_email(policy: ResetLinkPolicy) -> list[EmailMessage]:
    account = Account("nia", "Nia", Role.AO, AO_ID, EMAIL)
    at = datetime.now(UTC) + timedelta(minutes=30)
    link = f"{policy.public_url}/account/reset/x"
    sent = [make(account, link, at, policy) for make in (reset_email, first_password_email, operator_link_email)]
    notices = [
        address_changed_email(AddressChange(account, "old@ao.example", by_operator=True), at, policy),
        *(password_changed_email(account, at, by, policy) for by in PasswordChangedBy),
    ]
    assert None not in notices
    return [*sent, *(notice for notice in notices if notice is not None)]


def with_policy(portal: StubbedPortal, policy: ResetLinkPolicy) -> StubbedPortal:
    emails = PasswordEmails(portal.accounts, portal.mailer, policy)
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, password_emails=emails)
    return portal


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


# --- finding: the emails say where to turn --------------------------------------------------------------------


def test_without_a_desk_set_every_email_sends_the_reader_to_the_contact_page_and_says_replies_are_not_read() -> None:
    for message in every_email(RESET_LINKS):
        body = message.get_content()
        subject = message["Subject"]
        assert "Questions: contact the LRS service desk (its page https://portal.test/help/contact says how)." in body
        assert body.rstrip().endswith(NOT_READ), subject
        assert message["Reply-To"] is None, subject
        assert "your LRS operator" not in body, subject  # someone an AO's staff do not know how to reach
    assert CONTACT_PAGE == CONTACT  # the page the emails name is the portal's own


def test_with_a_desk_address_every_email_names_it_and_replies_go_to_it() -> None:
    for message in every_email(dataclasses.replace(RESET_LINKS, desk=DESK)):
        body = message.get_content()
        reached = "at lrs-desk@lrs.test or on 0300 303 2000 (Monday to Friday, 9am to 5pm)"
        assert f"Questions: contact the LRS service desk {reached}." in body, message["Subject"]
        assert message["Reply-To"] == "lrs-desk@lrs.test", message["Subject"]
        assert NOT_READ not in body and "/help/contact" not in body


def test_with_a_desk_telephone_alone_the_emails_name_it_and_say_replies_are_not_read() -> None:
    policy = dataclasses.replace(RESET_LINKS, desk=ServiceDesk(phone="0300 303 2000", hours="weekdays"))
    for message in every_email(policy):
        body = message.get_content()
        assert "Questions: contact the LRS service desk on 0300 303 2000 (weekdays)." in body
        assert body.rstrip().endswith(NOT_READ) and message["Reply-To"] is None


def test_the_desk_is_read_from_the_portals_support_settings_and_ao_names_from_what_it_is_given() -> None:
    settings = PortalSettings(
        public_url="https://portal.lrs.example",
        smtp_host="relay",
        support_email="lrs-desk@lrs.example",
        support_phone="0300 303 2000",
        support_hours="Monday to Friday, 9am to 5pm",
    )

    sending = bootstrap._password_emails(settings, MemoryAccounts(), {AO_ID: PEARSON})  # type: ignore[arg-type]

    assert sending is not None
    assert sending.policy.desk == ServiceDesk("lrs-desk@lrs.example", "0300 303 2000", "Monday to Friday, 9am to 5pm")
    assert sending.policy.ao_names == {AO_ID: PEARSON}


def test_a_new_accounts_email_names_its_ao_as_the_register_does(portal: StubbedPortal) -> None:
    policy = dataclasses.replace(RESET_LINKS, desk=DESK, ao_names={AO_ID: PEARSON})
    with_policy(portal, policy)
    client, session = portal.signed_in(Role.OPERATOR)
    values = {"username": "nia", "display_name": "Nia Jones", "role": "ao", "ao_id": AO_ID, "email": EMAIL}

    created = client.post("/ops/accounts", data=form(session, **values, first_link="yes"))

    assert created.status_code == 303, created.text
    [email] = portal.mailer.sent
    assert f"has been made for you for {AO_ID} {PEARSON}." in email.get_content()
    assert email["Reply-To"] == DESK.email
    unknown = Account("kai", "Kai", Role.AO, "RN5133", EMAIL)  # not in the names: its id alone
    body = first_password_email(unknown, "x", datetime.now(UTC), policy).get_content()
    assert "made for you for RN5133." in body


# --- finding: a password changed is told to the account's address -----------------------------------------------


def _form_token(page: Response) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found, "the page has no form token"
    return found.group(1)


def _notices(portal: StubbedPortal) -> list[EmailMessage]:
    return [message for message in portal.mailer.sent if message["Subject"] == CHANGED]


def test_a_password_chosen_with_a_forgotten_password_link_is_told_to_the_accounts_address(
    portal: StubbedPortal,
) -> None:
    portal.account("nia.lost", email=EMAIL)
    client = portal.client()
    token_page = client.get("/account/forgotten-password")
    client.post("/account/forgotten-password", data={FIELD: _form_token(token_page), "username": "nia.lost"})
    [link_email] = portal.mailer.sent
    found = re.search(r"/account/reset/([A-Za-z0-9_-]+)", link_email.get_content())
    assert found
    token = found.group(1)
    chooser = client.get(f"/account/reset/{token}")

    chosen = client.post(
        f"/account/reset/{token}",
        data={FIELD: _form_token(chooser), "new_password": NEW, "new_password_again": NEW},
    )

    assert (chosen.status_code, chosen.headers["location"]) == (303, "/sign-in?password_reset=1")
    [notice] = _notices(portal)
    body = notice.get_content()
    assert notice["To"] == EMAIL and notice["Auto-Submitted"] == "auto-generated"
    assert "The password of your LRS Organisation Portal account, nia.lost, was set " in body
    assert WHEN.search(body) and "with a link to choose a password that was sent to this address" in body
    assert "If this was not you, tell the LRS service desk at once." in body
    assert body.rstrip().endswith(NOT_READ) and NEW not in body
    client.cookies.set(portal.cookies.sign_in_cookie, _form_token(chooser))  # as a double-click's second sends it
    again = client.post(  # answered as the first, which told the address already
        f"/account/reset/{token}",
        data={FIELD: _form_token(chooser), "new_password": NEW, "new_password_again": NEW},
    )
    assert again.headers["location"] == "/sign-in?password_reset=1" and len(_notices(portal)) == 1


def test_a_persons_own_change_of_password_is_told_to_their_address(portal: StubbedPortal) -> None:
    _, password = portal.account("nia", email=EMAIL)
    session = asyncio.run(portal.auth.sign_in("nia", password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)
    values = {"current_password": password, "new_password": NEW, "new_password_again": NEW}

    changed = client.post("/account/password", data=form(session, **values))

    assert changed.headers["location"] == "/sign-in?password_changed=1"
    [notice] = _notices(portal)
    body = notice.get_content()
    assert notice["To"] == EMAIL and "account, nia, was changed " in body and WHEN.search(body)
    assert "by someone signed in as you, with your password" in body and NEW not in body and password not in body
    assert "If this was not you, tell the LRS service desk at once." in body


def test_a_wrong_current_password_changes_nothing_and_tells_nobody(portal: StubbedPortal) -> None:
    _, password = portal.account("kai", email="kai@ao.example")
    session = asyncio.run(portal.auth.sign_in("kai", password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)
    values = {"current_password": "not the password", "new_password": NEW, "new_password_again": NEW}

    refused = client.post("/account/password", data=form(session, **values))

    assert refused.status_code == 400 and not _notices(portal)


def test_an_operators_reset_on_the_accounts_page_is_told_to_the_accounts_address(portal: StubbedPortal) -> None:
    portal.account("kai", email=EMAIL)
    client, session = portal.signed_in(Role.OPERATOR)

    reset = client.post("/ops/accounts/kai/reset-password", data=form(session, confirmed="yes"))
    shown = shown_after(client, reset)

    [secret] = re.findall(r"data-secret>([^<]+)<", shown.text)
    [notice] = _notices(portal)
    body = notice.get_content()
    assert notice["To"] == EMAIL and "account, kai, was reset " in body and WHEN.search(body)
    assert "by an LRS operator, who was shown the new password to give you" in body
    assert "If you did not ask for this, tell the LRS service desk at once." in body
    assert secret not in body  # the password reaches the person through the operator only


def test_an_operators_reset_by_the_api_is_told_to_the_accounts_address_and_none_without_one(
    portal: StubbedPortal,
) -> None:
    portal.app.state.credentials = OperatorKeys()
    portal.account("kai", email=EMAIL)
    portal.account("noa")
    client = portal.client()

    told = client.post("/v1/admin/users/kai/reset-password", headers=BEARER)
    untold = client.post("/v1/admin/users/noa/reset-password", headers=BEARER)

    assert (told.status_code, untold.status_code) == (200, 200)
    [notice] = _notices(portal)
    assert notice["To"] == EMAIL and "by an LRS operator" in notice.get_content()
    assert told.json()["password"] not in notice.get_content()
    no_address = Account("noa", "Noa", Role.AO, AO_ID)
    assert password_changed_email(no_address, datetime.now(UTC), PasswordChangedBy.LINK, RESET_LINKS) is None


def test_a_notice_that_cannot_go_reaches_the_log_naming_no_one_and_the_password_stays_changed(
    portal: StubbedPortal,
) -> None:
    portal.app.state.credentials = OperatorKeys()
    portal.account("kai", email=EMAIL)
    portal.mailer.refusing = True

    with structlog.testing.capture_logs() as logs:
        reset = portal.client().post("/v1/admin/users/kai/reset-password", headers=BEARER)

    assert reset.status_code == 200
    assert asyncio.run(portal.auth.sign_in("kai", reset.json()["password"])).outcome is SignInOutcome.SIGNED_IN
    [failed] = [entry for entry in logs if entry["event"] == "password_notice_not_sent"]
    assert failed["error"] == "MailError" and failed["log_level"] == "warning"
    assert EMAIL not in str(logs) and "kai" not in str(logs)


def test_a_portal_without_a_relay_resets_as_before() -> None:
    portal = stubbed_portal()
    portal.app.state.credentials = OperatorKeys()
    portal.account("kai", email=EMAIL)

    reset = TestClient(portal.app).post("/v1/admin/users/kai/reset-password", headers=BEARER)

    assert reset.status_code == 200 and not portal.mailer.sent
