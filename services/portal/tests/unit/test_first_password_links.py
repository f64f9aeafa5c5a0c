"""Decision 0129: an operator creating an account can have the person emailed a link to choose their own
password, so nobody is ever shown it; the account exists only if the email went."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from httpx import Response
from services.portal.tests.unit.stubbed_portal import (
    RESET_LINKS,
    MemoryMailer,
    StubbedPortal,
    form,
    shown_after,
    stubbed_portal,
)

from lrs_contracts.environments import Environment
from lrs_platform.identity import Principal
from lrs_platform.mail import MailError
from portal.accounts import Account, AccountChange, Role, SignInOutcome
from portal.auth import LinkNotSent
from portal.csrf import FIELD
from portal.password_emails import PasswordEmails
from portal.reset_links import NoAddress, first_password_email
from portal.web.common import CHANGE_WORDS

EMAIL = "nia@ao.example"
NEW = "correct horse battery staple"
LINK = re.compile(re.escape(RESET_LINKS.public_url) + r"/account/reset/([A-Za-z0-9_-]+)")
NEW_STAFF = {"username": "nia", "display_name": "Nia Jones", "role": "ao", "ao_id": "RN5133", "email": EMAIL}
BEARER = {"Authorization": "Bearer lrs_k_s"}


class OperatorKeys:
    environment = Environment.LIVE

    def __init__(self, scopes: frozenset[str] = frozenset()) -> None:
        self.scopes = scopes

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:desk", self.scopes)


class RefusingRelay(MemoryMailer):
    """A relay that refuses the recipient for good (550), as for a mistyped domain's address."""

    async def send(self, message: EmailMessage) -> None:
        raise MailError("recipients refused: [550]", permanent=True, about_recipient=True)


class SlowRelay(MemoryMailer):
    """A relay that answers each SMTP step just within its timeout: in all, it never finishes."""

    async def send(self, message: EmailMessage) -> None:
        await asyncio.Event().wait()


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


def _link_token(portal: StubbedPortal) -> str:
    found = LINK.search(portal.mailer.sent[-1].get_content())
    assert found, "the email holds no link"
    return found.group(1)


def _create(portal: StubbedPortal, **values: str) -> Response:
    """The page the operator sees after the form: the accounts page on success, the form's errors otherwise."""
    client, session = portal.signed_in(Role.OPERATOR)
    answer: Response = client.post("/ops/accounts", data=form(session, **{**NEW_STAFF, **values}))
    return shown_after(client, answer) if answer.is_redirect else answer


# --- the email (pure) ----------------------------------------------------------------------------------


def test_the_email_names_the_account_and_when_its_link_stops_working() -> None:
    account = Account("nia", "Nia Jones", Role.AO, "RN5133", EMAIL)
    expires_at = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)

    message = first_password_email(account, "https://portal.test/account/reset/abc", expires_at, RESET_LINKS)

    body = message.get_content()
    assert message["To"] == EMAIL and message["From"] == RESET_LINKS.mail_from
    assert "choose your password" in message["Subject"]
    assert "Your username is nia." in body and "for RN5133" in body
    assert "https://portal.test/account/reset/abc" in body
    assert "09:30 on 5 December 2026 (UK time)" in body  # GMT in December
    assert "https://portal.test/sign-in" in body  # where "Forgotten your password?" is, once it has expired
    with pytest.raises(NoAddress):
        first_password_email(Account("kai", "Kai", Role.AO, "RN5133", None), "x", expires_at, RESET_LINKS)


# --- the accounts page ---------------------------------------------------------------------------------


def test_a_new_account_gets_a_link_and_nobody_is_shown_its_password(portal: StubbedPortal) -> None:
    page = _create(portal, first_link="yes")

    [email] = portal.mailer.sent
    token = _link_token(portal)
    account, _ = portal.accounts.rows["nia"]
    assert page.status_code == 200, page.text
    assert "Account nia created" in page.text and f"emailed to {EMAIL}" in page.text and "72 hours" in page.text
    assert "data-secret" not in page.text  # no password on the page
    assert email["To"] == EMAIL and not account.password_given

    client = portal.client()
    chooser = client.get(f"/account/reset/{token}")
    values = {FIELD: re.findall(rf'name="{FIELD}" value="([^"]+)"', chooser.text)[0]}
    chosen = client.post(f"/account/reset/{token}", data={**values, "new_password": NEW, "new_password_again": NEW})

    assert chosen.status_code == 303
    assert asyncio.run(portal.auth.sign_in("nia", NEW)).outcome is SignInOutcome.SIGNED_IN
    kept = [(change.change, change.detail) for change in portal.accounts.changed if change.subject == "nia"]
    assert kept[1:] == [
        (AccountChange.FIRST_PASSWORD_LINK_SENT, f"to {EMAIL}"),
        (AccountChange.PASSWORD_RESET_BY_LINK, ""),
    ]
    assert CHANGE_WORDS[AccountChange.FIRST_PASSWORD_LINK_SENT.value] == "link to choose a first password emailed"


