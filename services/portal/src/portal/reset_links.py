"""Links by email to choose a password: for people who have forgotten theirs (decision 0128), and for a
new account's first one (decision 0129); the notices to an account's address that its address or its password
changed. Each email ends saying how to reach the LRS service desk. Pure: no I/O.

A link carries a random token (only its hash is stored), works once, for `valid_for` (a new account's for
`first_valid_for`), and only while the account's password is still the one it was sent for. An account is
sent at most `most_per_hour` forgotten-password links, so the page cannot be used to flood someone's mailbox, and
a client is answered at most `most_requests_per_client` requests in any 60 minutes (decision 0148), so that one
client can neither use up people's links nor make the portal mail many accounts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum

from lrs_contracts.text import shown_on_one_line
from lrs_platform.clock import time_on_day
from lrs_platform.mail import new_email
from portal.accounts import Account, AddressChange, one_address

RESET_PATH = "/account/reset/"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")  # what `sessions.new_token` makes
# Who asked for a link, as the audit of account changes says it: nobody signed in, so nobody known.
FORGOTTEN_PASSWORD_PAGE = "forgotten-password page"  # noqa: S105 - a name, not a password
CONTACT_PAGE = "/help/contact"  # the portal's page on contacting the LRS service desk (`help_pages.CONTACT`)


@dataclass(frozen=True)
class ServiceDesk:
    """The LRS service desk as the portal's emails name it (`PORTAL_SUPPORT_*`, as the contact page does), as the
    notifier's emails name it (`NOTIFIER_SERVICE_DESK_*`): every part optional. With an address, replies go to it
    (Reply-To); without one, the emails say replies are not read."""

    email: str | None = None
    phone: str | None = None
    hours: str | None = None

    def reached(self, public_url: str) -> str:
        """How to reach it, to follow "the LRS service desk": "at desk@lrs.example or on 0300 303 2000 (Monday to
        Friday, 9am to 5pm)"; with neither an address nor a telephone, where the portal's contact page is (its
        hours alone reach no one)."""
        ways = [f"at {self.email}" if self.email else None, f"on {self.phone}" if self.phone else None]
        said = " or ".join(way for way in ways if way)
        if not said:
            return f"(its page {public_url.rstrip('/')}{CONTACT_PAGE} says how)"
        return f"{said} ({self.hours})" if self.hours else said


@dataclass(frozen=True)
class ResetLinkPolicy:
    public_url: str  # the portal's address as people reach it: the links point there
    mail_from: str
    valid_for: timedelta = timedelta(minutes=30)
    most_per_hour: int = 3
    first_valid_for: timedelta = timedelta(hours=72)  # a new account's link: the person may be away a weekend
    most_requests_per_client: int = 10  # in any 60 minutes, whatever the usernames asked for
    desk: ServiceDesk = ServiceDesk()  # named at the end of every email, where to turn
    ao_names: Mapping[str, str] = field(default_factory=dict)  # the register's AO names, by AO id


CLIENTS_HOUR = timedelta(hours=1)  # a client's requests are judged by those of the 60 minutes before (0148)


class ClientRequest(StrEnum):
    """What becomes of a forgotten-password request, by its client's requests of the 60 minutes before it."""

    ANSWERED = "answered"  # within the client's share: the account is looked for, and sent a link if it may be
    FIRST_BEYOND = "first_beyond"  # the first beyond the share in 60 minutes: sends nothing, and is logged
    BEYOND = "beyond"  # sends nothing, and is not logged: a flood does not flood the log


@dataclass(frozen=True)
class KeptRequest:
    """A client's request as it is kept (decision 0148): when, and whether it was answered. A request beyond
    the share is kept only when it is the first in 60 minutes, so a flood keeps at most one row an hour."""

    at: datetime
    answered: bool


def judge_client_request(kept: Iterable[KeptRequest], now: datetime, most: int) -> ClientRequest:
    """A client's request at `now`, by its requests kept: answered while fewer than `most` were answered in the 60
    minutes before (a rolling hour: a client is never answered more than `most` in any 60 minutes, across a clock
    hour's turn too). Beyond them, the first in 60 minutes is said apart, to be logged once. A request kept with
    a time after `now` (a clock set back) counts as in the 60 minutes."""
    within = [request for request in kept if request.at > now - CLIENTS_HOUR]
    if sum(request.answered for request in within) < most:
        return ClientRequest.ANSWERED
    if any(not request.answered for request in within):
        return ClientRequest.BEYOND
    return ClientRequest.FIRST_BEYOND


