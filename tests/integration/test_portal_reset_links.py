"""Decision 0128 on real PostgreSQL and a real SMTP server: a forgotten-password link is kept only as its
hash, reaches the account's address, works once, for a while, and only until the password changes some
other way; requests at once each count towards the hourly share (a client's: of the last 60 minutes); choosing
a password through it ends the account's sessions and revokes their keys."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import pytest
from tests.support.mail import Inbox, smtp_server
from tests.support.portal_accounts import PortalStores, portal_stores

from lrs_platform.mail import SmtpMailer
from portal.accounts import AccountChange, LockoutPolicy, PasswordChange, Role, SignInOutcome
from portal.auth import LinkNotSent, utc_now
from portal.password_emails import PasswordEmails
from portal.reset_links import FORGOTTEN_PASSWORD_PAGE, ResetLinkPolicy, requesting_client
from portal.store import AccountExists, AccountStore, LinkRefused

pytestmark = pytest.mark.integration

EMAIL = "kai@ao.example"
NEW = "a long and new password"
POLICY = ResetLinkPolicy("https://portal.lrs.test", "portal@lrs.test", timedelta(minutes=30), most_per_hour=3)
LINK = re.compile(r"https://portal\.lrs\.test/account/reset/([A-Za-z0-9_-]+)")
CLIENT = "203.0.113.7"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def portal(fresh_database_url: str) -> AsyncIterator[PortalStores]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as stores:
        yield stores


def _forgotten(portal: PortalStores, inbox: Inbox) -> PasswordEmails:
    return PasswordEmails(AccountStore(portal.pool), SmtpMailer("127.0.0.1", inbox.port, timeout=5), POLICY)


def _token_in(inbox: Inbox) -> str:
    found = LINK.search(inbox.messages[-1].get_content())
    assert found, "the email holds no link"
    return found.group(1)


async def test_a_link_reaches_the_accounts_address_and_works_once(portal: PortalStores, inbox: Inbox) -> None:
    account, given = await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    session = (await portal.auth.sign_in("kai", given)).session
    assert session is not None

    assert await _forgotten(portal, inbox).send_link("Kai", client=CLIENT)
    token = _token_in(inbox)
    stored = await portal.pool.fetch("SELECT token_hash FROM portal.password_reset_links")
    holder = await portal.auth.reset_link_holder(token)
    reset = await portal.auth.reset_password_by_link(token, NEW)
    again = await portal.auth.reset_password_by_link(token, "yet another long password")

    assert [message["To"] for message in inbox.messages] == [EMAIL]
    assert [row["token_hash"] for row in stored] != [token] and token not in str(stored)  # only its hash kept
    assert holder is not None and holder.username == "kai" and reset is not None and again is None
    assert (await portal.auth.sign_in("kai", NEW)).outcome is SignInOutcome.SIGNED_IN
    assert (await portal.auth.sign_in("kai", given)).outcome is SignInOutcome.WRONG_CREDENTIALS
    assert await portal.auth.session_for(session.token) is None
    assert await portal.credentials.authenticate(session.service_key) is None
    changes = [(c.changed_by, c.subject, c.change) for c in await portal.auth.changes(limit=2)]
    assert changes == [
        (account.who, "kai", AccountChange.PASSWORD_RESET_BY_LINK),
        (FORGOTTEN_PASSWORD_PAGE, "kai", AccountChange.RESET_LINK_REQUESTED),
    ]


async def test_a_link_stops_working_when_it_runs_out_or_the_password_changes(
    portal: PortalStores, inbox: Inbox
) -> None:
    _, given = await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    forgotten = _forgotten(portal, inbox)
    await forgotten.send_link("kai", client=CLIENT)
    expired = _token_in(inbox)
    await forgotten.send_link("kai", client=CLIENT)
    outlived = _token_in(inbox)
    await portal.pool.execute("UPDATE portal.password_reset_links SET expires_at = now() - interval '1 second'")
    await forgotten.send_link("kai", client=CLIENT)
    replaced = _token_in(inbox)

    assert await portal.auth.reset_link_holder(expired) is None
    assert await portal.auth.reset_link_holder(outlived) is None
    assert await portal.auth.change_own_password("kai", given, NEW) is PasswordChange.CHANGED  # their own change
    assert await portal.auth.reset_link_holder(replaced) is None
    assert await portal.auth.reset_password_by_link(replaced, "yet another long password") is None


async def test_requests_at_once_each_count_towards_the_hourly_share(portal: PortalStores, inbox: Inbox) -> None:
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    forgotten = _forgotten(portal, inbox)

    sent = await asyncio.gather(*(forgotten.send_link("kai", client=CLIENT) for _ in range(8)))

    assert sum(sent) == POLICY.most_per_hour == len(inbox.messages)
    assert await portal.pool.fetchval("SELECT count(*) FROM portal.password_reset_links") == POLICY.most_per_hour


async def test_links_anyone_asked_for_leave_an_operator_their_own_share(portal: PortalStores, inbox: Inbox) -> None:
    """A stranger who knows a username used up its share of forgotten-password links, and the operator helping the
    person could send none (a code review): operators' links are counted apart, from the audit."""
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    forgotten = _forgotten(portal, inbox)
    for n in range(POLICY.most_per_hour + 1):
        await forgotten.send_link("kai", client=f"198.51.100.{n}")

    for _ in range(POLICY.most_per_hour):
        await forgotten.send_operators_link("kai", by="operator:helpdesk")
    with pytest.raises(LinkRefused):  # theirs is a share too
        await forgotten.send_operators_link("kai", by="operator:helpdesk")

    assert len(inbox.messages) == 2 * POLICY.most_per_hour


