"""The portal's emails about passwords: a link to choose a new one for a forgotten password, and a notice to
the address an account had when its address changes, as that is where the links stop going (decision 0128);
a new account's link to choose its first password (decision 0129)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from lrs_platform.logging import get_logger
from lrs_platform.mail import Mailer, MailError, send_within
from portal.accounts import Account, AddressChange, username_from
from portal.metrics import (
    ADDRESS_NOTICE,
    EMAILS,
    FAILED,
    FIRST_LINK,
    OPERATOR_LINK,
    PASSWORD_NOTICE,
    RESET_LINK,
    SENT,
    UNCONFIRMED,
)
from portal.reset_links import (
    FORGOTTEN_PASSWORD_PAGE,
    ClientRequest,
    PasswordChangedBy,
    ResetLinkPolicy,
    address_changed_email,
    first_password_email,
    link_to,
    operator_link_email,
    password_changed_email,
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

    async def forget_reset_link(self, token_hash: str) -> None: ...

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
        hashed = token_hash(token)
        expires_at = datetime.now(UTC) + self.policy.valid_for
        account = await self._links.keep_reset_link(
            username,
            hashed,
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
            if error.may_have_gone:  # the link is kept: it works if the email arrives
                EMAILS.labels(RESET_LINK, UNCONFIRMED).inc()
                _log.warning("reset_link_unconfirmed", role=account.role.value, ao_id=account.ao_id, error=str(error))
                return True
            EMAILS.labels(RESET_LINK, FAILED).inc()
            # a link never delivered does not use one of the account's links of the hour
            await self._links.forget_reset_link(hashed)
            _log.warning("reset_link_not_delivered", role=account.role.value, ao_id=account.ao_id, error=str(error))
            return False
        EMAILS.labels(RESET_LINK, SENT).inc()
        _log.info("reset_link_sent", role=account.role.value, ao_id=account.ao_id)
        return True

    async def send_operators_link(self, username: str, *, by: str) -> tuple[Account, datetime]:
        """A link an operator (`by`) sends the account's person to choose a password (decision 0129), working as
        long as a new account's: the account and when the link stops working. LinkRefused (the store's) says
        why none could be kept; MailError when the email could not go (nothing kept). One the relay was handed
        but did not confirm in time may have gone: the link is kept (`_sent_or_unconfirmed`)."""
        token = new_token()
        expires_at = datetime.now(UTC) + self.policy.first_valid_for

        async def deliver(account: Account) -> None:
            message = operator_link_email(account, link_to(self.policy, token), expires_at, self.policy)
            await self._sent_or_unconfirmed(message, OPERATOR_LINK, account, logged="operator_link")

        account = await self._links.send_operator_link(
            username,
            token_hash(token),
            expires_at,
            most_per_hour=self.policy.most_per_hour,
            by=by,
            deliver=deliver,
        )
        return account, expires_at

    async def _sent_or_unconfirmed(self, message: EmailMessage, kind: str, account: Account, *, logged: str) -> None:
        """Sends an operator's link while they wait, for `send_within` seconds in all (the relay's own timeout holds
        per SMTP step only). MailError when it did not go. A relay that was handed the whole email and did not
        confirm it in time may have it (it did, and the account it was for was not created: mail walk, finding 9):
        returns, so that the link is kept, logged `<logged>_unconfirmed`: if the person gets nothing, another link
        is sent."""
        try:
            await send_within(self._mailer, message, self._send_within)
        except MailError as error:
            if not error.may_have_gone:
                EMAILS.labels(kind, FAILED).inc()
                raise
            EMAILS.labels(kind, UNCONFIRMED).inc()
            _log.warning(f"{logged}_unconfirmed", role=account.role.value, ao_id=account.ao_id, error=str(error))
            return
        EMAILS.labels(kind, SENT).inc()
        _log.info(f"{logged}_sent", role=account.role.value, ao_id=account.ao_id)

    def first_password_link(self, account: Account) -> FirstPasswordLink:
        """A new account's link to choose its first password (decision 0129), delivered by the account store
        before the account is committed: an operator waits for it and is told if it cannot go (MailError)."""
        token = new_token()
        expires_at = datetime.now(UTC) + self.policy.first_valid_for
        message = first_password_email(account, link_to(self.policy, token), expires_at, self.policy)

        async def deliver() -> None:
            await self._sent_or_unconfirmed(message, FIRST_LINK, account, logged="first_password_link")

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
        except Exception as error:  # the change is made: only the log and the metric hear of a notice that did not go
            gone = isinstance(error, MailError) and error.may_have_gone
            EMAILS.labels(ADDRESS_NOTICE, UNCONFIRMED if gone else FAILED).inc()
            _log.warning(
                "address_notice_unconfirmed" if gone else "address_notice_not_sent", error=type(error).__name__
            )
            return gone
        EMAILS.labels(ADDRESS_NOTICE, SENT).inc()
        _log.info("address_notice_sent", role=change.account.role.value, ao_id=change.account.ao_id)
        return True

    async def tell_password_changed(self, account: Account, by: PasswordChangedBy) -> bool:
        """Tells the account's address that its password changed, as `tell_old_address` tells of an address
        changed: a change nobody expected is seen. Run after the answer; True when an email went (none for an
        account without an address)."""
        notice = password_changed_email(account, datetime.now(UTC), by, self.policy)
        if notice is None:
            return False
        try:
            await self._mailer.send(notice)
        except Exception as error:  # the password is changed: only the log and the metric hear of a notice not gone
            gone = isinstance(error, MailError) and error.may_have_gone
            EMAILS.labels(PASSWORD_NOTICE, UNCONFIRMED if gone else FAILED).inc()
            _log.warning("password_notice_not_sent", error=type(error).__name__)
            return False
        EMAILS.labels(PASSWORD_NOTICE, SENT).inc()
        _log.info("password_notice_sent", role=account.role.value, ao_id=account.ao_id, by=by.value)
        return True