def requesting_client(address: str) -> str:
    """What a forgotten-password request counts against: the client's IPv4 address, or its IPv6 address's /64,
    one network's, whose holder can vary the rest at will."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address ("testclient", a Unix socket's peer): counted as it is
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped or ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def is_token(text: str) -> bool:
    """Whether `text` can be a link's token at all (anything else is not looked up)."""
    return TOKEN_PATTERN.fullmatch(text) is not None


def link_to(policy: ResetLinkPolicy, token: str) -> str:
    return f"{policy.public_url.rstrip('/')}{RESET_PATH}{token}"


def sender_domain(mail_from: str) -> str:
    """The domain of the portal's From address ("LRS <lrs-portal@lrs.example>" gives lrs.example)."""
    _, at, domain = parseaddr(mail_from)[1].rpartition("@")
    return domain if at and domain else "lrs.local"


def _email(recipient: Address, subject: str, policy: ResetLinkPolicy) -> EmailMessage:
    """An email of the portal's to one mailbox, its body still to set."""
    message = new_email()
    message["From"] = policy.mail_from
    message["To"] = recipient
    message["Subject"] = subject
    # The sender's domain, as the notifier's (NotifierSettings.message_ids_domain): a Message-ID of another domain
    # than the From's scores as spam with some filters, and the portal's host may be an address (127.0.0.1).
    message["Message-ID"] = make_msgid(domain=sender_domain(policy.mail_from))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: an out-of-office reply is not sent back to it
    message["Date"] = format_datetime(datetime.now(UTC))  # RFC 5322 wants one; mail clients sort by it
    if policy.desk.email:  # the service desk: a person's reply reaches someone who reads it
        message["Reply-To"] = policy.desk.email
    return message


def _with_desk(body: str, policy: ResetLinkPolicy) -> str:
    """`body`, ended as the notifier's emails end: how to reach the LRS service desk, and that replies are not
    read when no desk address takes them (Reply-To)."""
    ending = f"\nQuestions: contact the LRS service desk {policy.desk.reached(policy.public_url)}.\n"
    if not policy.desk.email:
        ending += "This email was sent automatically: replies to it are not read.\n"
    return body + ending


def _ao_shown(ao_id: str, policy: ResetLinkPolicy) -> str:
    """The AO as the notifier's emails name it: "RN9093 Pearson Education Ltd", or its id alone when the register
    does not have it."""
    name = policy.ao_names.get(ao_id)
    return f"{ao_id} {shown_on_one_line(name)}" if name else ao_id


class NoAddress(ValueError):
    """The account's address is not one mailbox (stored before addresses were checked): nothing is sent."""


