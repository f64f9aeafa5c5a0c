"""An address at an internationalised domain whose local part is ASCII (`a@bücher.example`) goes to a relay without
SMTPUTF8, its domain in IDNA A-labels (`xn--bcher-kva.example`) on the envelope and in the headers: it asked for
SMTPUTF8 and was failed for good by every such relay, though RFC 5890 writes the domain in ASCII (door walk, finding
12). SMTPUTF8 is asked for only for a local part in UTF-8. Real aiosmtpd relays, one with SMTPUTF8 and one without."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd import smtp

from lrs_platform.mail import MailError, SmtpMailer, new_email


@dataclass
class _Kept:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    content: bytes


@dataclass
class _Relay:
    kept: list[_Kept] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.kept.append(
            _Kept(envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options), envelope.content)
        )
        return "250 2.0.0 queued"


@asynccontextmanager
async def _relay(*, smtputf8: bool) -> AsyncIterator[tuple[_Relay, SmtpMailer]]:
    relay = _Relay()
    server = await asyncio.get_running_loop().create_server(
        lambda: smtp.SMTP(relay, hostname="relay.test", enable_SMTPUTF8=smtputf8), "127.0.0.1", 0
    )
    try:
        yield relay, SmtpMailer("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5)
    finally:
        server.close()
        await server.wait_closed()


def _message(to: str, *, cc: str | None = None, bcc: str | None = None) -> EmailMessage:
    message = new_email()
    message["From"], message["To"], message["Subject"] = "LRS <lrs@lrs.local>", to, "LRS batch completed"
    if cc:
        message["Cc"] = cc
    if bcc:
        message["Bcc"] = bcc
    message.set_content("Your batch was completed.")
    return message


def _read(content: bytes) -> EmailMessage:
    read = message_from_bytes(content, policy=policy.default)
    assert isinstance(read, EmailMessage)
    return read


async def test_an_internationalised_domain_goes_in_a_labels_to_a_relay_without_smtputf8() -> None:
    message = _message("Büro Müller <a@bücher.example>", cc="b@straße.de", bcc="audit@exämple.org")

    async with _relay(smtputf8=False) as (relay, mailer):
        await mailer.send(message)

    (kept,) = relay.kept
    assert kept.rcpt_tos == ["a@xn--bcher-kva.example", "b@xn--strae-oqa.de", "audit@xn--exmple-cua.org"]
    assert kept.mail_from == "lrs@lrs.local" and "SMTPUTF8" not in kept.mail_options
    assert kept.content.isascii()
    read = _read(kept.content)
    (to,) = read["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Büro Müller", "a@xn--bcher-kva.example")
    assert read["Cc"].addresses[0].addr_spec == "b@xn--strae-oqa.de"  # IDNA 2008: ß kept, not made "ss"
    assert read["Bcc"] is None
    assert str(message["To"]) == "Büro Müller <a@bücher.example>"  # the message itself, tried again, as written


async def test_a_sender_at_an_internationalised_domain_goes_in_a_labels_too() -> None:
    message = _message("exams@ao.example")
    message.replace_header("From", "lrs@lrs-bücher.example")

    async with _relay(smtputf8=False) as (relay, mailer):
        await mailer.send(message)

    (kept,) = relay.kept
    assert kept.mail_from == "lrs@xn--lrs-bcher-u9a.example"
    assert _read(kept.content)["From"].addresses[0].addr_spec == "lrs@xn--lrs-bcher-u9a.example"


async def test_a_local_part_in_utf8_still_needs_smtputf8_and_is_the_recipients_for_good_without_it() -> None:
    async with _relay(smtputf8=False) as (relay, mailer):
        with pytest.raises(MailError) as refused:
            await mailer.send(_message("zoë@bücher.example"))
    assert refused.value.permanent and refused.value.about_recipient
    assert relay.kept == []


async def test_a_local_part_in_utf8_goes_as_written_with_smtputf8() -> None:
    async with _relay(smtputf8=True) as (relay, mailer):
        await mailer.send(_message("zoë@bücher.example", cc="a@bücher.example"))

    (kept,) = relay.kept
    assert "SMTPUTF8" in kept.mail_options
    assert kept.rcpt_tos == ["zoë@bücher.example", "a@bücher.example"]
    assert str(_read(kept.content)["To"]) == "zoë@bücher.example"


async def test_an_ascii_address_is_sent_as_written_without_smtputf8() -> None:
    async with _relay(smtputf8=True) as (relay, mailer):
        await mailer.send(_message("Exams <exams@ao.example>"))

    (kept,) = relay.kept
    assert kept.rcpt_tos == ["exams@ao.example"] and "SMTPUTF8" not in kept.mail_options