async def test_requests_at_once_from_one_client_each_count_towards_its_hourly_share(
    portal: PortalStores, inbox: Inbox
) -> None:
    """Decision 0148: whatever the usernames, one client's requests beyond its share send nothing."""
    usernames = [f"kai.{n}" for n in range(6)]
    for username in usernames:
        await portal.auth.create_account(username, "Kai", Role.AO, "RN5133", f"{username}@ao.example", by="operator:t")
    policy = replace(POLICY, most_requests_per_client=4)
    forgotten = PasswordEmails(AccountStore(portal.pool), SmtpMailer("127.0.0.1", inbox.port, timeout=5), policy)

    sent = await asyncio.gather(*(forgotten.send_link(username, client=CLIENT) for username in usernames))
    another_client = await forgotten.send_link(usernames[-1], client="2001:db8::7")

    assert sum(sent) == policy.most_requests_per_client and another_client
    assert len(inbox.messages) == policy.most_requests_per_client + 1
    counted = await portal.pool.fetch(
        "SELECT client_hash, count(*) FILTER (WHERE answered) AS answered, count(*) AS kept"
        " FROM portal.link_requests_by_client GROUP BY client_hash"
    )
    # the client's 4 answered and its first beyond them (to be logged once); the other client's 1
    assert sorted((row["answered"], row["kept"]) for row in counted) == [(1, 1), (4, 5)]
    assert not any(CLIENT in row["client_hash"] or "2001" in row["client_hash"] for row in counted)
    await AccountStore(portal.pool).forget_link_requests_before(utc_now() + timedelta(hours=1))
    assert await portal.pool.fetchval("SELECT count(*) FROM portal.link_requests_by_client") == 0