def test_the_link_is_offered_ticked_and_unticked_gives_a_password_as_before(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    offered = client.get("/ops/accounts").text
    given = _create(portal)  # the box left unticked

    assert re.search(r'<input[^>]+id="first_link"[^>]+checked', offered)
    assert "data-secret" in given.text and not portal.mailer.sent
    assert portal.accounts.rows["nia"][0].password_given


def test_without_a_mail_relay_the_page_offers_no_link() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR)

    assert 'id="first_link"' not in client.get("/ops/accounts").text


def test_a_link_needs_an_address(portal: StubbedPortal) -> None:
    page = _create(portal, first_link="yes", email="")

    assert page.status_code == 400
    assert "Enter the email address to send the link to" in page.text
    assert "nia" not in portal.accounts.rows and not portal.mailer.sent


def test_an_email_that_cannot_go_creates_no_account(portal: StubbedPortal) -> None:
    portal.mailer.refusing = True

    page = _create(portal, first_link="yes")

    assert page.status_code == 503
    assert "could not be sent (ConnectionRefusedError), so no account was created" in page.text
    assert 'id="first_link-error"' in page.text  # said at the box, not at the address
    assert "nia" not in portal.accounts.rows and not portal.accounts.reset_links
    assert not [change for change in portal.accounts.changed if change.subject == "nia"]


# --- the admin API -------------------------------------------------------------------------------------


