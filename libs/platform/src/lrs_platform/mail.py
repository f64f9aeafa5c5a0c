"""SMTP adapter: sends one message, and says whether a failure is worth retrying. The notifier sends its
emails with it, the portal its password-reset links."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib


class MailError(Exception):
    """`permanent`: this message will never go; `about_recipient`: the relay refused its recipient for now
    (a full mailbox, greylisting), not the relay being away."""

    def __init__(self, detail: str, *, permanent: bool, about_recipient: bool = False) -> None:
        super().__init__(detail)
        self.permanent = permanent
        self.about_recipient = about_recipient


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSettings(Protocol):
    """A service's settings for its relay (`<SERVICE>_SMTP_*`), but the host, which it may not have."""

    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_starttls(self) -> bool: ...
    @property
    def smtp_username(self) -> str | None: ...
    @property
    def smtp_password(self) -> str | None: ...
    @property
    def smtp_timeout_seconds(self) -> float: ...


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        start_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._host = host
        self._port = port
        self._start_tls = start_tls
        self._username = username
        self._password = password
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                start_tls=self._start_tls,
                username=self._username,
                password=self._password,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [response.code for response in error.recipients]
            permanent = all(code >= 500 for code in codes)
            raise MailError(f"recipients refused: {codes}", permanent=permanent, about_recipient=True) from error
        except aiosmtplib.SMTPNotSupported as error:  # e.g. an address in UTF-8 and a relay without SMTPUTF8
            raise MailError(f"not supported by the relay: {type(error).__name__}", permanent=True) from error
        except aiosmtplib.SMTPResponseException as error:
            raise MailError(f"SMTP {error.code}", permanent=error.code >= 500) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise MailError(type(error).__name__, permanent=False) from error


def smtp_mailer(host: str, settings: SmtpSettings) -> SmtpMailer:
    """The mailer for the relay at `host` as a service's settings describe it."""
    return SmtpMailer(
        host,
        settings.smtp_port,
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
    )