async def test_a_clients_share_is_of_the_last_60_minutes_whatever_the_clock_hour(
    portal: PortalStores, inbox: Inbox
) -> None:
    """Decision 0148: requests made 59 minutes ago count, whichever clock hour they were in; 61 minutes ago they no
    longer do, and the sweep forgets them."""
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    store = AccountStore(portal.pool)
    policy = replace(POLICY, most_requests_per_client=2)
    forgotten = PasswordEmails(store, SmtpMailer("127.0.0.1", inbox.port, timeout=5), policy)
    client_hash = hashlib.sha256(requesting_client(CLIENT).encode()).hexdigest()
    await portal.pool.executemany(
        "INSERT INTO portal.link_requests_by_client (client_hash, requested_at, answered)"
        " VALUES ($1, now() - interval '59 minutes', true)",
        [(client_hash,), (client_hash,)],
    )

    refused = await forgotten.send_link("kai", client=CLIENT)
    await portal.pool.execute(
        "UPDATE portal.link_requests_by_client SET requested_at = requested_at - interval '2 minutes'"
    )
    answered = await forgotten.send_link("kai", client=CLIENT)
    await store.forget_link_requests_before(utc_now() - timedelta(hours=1))

    assert not refused and answered and len(inbox.messages) == 1
    left = await portal.pool.fetch("SELECT client_hash, answered FROM portal.link_requests_by_client")
    # the refusal (2 minutes old: the next beyond the share is not logged) and the request answered now
    assert sorted((row["client_hash"], row["answered"]) for row in left) == [(client_hash, False), (client_hash, True)]


async def test_no_link_for_a_disabled_account_or_one_without_an_address(portal: PortalStores, inbox: Inbox) -> None:
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    await portal.auth.create_account("noa", "Noa", Role.OPERATOR, None, None, by="operator:tests")
    forgotten = _forgotten(portal, inbox)
    await forgotten.send_link("kai", client=CLIENT)
    token = _token_in(inbox)
    await portal.auth.disable_account("kai", by="operator:tests")

    assert not await forgotten.send_link("kai", client=CLIENT) and not await forgotten.send_link("noa", client=CLIENT)
    assert not await forgotten.send_link("nobody", client=CLIENT)
    assert await portal.auth.reset_link_holder(token) is None  # disabled since it was sent
    assert len(inbox.messages) == 1


async def test_a_relay_that_is_away_loses_the_link_and_tells_only_the_log(portal: PortalStores) -> None:
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    with smtp_server() as stopped:
        port = stopped.port
    forgotten = PasswordEmails(AccountStore(portal.pool), SmtpMailer("127.0.0.1", port, timeout=2), POLICY)

    assert not await forgotten.send_link("kai", client=CLIENT)


async def test_a_new_address_ends_the_links_sent_to_the_old_one(portal: PortalStores, inbox: Inbox) -> None:
    _, given = await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    forgotten = _forgotten(portal, inbox)
    await forgotten.send_link("kai", client=CLIENT)
    to_old = _token_in(inbox)

    changed = await portal.auth.set_email("kai", "kai@new.example", by="operator:tests")
    same_again = await portal.auth.set_email("kai", "kai@new.example", by="operator:tests")
    assert await forgotten.tell_old_address(changed) and not await forgotten.tell_old_address(same_again)
    await forgotten.send_link("kai", client=CLIENT)
    wrong, _ = await portal.auth.change_own_email("kai", "not the password", "kai@mine.example")
    own, removed = await portal.auth.change_own_email("kai", given, None)

    assert await portal.auth.reset_link_holder(to_old) is None
    assert (changed.previous, changed.account.email, changed.changed) == (EMAIL, "kai@new.example", True)
    assert not same_again.changed
    [notice] = [message for message in inbox.messages if "has changed" in str(message["Subject"])]
    assert notice["To"] == EMAIL and "kai@new.example" not in notice.get_content()
    assert inbox.messages[-1]["To"] == "kai@new.example"  # the link asked for after the change
    assert (wrong, own) == (PasswordChange.WRONG_PASSWORD, PasswordChange.CHANGED)
    assert removed is not None and removed.previous == "kai@new.example" and removed.account.email is None
    changes = [(c.changed_by, c.change, c.detail) for c in await portal.auth.changes(limit=4)]
    assert changes == [
        ("kai (ao:RN5133)", AccountChange.EMAIL_CHANGED, "from kai@new.example to none"),
        (FORGOTTEN_PASSWORD_PAGE, AccountChange.RESET_LINK_REQUESTED, ""),
        ("operator:tests", AccountChange.EMAIL_CHANGED, f"from {EMAIL} to kai@new.example"),
        (FORGOTTEN_PASSWORD_PAGE, AccountChange.RESET_LINK_REQUESTED, ""),
    ]