def reset_email(account: Account, link: str, expires_at: datetime, policy: ResetLinkPolicy) -> EmailMessage:
    """The email that carries the link to the account's address, and to nobody else (NoAddress)."""
    recipient = one_address(account.email or "")
    if recipient is None:
        raise NoAddress("the account's email address is not one mailbox")
    minutes = int(policy.valid_for.total_seconds() // 60)
    message = _email(recipient, "Reset your Organisation Portal password", policy)
    body = (
        f"Hello {account.display_name},\n\n"
        f"Someone asked to reset the password of your LRS Organisation Portal account, {account.username}.\n"
        f"If it was you, choose a new password here before {time_on_day(expires_at)} (UK time),"
        f" {minutes} minutes after you asked:\n\n"
        f"{link}\n\n"
        "The link works once. Your password stays as it is until you choose a new one, and choosing one\n"
        "signs you out everywhere.\n\n"
        "If you did not ask, ignore this email, and tell the LRS service desk if it happens again.\n"
    )
    message.set_content(_with_desk(body, policy))
    return message


def first_password_email(account: Account, link: str, expires_at: datetime, policy: ResetLinkPolicy) -> EmailMessage:
    """The email that tells the person their new account exists and carries the link to choose its password
    (decision 0129), to the account's address only (NoAddress)."""
    recipient = one_address(account.email or "")
    if recipient is None:
        raise NoAddress("the account's email address is not one mailbox")
    acting_for = f"for {_ao_shown(account.ao_id, policy)}" if account.ao_id else "as an LRS operator"
    message = _email(recipient, "Your Organisation Portal account: choose your password", policy)
    body = (
        f"Hello {account.display_name},\n\n"
        f"An account on the LRS Organisation Portal has been made for you {acting_for}. Your username is"
        f" {account.username}.\n"
        f"Choose your password here before {time_on_day(expires_at)} (UK time):\n\n"
        f"{link}\n\n"
        "The link works once. Nobody else is shown your password, and nobody from the LRS will ever ask you\n"
        'for it. If the link has stopped working, use "Forgotten your password?" on the sign-in page at\n'
        f"{policy.public_url.rstrip('/')}/sign-in\n\n"
        "If you did not expect an account, tell the LRS service desk.\n"
    )
    message.set_content(_with_desk(body, policy))
    return message


def operator_link_email(account: Account, link: str, expires_at: datetime, policy: ResetLinkPolicy) -> EmailMessage:
    """The email carrying a link an operator sent the person (decision 0129): after a first link ran out, or for
    someone who cannot get in. To the account's address only (NoAddress)."""
    recipient = one_address(account.email or "")
    if recipient is None:
        raise NoAddress("the account's email address is not one mailbox")
    message = _email(recipient, "Choose your Organisation Portal password", policy)
    body = (
        f"Hello {account.display_name},\n\n"
        f"An LRS operator has sent you this link to choose a password for your LRS Organisation Portal account,"
        f" {account.username}.\n"
        f"Choose it here before {time_on_day(expires_at)} (UK time):\n\n"
        f"{link}\n\n"
        "The link works once. Until you use it, any password you have stays as it is; choosing one signs you out\n"
        "everywhere. Nobody from the LRS will ever ask you for your password.\n\n"
        "If you did not expect this, tell the LRS service desk.\n"
    )
    message.set_content(_with_desk(body, policy))
    return message


def old_address_told(change: AddressChange) -> bool:
    """Whether the address an account had is told of the change (`address_changed_email`): not when there was none
    (or it is not one mailbox), nor for a disabled account, whose links stopped working when it was disabled: its
    address was removed or changed so that nothing more goes to the person."""
    return change.changed and change.account.disabled_at is None and one_address(change.previous or "") is not None


def address_changed_email(change: AddressChange, changed_at: datetime, policy: ResetLinkPolicy) -> EmailMessage | None:
    """The notice to the address an account had, that links to choose a new password no longer go there (for an
    address removed: to no address); None when it is not told (`old_address_told`). The new address is not in it."""
    recipient = one_address(change.previous or "")
    if recipient is None or not old_address_told(change):
        return None
    account = change.account
    who = "an LRS operator" if change.by_operator else "someone signed in as you, with your password"
    removed = not account.email
    subject = "has been removed" if removed else "has changed"
    message = _email(recipient, f"The email address of your Organisation Portal account {subject}", policy)
    what = "was removed at" if removed else "was changed at"
    where = (
        "No links to choose a password are sent to any address now; any sent here before no longer work.\n\n"
        if removed
        else "Links to choose a new password now go to the new address, not to this one; any sent here before\n"
        "no longer work.\n\n"
    )
    body = (
        f"Hello {account.display_name},\n\n"
        f"The email address of your LRS Organisation Portal account, {account.username}, {what}"
        f" {time_on_day(changed_at)} (UK time) by {who}.\n"
        f"{where}"
        "If you did not expect this, tell the LRS service desk at once.\n"
    )
    message.set_content(_with_desk(body, policy))
    return message


class PasswordChangedBy(StrEnum):
    """How an account's password was changed, as the notice to its address says it."""

    OWNER = "owner"  # on the account's page, given the password it replaced
    LINK = "link"  # with a link to choose a password, sent to the account's address (0128, 0129)
    OPERATOR = "operator"  # an operator's reset: they were shown the new password


_PASSWORD_CHANGED_BY = {
    PasswordChangedBy.OWNER: "changed at {when} (UK time) by someone signed in as you, with your password",
    PasswordChangedBy.LINK: "set at {when} (UK time) with a link to choose a password that was sent to this address",
    PasswordChangedBy.OPERATOR: "reset at {when} (UK time) by an LRS operator, who was shown the new password to give"
    " you",
}


def password_changed_email(
    account: Account, changed_at: datetime, by: PasswordChangedBy, policy: ResetLinkPolicy
) -> EmailMessage | None:
    """The notice to the account's address that its password changed (as decision 0128 tells an address that it is
    no longer the account's), so a change nobody expected is seen by the one who should see it; None when the
    account has no address (or one that is not one mailbox). The password is not in it."""
    recipient = one_address(account.email or "")
    if recipient is None:
        return None
    what = _PASSWORD_CHANGED_BY[by].format(when=f"{time_on_day(changed_at)}")
    if by is PasswordChangedBy.OPERATOR:
        after = "Sign in with the password they give you; the portal then asks you to choose one only you know.\n"
        unexpected = "If you did not ask for this"
    else:
        after, unexpected = "", "If this was not you"
    message = _email(recipient, "The password of your Organisation Portal account has changed", policy)
    body = (
        f"Hello {account.display_name},\n\n"
        f"The password of your LRS Organisation Portal account, {account.username}, was {what}.\n"
        "Anyone who was signed in to the account has been signed out.\n"
        f"{after}\n"
        f"{unexpected}, tell the LRS service desk at once.\n"
    )
    message.set_content(_with_desk(body, policy))
    return message
