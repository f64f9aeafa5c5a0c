"""SMTP adapter: sends one message, and says whether a failure is worth retrying. The notifier sends its
emails with it, the portal its password-reset links."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import re
from contextvars import ContextVar
from email.headerregistry import Address, BaseHeader, Group, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any, Protocol

import aiosmtplib
import idna
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
    """`permanent`: this message will never go; `about_recipient`: the relay refused this message, its recipient
    (a full mailbox, greylisting) or what it says, not every message, so the others can go on while it is tried
    again. Neither: the relay is away or will not take any message from us (its address, our credentials, our
    host, our sender address): waited out, however long.

    `may_have_gone`: the relay was handed the whole message, then did not answer its end in time or hung up: it
    may have taken it (a relay stores a message, then answers) or not (a content filter that drops a message
    whose sender went before its verdict). Sent again as if the relay were away, a slow relay got a copy at every
    retry, without end; a sender records it as sent but unconfirmed and tries it again once at most."""

    def __init__(
        self, detail: str, *, permanent: bool, about_recipient: bool = False, may_have_gone: bool = False
    ) -> None:
        super().__init__(detail)
        self.permanent = permanent
        self.about_recipient = about_recipient
        self.may_have_gone = may_have_gone


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class _MessageWatch:
    """Whether the current send has handed the relay the whole of its message (`_SmtpClient.data`)."""

    written = False


_WATCH: ContextVar[_MessageWatch | None] = ContextVar("lrs_mail_message_watch", default=None)


async def send_within(mailer: Mailer, message: EmailMessage, seconds: float) -> None:
    """Sends `message` within `seconds` in all, for a sender who waits (an SMTP timeout bounds each step only).
    Cut short, `MailError`, `may_have_gone` when the relay had been handed the whole message (`SmtpMailer`'s:
    another mailer cannot say, and is taken for not gone)."""
    watch = _MessageWatch()
    token = _WATCH.set(watch)
    try:
        async with asyncio.timeout(seconds):
            await mailer.send(message)
    except TimeoutError as error:
        if watch.written:
            detail = f"the relay did not confirm the whole message in {seconds:g} s"
            raise MailError(detail, permanent=False, may_have_gone=True) from error
        raise MailError(f"no answer from the relay in {seconds:g} s", permanent=False) from error
    finally:
        _WATCH.reset(token)


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
        RFC 5321 (4.5.3.2.6) lets take 10 minutes. A message timed out there may have been delivered
        (`MailError.may_have_gone`): too short a wait leaves emails unconfirmed, or sends them twice."""
        self._host = host
        self._port = port
        self._start_tls = start_tls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._message_timeout = message_timeout

    async def send(self, message: EmailMessage) -> None:
        """Raises `MailError` saying whose the refusal is (`_Refusal`): a 5xx is permanent only where the relay
        says this message or its recipient is the cause, not wherever it answers one. A 535 to our AUTH, a 530 to
        our MAIL FROM or a 554 greeting is the relay's or our configuration, every message alike, and a 5.7.1 at RCPT
        may be: called permanent, a batch's completion email was failed for good and never sent. A timeout or a
        dropped connection once the whole message was handed to the relay is `may_have_gone`."""
        watch = _WATCH.get() or _MessageWatch()
        try:
            await self._send(message, watch)
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusals = [_of_recipient(refused.code, refused.message) for refused in error.recipients]
            detail = f"recipients refused: [{', '.join(_code(r.code, r.message) for r in error.recipients)}]"
            raise _refused(detail, _worst(refusals), of_address=True) from error
        except _RecipientUnanswered as error:
            raise MailError(f"no answer at RCPT: {error}", permanent=False, about_recipient=True) from error
        except aiosmtplib.SMTPNotSupported as error:  # an address in UTF-8 and a relay without SMTPUTF8
            detail = f"not supported by the relay: {type(error).__name__}"
            if _needs_smtputf8(extract_sender(message) or ""):  # our sender's: no message could go
                raise MailError(f"{detail} (the sender's address)", permanent=False) from error
            # the recipient's address, which this relay cannot take: a challenge notice waits for the next contact
            raise MailError(detail, permanent=True, about_recipient=True) from error
        except aiosmtplib.SMTPDataError as error:  # the DATA command, or the message once sent
            detail = f"SMTP {_code(error.code, error.message)} at DATA"
            of_address = (_enhanced(error.message) or (0, 0))[0] == 1
            raise _refused(detail, _of_message(error.code, error.message), of_address=of_address) from error
        except aiosmtplib.SMTPResponseException as error:
            # The greeting, EHLO/HELO, STARTTLS, AUTH, MAIL FROM (our sender address, or AUTH required): the
            # relay's or our configuration, never this message's; but its size, declared at MAIL FROM to a relay
            # that announces a limit (RFC 1870), which is the message's as it is at DATA.
            detail = f"SMTP {_code(error.code, error.message)} at {_stage(error)}"
            if isinstance(error, aiosmtplib.SMTPSenderRefused) and _too_large(error.code, error.message):
                raise MailError(detail, permanent=True) from error
            raise MailError(detail, permanent=False) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            if watch.written:  # no answer to the end of the message, or none before the relay hung up
                detail = f"{type(error).__name__} after the whole message (the relay may have it)"
                raise MailError(detail, permanent=False, may_have_gone=True) from error
            raise MailError(type(error).__name__, permanent=False) from error

    async def _send(self, message: EmailMessage, watch: _MessageWatch) -> None:
        client = _SmtpClient(
            watch,
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


class _Refusal(enum.Enum):
    """Whose a refusal is, which says what becomes of the message."""

    RELAY = "relay"
    """The relay's, or our account with it: no message could go (`permanent=False`): waited out, however long."""
    FOR_NOW = "for now"
    """This message's, for now or undetermined (`permanent=False, about_recipient=True`): set aside and tried again
    a bounded number of times while the others go on, then failed."""
    REFUSED = "refused"
    """This message's for good, the relay said why (`permanent=True`): failed at once."""


_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def _enhanced(text: str) -> tuple[int, int] | None:
    """The subject and detail of the RFC 3463 status code opening the relay's answer ("5.1.1 <a@b>: unknown" ->
    (1, 1)); None without one, or with X.0.0, which says nothing more than its reply code."""
    match = _ENHANCED.match(text)
    if match is None or match.group(2, 3) == ("0", "0"):
        return None
    return int(match.group(2)), int(match.group(3))


def _code(code: int, text: str) -> str:
    """The reply code and the enhanced code: never the relay's text, which may hold an address."""
    match = _ENHANCED.match(text)
    return f"{code} {match.group(1)}.{match.group(2)}.{match.group(3)}" if match else str(code)


# X.1.7 and X.1.8 are our sender address's (its syntax, its domain) though answered at RCPT or DATA.
_SENDER = ((1, 7), (1, 8))
# Reply codes about the conversation, not a message: command unknown or out of order, AUTH wanted or refused.
_CONVERSATION = (500, 502, 503, 504, 530, 534, 535, 538)


def _of_recipient(code: int, text: str) -> _Refusal:
    """A recipient refused at RCPT. For good only where the relay says the address is bad (5.1.x; without an
    enhanced code RFC 5321's 550 mailbox unavailable, 551 not local, 553 name not allowed, 501 its syntax).
    5.1.7/5.1.8 are our sender's, as is a refusal of the conversation (530 AUTH required, 503 a command out of
    order): no message could go. 5.7.x is policy: the relay's (5.7.1 relaying denied: our host may not relay) or
    the recipient's mailbox's (an Exchange mailbox refusing outside mail), which a code does not tell apart; it is
    this message's for now, tried again a bounded number of times, so that one mailbox's policy never holds every
    other email (a relay refusing all of them shows as every delivery set aside). A full or disabled mailbox (5.2.x,
    552) may take mail again, a 4xx is for now (greylisting), and the rest (5.3.x, 5.4.x routing, 5.5.x, 554) does
    not say whose it is: for now too."""
    if code < 500:
        return _Refusal.FOR_NOW
    if code in _CONVERSATION:
        return _Refusal.RELAY
    enhanced = _enhanced(text)
    if enhanced is None:
        return _Refusal.REFUSED if code in (501, 550, 551, 553) else _Refusal.FOR_NOW
    if enhanced in _SENDER:
        return _Refusal.RELAY
    return _Refusal.REFUSED if enhanced[0] == 1 else _Refusal.FOR_NOW


def _of_message(code: int, text: str) -> _Refusal:
    """The message refused at DATA. For good only where the relay says it is this message's: its content (5.6.x),
    its size (5.2.3, 5.3.4), its recipient (5.1.x). 5.7.x there is a spam verdict on this message or our
    domain's SPF/DKIM/DMARC, a sender we may not send as: for now, tried again a bounded number of times (one
    may be fixed meanwhile, and for the other the others go on). A 4xx, or a refusal of the conversation (AUTH
    required), is the relay's; a 5xx without an enhanced code does not say whose it is: for now."""
    if code < 500 or code in _CONVERSATION:
        return _Refusal.RELAY
    enhanced = _enhanced(text)
    if enhanced is None:
        return _Refusal.FOR_NOW
    if enhanced in _SENDER:
        return _Refusal.RELAY
    if enhanced[0] in (1, 6) or enhanced in ((2, 3), (3, 4)):
        return _Refusal.REFUSED
    return _Refusal.FOR_NOW


def _too_large(code: int, text: str) -> bool:
    """A refusal of the message's size: 5.3.4 or 5.2.3, or RFC 1870's 552 at MAIL FROM without an enhanced code."""
    enhanced = _enhanced(text)
    return enhanced in ((3, 4), (2, 3)) if enhanced is not None else code == 552


def _worst(refusals: list[_Refusal]) -> _Refusal:
    """Every recipient refused: the relay's if any refusal is (it would refuse the others too), for now if any
    is, for good only if every one is."""
    for refusal in (_Refusal.RELAY, _Refusal.FOR_NOW):
        if refusal in refusals:
            return refusal
    return _Refusal.REFUSED


def _refused(detail: str, refusal: _Refusal, *, of_address: bool) -> MailError:
    """`of_address`: a refusal for good is of the recipient's address (a portal asks for it to be checked), not
    of what the message says."""
    if refusal is _Refusal.RELAY:
        return MailError(detail, permanent=False)
    if refusal is _Refusal.FOR_NOW:
        return MailError(detail, permanent=False, about_recipient=True)
    return MailError(detail, permanent=True, about_recipient=of_address)


def _stage(error: aiosmtplib.SMTPResponseException) -> str:
    """The step a refusal answered, by the class aiosmtplib raises for it (a plain one: STARTTLS, or an answer
    it could not read)."""
    stages: tuple[tuple[type[aiosmtplib.SMTPResponseException], str], ...] = (
        (aiosmtplib.SMTPConnectResponseError, "greeting"),
        (aiosmtplib.SMTPHeloError, "EHLO"),
        (aiosmtplib.SMTPAuthenticationError, "AUTH"),
        (aiosmtplib.SMTPSenderRefused, "MAIL FROM"),
    )
    return next((stage for kind, stage in stages if isinstance(error, kind)), "STARTTLS or another step")


class _RecipientUnanswered(Exception):
    """The relay took MAIL FROM, then did not answer RCPT for this recipient in time, or hung up waiting: a relay
    checking the recipient's domain, or tarpitting it, takes minutes for it alone (RFC 5321 allows 5 at RCPT).
    Taken for the relay being away, that one email held every other behind it for as long as it lasted."""


def _a_labels(domain: str) -> str | None:
    """An internationalised domain as its IDNA A-labels (`bücher.example` -> `xn--bcher-kva.example`: IDNA 2008 with
    UTS 46's mapping, as mail clients write it), which every relay takes without SMTPUTF8 (RFC 5890, RFC 6531 3.2);
    an ASCII domain as it is; None for one IDNA cannot write."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def _with_a_labels(address: str) -> str:
    """`address` with its domain in A-labels where its local part is ASCII: then it goes without SMTPUTF8. An
    address whose local part is not ASCII (`zoë@…`) needs SMTPUTF8 however its domain is written: as it is."""
    local_part, at, domain = address.rpartition("@")
    a_labels = _a_labels(domain) if at and local_part.isascii() else None
    return address if a_labels is None else f"{local_part}@{a_labels}"


def _needs_smtputf8(address: str) -> bool:
    """Whether `address` goes only with SMTPUTF8: its local part is not ASCII (or its domain cannot be IDNA-written)."""
    return not _with_a_labels(address).isascii()


_ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc")


def _write_a_labels(message: EmailMessage) -> None:
    """Each address header's domains in A-labels (`_a_labels`), in a message going without SMTPUTF8: written as they
    are, the header would carry an encoded word where a domain is (`a@=?utf-8?q?b=C3=BCcher?=.example`), which no
    mail client reads as the address."""
    for name in _ADDRESS_HEADERS:
        header = message[name]
        groups = getattr(header, "groups", None)
        if groups is None or str(header).isascii():
            continue
        message.replace_header(
            name,
            [
                Group(
                    group.display_name,
                    tuple(
                        Address(address.display_name, address.username, _a_labels(address.domain) or address.domain)
                        for address in group.addresses
                    ),
                )
                for group in groups
            ],
        )


class _SmtpClient(aiosmtplib.SMTP):
    """Every step on the client's timeout but DATA, which covers sending the message and the relay's answer to
    its end: `message_timeout`. A timeout before the whole message was handed over stays the relay's (it is
    not this email's: set aside as this email's, it would be tried beside the others while a slow relay slows them
    all); one after it, or the relay hanging up then, is `may_have_gone` (`watch`): the relay may have it."""

    def __init__(self, watch: _MessageWatch, *, message_timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self._message_timeout = message_timeout
        self._watch = watch

    async def rcpt(self, recipient: str, /, **options: Any) -> aiosmtplib.SMTPResponse:
        try:
            return await super().rcpt(recipient, **options)
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as error:
            raise _RecipientUnanswered(type(error).__name__) from error

    async def data(self, message: str | bytes, /, *, timeout: Any = None) -> aiosmtplib.SMTPResponse:
        """DATA, the relay's 354, then the message, ended by a line ".": once that is handed to the connection the
        relay may take the message whatever comes after, so the watch is told."""
        protocol = self.protocol
        if protocol is not None:
            write, watch = protocol.write, self._watch

            def noted(data: bytes) -> None:
                write(data)
                if data.endswith(b"\r\n.\r\n"):  # the message with its end (the DATA command before it is not)
                    watch.written = True

            protocol.write = noted  # type: ignore[method-assign]
        return await super().data(message, timeout=self._message_timeout)

    async def send_as_written(self, message: EmailMessage) -> None:
        """`send_message`, but the message flattened with the services' policy (`MAIL_POLICY`), on the wire's line ends:
        aiosmtplib flattens every message with `email.policy.SMTP`, so none of ours reached the relay. An address
        whose local part is in UTF-8 (`zoë@…`) asks for SMTPUTF8 (refused, `SMTPNotSupported`, by a relay without
        it); one at an internationalised domain only (`a@bücher.example`) goes without, its domain in A-labels
        (`xn--bcher-kva.example`) on the envelope and in the headers, as every relay takes it. 8-bit text goes as
        8BITMIME where the relay takes it, else is encoded in 7 bits."""
        sender, recipients = extract_sender(message), extract_recipients(message)
        if sender is None or not recipients:
            raise ValueError("an email needs From and To")
        await self._ehlo_or_helo_if_needed()
        written = copy.copy(message)
        del written["Bcc"]  # a new list of headers: what `_write_a_labels` replaces is the copy's alone
        options: list[str] = []
        utf8 = any(_needs_smtputf8(address) for address in (sender, *recipients))
        if utf8:
            if not self.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("an address in UTF-8, and a relay without SMTPUTF8")
            options.append("SMTPUTF8")
        else:
            sender, recipients = _with_a_labels(sender), [_with_a_labels(recipient) for recipient in recipients]
            _write_a_labels(written)
        eight_bit = self.supports_extension("8BITMIME")
        if eight_bit:
            options.append("BODY=8BITMIME")
        wire = MAIL_POLICY.clone(linesep="\r\n", utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
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
