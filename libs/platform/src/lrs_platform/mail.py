"""SMTP adapter: sends one message, and says whether a failure is worth retrying. The notifier sends its
emails with it, the portal its password-reset links."""

from __future__ import annotations

import contextlib
import copy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any, Protocol

import aiosmtplib
from aiosmtplib.email import extract_recipients, extract_sender


class _HeaderClassesMadeOnce(HeaderRegistry):
    """The standard library makes a new class for every header it sets or reads (`HeaderRegistry.__getitem__`),
    and each class is garbage in a reference cycle: ~70 KB an email that only a full collection frees, which the
    consumers run every few minutes (`FullCollections`). The class of a kind of header is made once here."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[object, type[BaseHeader]] = {}  # a kind of header -> the class made for it

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = super().__getitem__(name)
        return made


class _MailPolicy(EmailPolicy):
    """Folds a header of plain ASCII only past RFC 5322's 998 characters. At 78, a subject of 70 to 77 characters,
    too long after "Subject: " yet short enough for a line of its own, was folded before its first word and read
    back with a leading space (a mail rule on "^LRS batch" missed it). A header that needs encoded-words folds at
    78, as the standard policy folds it (its encoded-words near RFC 2047's 75 characters, not a line's 998)."""

    def fold(self, name: str, value: str) -> str:
        folded: str = EmailPolicy.fold(self._one_line() if value.isascii() else self, name, value)
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        return EmailPolicy.fold_binary(self._one_line() if value.isascii() else self, name, value)

    def _one_line(self) -> EmailPolicy:
        """This policy (its line ends: the wire's CRLF when sent) with lines as long as RFC 5322 lets them be."""
        return self.clone(max_line_length=998)


MAIL_POLICY = _MailPolicy(header_factory=_HeaderClassesMadeOnce())
"""The policy of every email the services write: the standard one, its header classes made once, an ASCII header on
one line."""


def new_email() -> EmailMessage:
    return EmailMessage(policy=MAIL_POLICY)


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
    @property
    def smtp_message_timeout_seconds(self) -> float: ...


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
        message_timeout: float = 120.0,
    ) -> None:
        """`timeout`: for each step of the conversation but DATA (connecting, EHLO, STARTTLS, AUTH, MAIL, RCPT);
        `message_timeout`: for DATA, the relay's taking of the message, its answer to the end of it included, which
        RFC 5321 (4.5.3.2.6) lets take 10 minutes. A message timed out there may have been delivered and is sent
        again: too short a wait sends a slow relay the same email again and again."""
        self._host = host
        self._port = port
        self._start_tls = start_tls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._message_timeout = message_timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await self._send(message)
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

    async def _send(self, message: EmailMessage) -> None:
        client = _SmtpClient(
            hostname=self._host,
            port=self._port,
            start_tls=self._start_tls,
            username=self._username,
            password=self._password,
            timeout=self._timeout,
            message_timeout=self._message_timeout,
        )
        try:
            await client.connect()
            await client.send_as_written(message)
        except BaseException:
            # No QUIT: a relay that did not answer would be waited for again, and a sender that stopped waiting
            # (a cancelled request) would wait another timeout for it.
            client.close()
            raise
        # The message went: a relay that does not answer QUIT does not make it fail (it would be sent again).
        try:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        finally:
            client.close()


class _SmtpClient(aiosmtplib.SMTP):
    """Every step on the client's timeout but DATA, which covers sending the message and the relay's answer to
    its end: `message_timeout`."""

    def __init__(self, *, message_timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self._message_timeout = message_timeout

    async def data(self, message: str | bytes, /, *, timeout: Any = None) -> aiosmtplib.SMTPResponse:
        return await super().data(message, timeout=self._message_timeout)

    async def send_as_written(self, message: EmailMessage) -> None:
        """`send_message`, but the message flattened with the services' policy (`MAIL_POLICY`), on the wire's line ends:
        aiosmtplib flattens every message with `email.policy.SMTP`, so none of ours reached the relay. As it does,
        an address in UTF-8 asks for SMTPUTF8 (refused, `SMTPNotSupported`, by a relay without it), and 8-bit
        text goes as 8BITMIME where the relay takes it, else is encoded in 7 bits."""
        sender, recipients = extract_sender(message), extract_recipients(message)
        if sender is None or not recipients:
            raise ValueError("an email needs From and To")
        await self._ehlo_or_helo_if_needed()
        options: list[str] = []
        utf8 = not (sender + "".join(recipients)).isascii()
        if utf8:
            if not self.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("an address in UTF-8, and a relay without SMTPUTF8")
            options.append("SMTPUTF8")
        eight_bit = self.supports_extension("8BITMIME")
        if eight_bit:
            options.append("BODY=8BITMIME")
        wire = MAIL_POLICY.clone(linesep="\r\n", utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
        written = copy.copy(message)
        del written["Bcc"]
        await self.sendmail(sender, recipients, written.as_bytes(policy=wire), mail_options=options)


def smtp_mailer(host: str, settings: SmtpSettings) -> SmtpMailer:
    """The mailer for the relay at `host` as a service's settings describe it."""
    return SmtpMailer(
        host,
        settings.smtp_port,
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
        message_timeout=settings.smtp_message_timeout_seconds,
    )