def test_the_api_emails_a_link_when_asked_and_answers_no_password(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys()
    client = portal.client()

    linked = client.post("/v1/admin/users", json={**NEW_STAFF, "first_link": True}, headers=BEARER)
    given = client.post("/v1/admin/users", json={**NEW_STAFF, "username": "kai"}, headers=BEARER)

    assert linked.status_code == 201, linked.text
    assert linked.json()["password"] is None and linked.json()["first_link_sent_to"] == EMAIL
    assert given.json()["password"] and given.json()["first_link_sent_to"] is None
    assert [message["To"] for message in portal.mailer.sent] == [EMAIL]
    assert portal.accounts.changed[-2].changed_by == "operator:desk (API key)"


def test_the_api_refuses_a_link_it_cannot_send() -> None:
    without_relay = stubbed_portal()
    without_relay.app.state.credentials = OperatorKeys()
    with_relay = stubbed_portal(sends_reset_links=True)
    with_relay.app.state.credentials = OperatorKeys()
    with_relay.mailer.refusing = True

    no_relay = without_relay.client().post("/v1/admin/users", json={**NEW_STAFF, "first_link": True}, headers=BEARER)
    relay_away = with_relay.client().post("/v1/admin/users", json={**NEW_STAFF, "first_link": True}, headers=BEARER)

    assert no_relay.status_code == 422 and "no mail relay" in no_relay.json()["detail"]
    assert relay_away.status_code == 503 and "the account was not created" in relay_away.json()["detail"]
    assert not without_relay.accounts.rows and not with_relay.accounts.rows


def test_a_link_lasts_as_long_as_the_policy_says(portal: StubbedPortal) -> None:
    before = datetime.now(UTC)
    _create(portal, first_link="yes")

    [link] = portal.accounts.reset_links.values()
    assert before + timedelta(hours=72) <= link["expires_at"] <= datetime.now(UTC) + timedelta(hours=72)


def test_an_address_the_relay_refuses_for_good_is_said_to_be_checked(portal: StubbedPortal) -> None:
    portal.mailer.send = RefusingRelay().send  # type: ignore[method-assign]

    page = _create(portal, first_link="yes")

    assert page.status_code == 400
    assert "The mail relay refused this address (recipients refused: [550]): check it" in page.text
    assert "nia" not in portal.accounts.rows


def test_a_slow_relay_holds_a_creation_no_longer_than_its_time(portal: StubbedPortal) -> None:
    links = PasswordEmails(portal.accounts, SlowRelay(), RESET_LINKS, send_within=0.2)
    started = time.monotonic()

    with pytest.raises(LinkNotSent, match=r"no answer from the relay in 0.2 s") as raised:
        asyncio.run(portal.auth.create_account_with_link("nia", "Nia", Role.AO, "RN5133", EMAIL, by="t", links=links))

    assert time.monotonic() - started < 3 and not raised.value.about_address
    assert "nia" not in portal.accounts.rows


def test_a_form_asking_for_a_link_the_portal_cannot_send_creates_nothing() -> None:
    portal = stubbed_portal()  # no mail relay

    page = _create(portal, first_link="yes")

    assert page.status_code == 400 and "This portal cannot send email now" in page.text
    assert "nia" not in portal.accounts.rows


def test_a_key_limited_to_accounts_emails_no_link_for_an_operator_account(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys(frozenset({"accounts"}))
    operator = {**NEW_STAFF, "role": "operator", "ao_id": None, "every_duty": True, "first_link": True}

    answer = portal.client().post("/v1/admin/users", json=operator, headers=BEARER)

    assert answer.status_code == 403 and answer.json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert not portal.mailer.sent and "nia" not in portal.accounts.rows


# --- an operator's link for an existing account --------------------------------------------------------


def _email_link(portal: StubbedPortal, username: str, scopes: frozenset[str] = frozenset()) -> Response:
    client, session = portal.signed_in(Role.OPERATOR, scopes)
    answer: Response = client.post(f"/ops/accounts/{username}/email-link", data=form(session))
    return answer


def test_an_operator_emails_a_link_and_the_password_stays_until_it_is_used(portal: StubbedPortal) -> None:
    _, given = portal.account("kai", email=EMAIL)
    client, session = portal.signed_in(Role.OPERATOR)

    listed = client.get("/ops/accounts").text
    page = shown_after(client, client.post("/ops/accounts/kai/email-link", data=form(session)))

    [email] = portal.mailer.sent
    assert 'Email a password link<span class="govuk-visually-hidden"> to kai' in listed
    assert page.status_code == 200 and "Link emailed to kai" in page.text and f"emailed to {EMAIL}" in page.text
    assert email["To"] == EMAIL and "An LRS operator has sent you this link" in email.get_content()
    assert asyncio.run(portal.auth.sign_in("kai", given)).outcome is SignInOutcome.SIGNED_IN  # still works
    token = _link_token(portal)
    assert asyncio.run(portal.auth.reset_password_by_link(token, NEW)) is not None
    assert asyncio.run(portal.auth.sign_in("kai", NEW)).outcome is SignInOutcome.SIGNED_IN
    kept = [(c.changed_by, c.change) for c in portal.accounts.changed if c.subject == "kai"]
    assert kept[1] == (session.account.who, AccountChange.PASSWORD_LINK_SENT)
    assert CHANGE_WORDS[AccountChange.PASSWORD_LINK_SENT.value] == "link to choose a password emailed by an operator"


def test_no_link_for_an_account_without_an_address_or_from_an_operator_without_every_duty(
    portal: StubbedPortal,
) -> None:
    portal.account("kai")  # no address
    portal.account("ops.two", Role.OPERATOR, email="ops.two@lrs.example")

    listed = portal.signed_in(Role.OPERATOR)[0].get("/ops/accounts").text
    no_address = _email_link(portal, "kai")
    not_theirs = _email_link(portal, "ops.two", frozenset({"accounts"}))

    assert 'Email a password link<span class="govuk-visually-hidden"> to kai' not in listed
    assert no_address.status_code == 400
    assert "No link was sent to kai: The account has no email address: set one first." in no_address.text
    assert 'href="#accounts"' in no_address.text and 'id="accounts"' in no_address.text  # said at the table
    assert not_theirs.status_code == 403
    assert not portal.mailer.sent


def test_the_api_emails_a_link_within_the_hourly_share_and_keeps_none_that_did_not_go(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys()
    portal.account("kai", email=EMAIL)
    portal.account("noa")
    client = portal.client()

    sent = [client.post("/v1/admin/users/kai/password-link", headers=BEARER) for _ in range(RESET_LINKS.most_per_hour)]
    over = client.post("/v1/admin/users/kai/password-link", headers=BEARER)
    no_address = client.post("/v1/admin/users/noa/password-link", headers=BEARER)
    nobody = client.post("/v1/admin/users/nobody/password-link", headers=BEARER)

    assert [answer.status_code for answer in sent] == [200] * RESET_LINKS.most_per_hour
    assert sent[0].json()["sent_to"] == EMAIL and sent[0].json()["account"]["username"] == "kai"
    assert (over.status_code, no_address.status_code, nobody.status_code) == (429, 409, 404)
    assert over.headers["Retry-After"] == "3600"  # as rules.md tells a client to wait on TOO_MANY_REQUESTS
    assert len(portal.mailer.sent) == RESET_LINKS.most_per_hour

    portal.account("lou", email="lou@ao.example")
    portal.mailer.refusing = True
    away = client.post("/v1/admin/users/lou/password-link", headers=BEARER)
    assert away.status_code == 503 and "so none was kept: try again later" in away.json()["detail"]
    assert not [link for link in portal.accounts.reset_links.values() if link["username"] == "lou"]


def test_the_api_sends_no_link_to_a_disabled_account_nor_for_an_operator_with_a_scoped_key(
    portal: StubbedPortal,
) -> None:
    portal.account("kai", email=EMAIL)
    portal.account("ops.two", Role.OPERATOR, email="ops.two@lrs.example")
    asyncio.run(portal.auth.disable_account("kai", by="operator:tests"))
    portal.app.state.credentials = OperatorKeys(frozenset({"accounts"}))
    client = portal.client()

    disabled = client.post("/v1/admin/users/kai/password-link", headers=BEARER)
    operator = client.post("/v1/admin/users/ops.two/password-link", headers=BEARER)

    assert disabled.status_code == 409 and "The account is disabled." in disabled.json()["detail"]
    assert operator.status_code == 403 and operator.json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert not portal.mailer.sent


def test_a_relay_away_is_said_at_the_accounts_table_with_what_to_do(portal: StubbedPortal) -> None:
    portal.account("kai", email=EMAIL)
    portal.mailer.refusing = True

    page = _email_link(portal, "kai")

    assert page.status_code == 503
    assert "could not be sent (ConnectionRefusedError), so no link was kept. Try again later, or reset" in page.text
    assert not portal.accounts.reset_links