async def test_an_operators_reset_or_another_link_used_ends_every_link_sent_before(
    portal: PortalStores, inbox: Inbox
) -> None:
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    forgotten = _forgotten(portal, inbox)
    await forgotten.send_link("kai", client=CLIENT)
    before_reset = _token_in(inbox)
    await portal.auth.reset_password("kai", by="operator:tests")
    await forgotten.send_link("kai", client=CLIENT)
    first = _token_in(inbox)
    await portal.pool.execute("UPDATE portal.password_reset_links SET created_at = created_at - interval '2 hours'")
    await forgotten.send_link("kai", client=CLIENT)
    second = _token_in(inbox)

    assert await portal.auth.reset_link_holder(before_reset) is None
    assert await portal.auth.reset_link_holder(first) is not None
    assert await portal.auth.reset_password_by_link(second, NEW) is not None
    assert await portal.auth.reset_link_holder(first) is None
    assert await portal.auth.reset_password_by_link(first, "yet another long password") is None


async def test_one_link_sent_twice_at_once_sets_one_password(portal: PortalStores, inbox: Inbox) -> None:
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    await _forgotten(portal, inbox).send_link("kai", client=CLIENT)
    token = _token_in(inbox)
    choices = [f"the chosen password number {n}" for n in range(4)]

    reset = await asyncio.gather(*(portal.auth.reset_password_by_link(token, choice) for choice in choices))

    [chosen] = [choice for choice, account in zip(choices, reset, strict=True) if account is not None]
    assert (await portal.auth.sign_in("kai", chosen)).outcome is SignInOutcome.SIGNED_IN
    assert (
        await portal.pool.fetchval(
            "SELECT count(*) FROM portal.account_changes WHERE change = $1", "password_reset_by_link"
        )
        == 1
    )


# --- a new account's first password (decision 0129) ----------------------------------------------------


async def test_a_new_accounts_link_lets_the_person_choose_its_first_password(
    portal: PortalStores, inbox: Inbox
) -> None:
    account = await portal.auth.create_account_with_link(
        "kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests", links=_forgotten(portal, inbox)
    )
    token = _token_in(inbox)
    row = await portal.pool.fetchrow(
        "SELECT a.password_given, l.expires_at - l.created_at AS lasts FROM portal.accounts a"
        " JOIN portal.password_reset_links l USING (username)"
    )
    holder = await portal.auth.reset_link_holder(token)
    chosen = await portal.auth.reset_password_by_link(token, NEW)

    assert [message["To"] for message in inbox.messages] == [EMAIL]
    assert "Your username is kai." in inbox.messages[0].get_content()
    assert row["password_given"] is False  # nobody was shown a password to give
    assert abs(row["lasts"] - POLICY.first_valid_for) < timedelta(minutes=1)
    assert holder == account and chosen is not None
    assert (await portal.auth.sign_in("kai", NEW)).outcome is SignInOutcome.SIGNED_IN
    changes = [(c.changed_by, c.change, c.detail) for c in reversed(await portal.auth.changes(limit=3))]
    assert changes == [
        ("operator:tests", AccountChange.CREATED, f"AO user of RN5133, email {EMAIL}"),
        ("operator:tests", AccountChange.FIRST_PASSWORD_LINK_SENT, f"to {EMAIL}"),
        (account.who, AccountChange.PASSWORD_RESET_BY_LINK, ""),
    ]


