"""The portal's emails against a relay that is slow or away (mail walk, findings 9 and 3).

A relay that had a new account's first-password email and answered its end after `PORTAL_SMTP_TIMEOUT_SECONDS`
delivered it, yet the portal did not create the account: the person's link did not work, and "Forgotten your
password?" could not either. Now a relay handed the whole email and not confirming it in time keeps the account
and its link. The emails were counted nowhere (only a log line), and every forgotten-password link the relay never
took used one of the account's 3 links an hour. Through the real mailer to an aiosmtpd relay that keeps each
message and answers its end only when the test lets it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiosmtpd import smtp
from prometheus_client import REGISTRY, generate_latest
from services.portal.tests.unit.stubbed_portal import RESET_LINKS, StubbedPortal, stubbed_portal

from lrs_platform.mail import SmtpMailer
from portal.accounts import AccountChange, Role
from portal.password_emails import PasswordEmails
from portal.sessions import token_hash

EMAIL = "nia@ao.example"
LINK = re.compile(re.escape(RESET_LINKS.public_url) + r"/account/reset/([A-Za-z0-9_-]+)")
T = TypeVar("T")


class LateRelay:
    """Keeps each message, and answers the end of its DATA only once `answer` is set (after the portal gave up)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.answer = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode())
        await self.answer.wait()
        return "250 2.0.0 queued"


def through_a_late_relay(portal: StubbedPortal, send: Callable[[PasswordEmails], Awaitable[T]]) -> tuple[T, str]:
    """What `send` returned with the portal's emails going through a relay that has each message and answers after
    the operator's 0.3 s; and the message the relay got."""

    async def sent() -> tuple[T, str]:
        relay = LateRelay()
        server = await asyncio.get_running_loop().create_server(lambda: smtp.SMTP(relay), "127.0.0.1", 0)
        mailer = SmtpMailer("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5, message_timeout=60)
        try:
            answered = await send(PasswordEmails(portal.accounts, mailer, RESET_LINKS, send_within=0.3))
        finally:
            relay.answer.set()
            server.close()
            await server.wait_closed()
        [message] = relay.messages
        return answered, message

    return asyncio.run(sent())


def counted(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("lrs_portal_emails_total", {"kind": kind, "outcome": outcome}) or 0.0


def link_in(message: str) -> str:
    found = LINK.search(message.replace("=\r\n", "").replace("=\n", ""))
    assert found, "the email holds no link"
    return found.group(1)


def test_a_first_link_the_relay_has_but_confirms_late_keeps_the_account_and_its_link() -> None:
    portal = stubbed_portal()
    before = counted("first_link", "unconfirmed")

    account, message = through_a_late_relay(
        portal,
        lambda links: portal.auth.create_account_with_link("nia", "Nia", Role.AO, "RN5133", EMAIL, by="t", links=links),
    )

    assert account.username == "nia" and "nia" in portal.accounts.rows, "the account the email is for exists"
    holder = asyncio.run(portal.accounts.reset_link_holder(token_hash(link_in(message))))
    assert holder is not None and holder.username == "nia", "the link the person received works"
    assert counted("first_link", "unconfirmed") == before + 1


def test_an_operators_link_the_relay_has_but_confirms_late_is_kept_and_works() -> None:
    portal = stubbed_portal()
    portal.account("nia", email=EMAIL)
    before = counted("operator_link", "unconfirmed")

    (account, _), message = through_a_late_relay(
        portal, lambda links: portal.auth.email_password_link("nia", by="operator:desk", links=links)
    )

    assert account.username == "nia"
    holder = asyncio.run(portal.accounts.reset_link_holder(token_hash(link_in(message))))
    assert holder is not None and holder.username == "nia"
    assert portal.accounts.changed[-1].change is AccountChange.PASSWORD_LINK_SENT
    assert counted("operator_link", "unconfirmed") == before + 1


def test_forgotten_password_links_the_relay_never_took_leave_the_hours_share_and_are_counted_failed() -> None:
    portal = stubbed_portal(sends_reset_links=True)
    portal.account("nia", email=EMAIL)
    emails = portal.app.state.portal.password_emails
    failed, sent = counted("reset_link", "failed"), counted("reset_link", "sent")

    portal.mailer.refusing = True
    for client in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):  # as many as an hour allows, none delivered
        assert not asyncio.run(emails.send_link("nia", client=client))
    portal.mailer.refusing = False

    assert asyncio.run(emails.send_link("nia", client="203.0.113.4")), "the relay back, a link goes"
    assert len(portal.mailer.sent) == 1 and len(portal.accounts.reset_links) == 1
    assert (counted("reset_link", "failed"), counted("reset_link", "sent")) == (failed + 3, sent + 1)


def test_every_kind_and_outcome_of_the_portals_emails_is_exported_from_zero() -> None:
    stubbed_portal()
    exported = generate_latest().decode()
    for kind in ("reset_link", "first_link", "operator_link", "address_notice"):
        for outcome in ("sent", "failed", "unconfirmed"):
            assert f'lrs_portal_emails_total{{kind="{kind}",outcome="{outcome}"}}' in exported
