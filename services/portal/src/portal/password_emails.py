"""The portal's emails about passwords: a link to choose a new one for a forgotten password, and a notice to
the address an account had when its address changes, as that is where the links stop going (decision 0128);
a new account's link to choose its first password (decision 0129)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from lrs_platform.logging import get_logger
from lrs_platform.mail import Mailer, MailError
from portal.accounts import Account, AddressChange, username_from
from portal.reset_links import (
    FORGOTTEN_PASSWORD_PAGE,
    ClientRequest,
    ResetLinkPolicy,
    address_changed_email,
    first_password_email,
    link_to,
    operator_link_email,
    requesting_client,
    reset_email,
)
from portal.sessions import new_token, token_hash
from portal.store import FirstPasswordLink, LinkRefusal

_log = get_logger("portal.password_emails")


class ResetLinks(Protocol):
    """Where links are kept, and requests for them counted (`store.AccountStore`)."""

    async def count_link_request(self, client: str, *, most_per_hour: int) -> ClientRequest: ...

    async def keep_reset_link(
        self, username: str, token_hash: str, expires_at: datetime, *, most_per_hour: int, requested_by: str
    ) -> Account | LinkRefusal: ...

    async def send_operator_link(
        self,
        username: str,
        token_hash: str,
        expires_at: datetime,
        *,
        most_per_hour: int,
        by: str,
        deliver: Callable[[Account], Awaitable[None]],
    ) -> Account: ...


class PasswordEmails:
    """The portal's emails about passwords. A forgotten-password link and an address-change notice are sent
    after the page has answered and reach only the log when they fail; a link an operator's action sends (a
    new account's, or to an existing one) is sent while the operator waits, who is told when it fails."""

    def __init__(
        self,
        links: ResetLinks,
        mailer: Mailer,
        policy: ResetLinkPolicy,
        *,
        most_at_once: int = 8,
        send_within: float = 20.0,
    ) -> None:
        """`send_within`: seconds in all that an email an operator waits for may take."""
        self._links = links
        self._send_within = send_within
        self._mailer = mailer
        self.policy = policy
        self._most_at_once = most_at_once
        self._under_way = 0

    async def send_link(self, typed_username: str, *, client: str) -> bool:
        """Sends a link to the email address of the account `typed_username` names, if it has one, is not
        disabled and has not had its hourly share of links, and the client (its address) has not made its
        share of requests in the last 60 minutes. Whoever asked is told the same whatever happens (the page runs
        this after answering), so nothing here says whether an account exists, nor raises; the log says what
        happened, naming no one. At most `most_at_once` go at once: beyond them a request is dropped, so a flood of
        requests cannot hold the database's connections or the relay. True when an email went."""
        if self._under_way >= self._most_at_once:
            _log.warning("reset_link_not_sent", reason="too_many_at_once")
            return False
        self._under_way += 1
        try:
            return await self._within_clients_share(client) and await self._send_link(typed_username)
        except Exception as error:  # whatever it is, the person was answered already: only the log hears of it
            _log.warning("reset_link_not_sent", reason="failed", error=type(error).__name__)
            return False
        finally:
            self._under_way -= 1

    async def _within_clients_share(self, client: str) -> bool:
        """Counts the request against its client's share of the last 60 minutes; the first beyond it is logged,
        once in 60 minutes, naming neither the client nor the username."""
        most = self.policy.most_requests_per_client
        judged = await self._links.count_link_request(requesting_client(client), most_per_hour=most)
        if judged is ClientRequest.FIRST_BEYOND:
            _log.warning("reset_link_not_sent", reason="client_share_used", most_per_hour=most)
        return judged is ClientRequest.ANSWERED

    async def _send_link(self, typed_username: str) -> bool:
        username = username_from(typed_username)
        if username is None:
            _log.info("reset_link_not_sent", reason="malformed_username")
            return False
        token = new_token()
        expires_at = datetime.now(UTC) + self.policy.valid_for
        account = await self._links.keep_reset_link(
            username,
            token_hash(token),
            expires_at,
            most_per_hour=self.policy.most_per_hour,
            requested_by=FORGOTTEN_PASSWORD_PAGE,
        )
        if isinstance(account, LinkRefusal):  # the reason only: an operator can tell why, nobody else
            _log.info("reset_link_not_sent", reason=account.value)
            return False
        try:
            await self._mailer.send(reset_email(account, link_to(self.policy, token), expires_at, self.policy))
        except MailError as error:
            _log.warning("reset_link_not_delivered", role=account.role.value, ao_id=account.ao_id, error=str(error))
            return False
        _log.info("reset_link_sent", role=account.role.value, ao_id=account.ao_id)
        return True

    async def send_operators_link(self, username: str, *, by: str) -> tuple[Account, datetime]:
        """A link an operator (`by`) sends the account's person to choose a password (decision 0129), working as
        long as a new account's: the account and when the link stops working. LinkRefused (the store's) says
        why none could be kept; MailError when the email could not go (nothing kept)."""
        token = new_token()
        expires_at = datetime.now(UTC) + self.policy.first_valid_for

        async def deliver(account: Account) -> None:
            await self._send_within_time(
                operator_link_email(account, link_to(self.policy, token), expires_at, self.policy)
            )
            _log.info("operator_link_sent", role=account.role.value, ao_id=account.ao_id)

        account = await self._links.send_operator_link(
            username,
            token_hash(token),
            expires_at,
            most_per_hour=self.policy.most_per_hour,
            by=by,
            deliver=deliver,
        )
        return account, expires_at

    async def _send_within_time(self, message: EmailMessage) -> None:
        """Sends `message` while an operator waits, for `send_within` seconds in all (the relay's own timeout
        holds per SMTP step only)."""
        try:
            async with asyncio.timeout(self._send_within):
                await self._mailer.send(message)
        except TimeoutError as error:
            raise MailError(f"no answer from the relay in {self._send_within:g} s", permanent=False) from error

    def first_password_link(self, account: Account) -> FirstPasswordLink:
        """A new account's link to choose its first password (decision 0129), delivered by the account store
        before the account is committed: an operator waits for it and is told if it cannot go (MailError)."""
        token = new_token()
        expires_at = datetime.now(UTC) + self.policy.first_valid_for
        message = first_password_email(account, link_to(self.policy, token), expires_at, self.policy)

        async def deliver() -> None:
            await self._send_within_time(message)
            _log.info("first_password_link_sent", role=account.role.value, ao_id=account.ao_id)

        return FirstPasswordLink(token_hash(token), expires_at, deliver)

    async def tell_old_address(self, change: AddressChange) -> bool:
        """Tells the address an account had that it is no longer where its links go (decision 0128), so a
        change nobody expected is seen by the one who should see it. Run after the answer, as `send_link`;
        True when an email went."""
        notice = address_changed_email(change, datetime.now(UTC), self.policy)
        if notice is None:
            return False
        try:
            await self._mailer.send(notice)
        except Exception as error:  # the change is made: only the log hears of a notice that did not go
            _log.warning("address_notice_not_sent", error=type(error).__name__)
            return False
        _log.info("address_notice_sent", role=change.account.role.value, ao_id=change.account.ao_id)
        return True