async def test_a_relay_that_is_away_creates_no_account(portal: PortalStores) -> None:
    with smtp_server() as stopped:
        port = stopped.port
    links = PasswordEmails(AccountStore(portal.pool), SmtpMailer("127.0.0.1", port, timeout=2), POLICY)

    with pytest.raises(LinkNotSent):
        await portal.auth.create_account_with_link("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:t", links=links)

    for table in ("accounts", "password_reset_links", "account_changes"):
        assert await portal.pool.fetchval(f"SELECT count(*) FROM portal.{table}") == 0, table


async def test_a_username_taken_sends_no_email(portal: PortalStores, inbox: Inbox) -> None:
    """A confirmation page reloaded posts the form again: the second creation must not email a second link."""
    links = _forgotten(portal, inbox)
    await portal.auth.create_account_with_link("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:t", links=links)

    with pytest.raises(AccountExists):
        await portal.auth.create_account_with_link("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:t", links=links)

    assert len(inbox.messages) == 1
    assert await portal.pool.fetchval("SELECT count(*) FROM portal.password_reset_links") == 1


async def test_an_operators_link_is_kept_only_if_it_went(portal: PortalStores, inbox: Inbox) -> None:
    _, given = await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    with smtp_server() as stopped:
        port = stopped.port
    away = PasswordEmails(AccountStore(portal.pool), SmtpMailer("127.0.0.1", port, timeout=2), POLICY)

    with pytest.raises(LinkNotSent):
        await portal.auth.email_password_link("kai", by="operator:desk", links=away)
    kept_after_failure = await portal.pool.fetchval("SELECT count(*) FROM portal.password_reset_links")
    audited_after_failure = [c.change for c in await portal.auth.changes(limit=5)]
    account, expires_at = await portal.auth.email_password_link(
        "kai", by="operator:desk", links=_forgotten(portal, inbox)
    )
    token = _token_in(inbox)

    assert kept_after_failure == 0
    assert audited_after_failure == [AccountChange.CREATED]
    assert account.username == "kai" and [message["To"] for message in inbox.messages] == [EMAIL]
    assert (await portal.auth.sign_in("kai", given)).outcome is SignInOutcome.SIGNED_IN  # until the link is used
    assert await portal.auth.reset_password_by_link(token, NEW) is not None
    assert (await portal.auth.sign_in("kai", given)).outcome is SignInOutcome.WRONG_CREDENTIALS
    changes = [(c.changed_by, c.change) for c in await portal.auth.changes(limit=2)]
    assert changes == [
        ("kai (ao:RN5133)", AccountChange.PASSWORD_RESET_BY_LINK),
        ("operator:desk", AccountChange.PASSWORD_LINK_SENT),
    ]
    stored = await portal.pool.fetchval("SELECT expires_at FROM portal.password_reset_links")
    assert stored == expires_at


class _SignInDuringSend:
    """A relay that takes its time: while it holds the email, the person tries to sign in."""

    def __init__(self, portal: PortalStores) -> None:
        self._portal = portal
        self.sign_in_took: float | None = None
        self.link_worked_before_sent: bool | None = None
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        started = time.monotonic()
        await asyncio.wait_for(self._portal.auth.sign_in("kai", "a wrong guess"), timeout=10)
        self.sign_in_took = time.monotonic() - started
        token = LINK.search(message.get_content())
        assert token is not None
        self.link_worked_before_sent = await self._portal.auth.reset_link_holder(token.group(1)) is not None
        self.sent.append(message)


async def test_an_operators_link_locks_nobody_out_while_the_relay_takes_it(portal: PortalStores) -> None:
    await portal.auth.create_account("kai", "Kai", Role.AO, "RN5133", EMAIL, by="operator:tests")
    relay = _SignInDuringSend(portal)
    links = PasswordEmails(AccountStore(portal.pool), relay, POLICY)

    await portal.auth.email_password_link("kai", by="operator:desk", links=links)

    assert relay.sign_in_took is not None and relay.sign_in_took < 2  # the account's row is not held meanwhile
    assert relay.link_worked_before_sent is False  # and the link works only once it has gone
    assert len(relay.sent) == 1
