"""Forgotten passwords: a link by email to choose a new one (decision 0128)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from lrs_platform.logging import get_logger
from lrs_platform.mail import Mailer, MailError
from portal.accounts import Account, username_from
from portal.reset_links import FORGOTTEN_PASSWORD_PAGE, ResetLinkPolicy, link_to, reset_email
from portal.sessions import new_token, token_hash

_log = get_logger("portal.forgotten_passwords")


class ResetLinks(Protocol):
    """Where links are kept (`store.AccountStore`)."""

    async def keep_reset_link(
        self, username: str, token_hash: str, expires_at: datetime, *, most_per_hour: int, requested_by: str
    ) -> Account | None: ...


class ForgottenPasswords:
    def __init__(self, links: ResetLinks, mailer: Mailer, policy: ResetLinkPolicy) -> None:
        self._links = links
        self._mailer = mailer
        self.policy = policy

    async def send_link(self, typed_username: str) -> bool:
        """Sends a link to the email address of the account `typed_username` names, if it has one, is not
        disabled and has not had its hourly share of links. Whoever asked is told the same whatever happens
        (the page runs this after answering), so nothing here says whether an account exists; the log says
        what happened, naming no one. True when an email went."""
        username = username_from(typed_username)
        if username is None:
            _log.info("reset_link_not_sent", reason="malformed_username")
            return False
        token = new_token()
        expires_at = datetime.now(UTC) + self.policy.valid_for
        try:
            account = await self._links.keep_reset_link(
                username,
                token_hash(token),
                expires_at,
                most_per_hour=self.policy.most_per_hour,
                requested_by=FORGOTTEN_PASSWORD_PAGE,
            )
        except Exception as error:  # the database away: nobody to tell but the operators
            _log.warning("reset_link_not_sent", reason="not_stored", error=type(error).__name__)
            return False
        if account is None:
            _log.info("reset_link_not_sent", reason="no_such_account_or_address_or_too_many")
            return False
        try:
            await self._mailer.send(reset_email(account, link_to(self.policy, token), expires_at, self.policy))
        except MailError as error:
            _log.warning("reset_link_not_delivered", role=account.role.value, ao_id=account.ao_id, error=str(error))
            return False
        _log.info("reset_link_sent", role=account.role.value, ao_id=account.ao_id)
        return True
