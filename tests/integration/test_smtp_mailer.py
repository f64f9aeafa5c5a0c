"""What the relay says of one message is that message's: an address it cannot take is a failure for good."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from bench.processes import free_port
from tests.support.mail import Inbox

from lrs_platform.mail import MailError, SmtpMailer

pytestmark = pytest.mark.integration


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "lrs@lrs.local"
    message["To"] = to
    message["Subject"] = "LRS batch completed"
    message.set_content("Your batch was completed.")
    return message


async def test_an_address_in_utf8_to_a_relay_without_smtputf8_fails_for_good() -> None:
    """It was retried for ever, and every other AO's email waited behind it."""
    inbox = Inbox(free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, enable_SMTPUTF8=False)
    controller.start()
    try:
        mailer = SmtpMailer("127.0.0.1", inbox.port, timeout=5)
        await mailer.send(_message("exams@ao.example"))
        with pytest.raises(MailError) as refused:
            await mailer.send(_message("élève@ao.example"))
    finally:
        controller.stop()
    assert refused.value.permanent
    assert len(inbox.messages) == 1
