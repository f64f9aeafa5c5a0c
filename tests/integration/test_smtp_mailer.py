"""What the relay says of one message is that message's: an address it cannot take is a failure for good, a
relay slow to take a message gets it once, and a sender that stops waiting stops at once."""

from __future__ import annotations

import asyncio
import gc
import time
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from bench.processes import free_port
from tests.support.mail import Inbox, smtp_server

from lrs_platform.mail import MailError, SmtpMailer, new_email

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


class _SlowToAnswerData(Inbox):
    """Keeps the message, then answers the end of DATA `answer_after` seconds later, as a relay scanning it does."""

    def __init__(self, port: int, answer_after: float) -> None:
        super().__init__(port)
        self.answer_after = answer_after

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.answer_after)
        return answer


class _SlowToAnswerMail(Inbox):
    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await asyncio.sleep(3)
        envelope.mail_from = address
        return "250 OK"


def _relay(inbox: Inbox) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    return controller


async def test_a_relay_slower_to_take_a_message_than_to_answer_a_step_gets_it_once() -> None:
    """With one timeout for every step, a relay answering the end of DATA after it was sent the same email again
    on every retry (6 copies of one Message-ID in a walk-through): taking the message has a wait of its own."""
    inbox = _SlowToAnswerData(free_port(), answer_after=1.5)
    controller = _relay(inbox)
    try:
        await SmtpMailer("127.0.0.1", inbox.port, timeout=0.5, message_timeout=10).send(_message("exams@ao.example"))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


async def test_only_the_message_has_the_long_wait_not_the_steps_before_it() -> None:
    """Each step but DATA keeps the short timeout: a relay stalling on MAIL FROM is given up on, not waited for as
    long as the message (with a poll of emails that would outlast Kafka's poll interval)."""
    inbox = _SlowToAnswerMail(free_port())
    controller = _relay(inbox)
    try:
        with pytest.raises(MailError) as timed_out:
            await SmtpMailer("127.0.0.1", inbox.port, timeout=0.5, message_timeout=30).send(_message("a@ao.example"))
    finally:
        controller.stop()
    assert not timed_out.value.permanent
    assert inbox.messages == []


async def test_a_send_the_sender_stops_waiting_for_ends_without_waiting_on_the_relay_again() -> None:
    """A portal request that gave up on a relay that did not answer waited another timeout for its QUIT, and the
    operator's CLI timed out first."""
    inbox = _SlowToAnswerData(free_port(), answer_after=30)
    controller = _relay(inbox)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await SmtpMailer("127.0.0.1", inbox.port, timeout=5, message_timeout=60).send(
                    _message("ops@lrs.example")
                )
        stopped_after = time.monotonic() - started
    finally:
        controller.stop()
    assert stopped_after < 3, f"the send went on {stopped_after:.1f} s after it was cancelled at 0.5 s"


def test_writing_an_email_leaves_no_garbage_for_the_collector() -> None:
    """The standard library made a class for every header: ~70 KB an email in reference cycles, which the
    consumers' paused collector freed only every few minutes (a notifier's memory rose with every burst)."""

    def write_one() -> None:
        message = new_email()
        message["From"] = "lrs@lrs.local"
        message["To"] = "exams@ao.example"
        message["Subject"] = "LRS batch completed"
        message["Message-ID"] = "<1@lrs.local>"
        message.set_content("Your batch was completed.")
        message.add_alternative("<p>Your batch was completed.</p>", subtype="html")
        message.as_bytes()

    write_one()
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            write_one()
        in_cycles = gc.collect()
    finally:
        gc.enable()
    assert in_cycles == 0


async def test_a_subject_arrives_at_the_relay_as_written_whatever_its_length() -> None:
    """aiosmtplib flattened every message with `email.policy.SMTP`, not the services' policy: a subject of 70 to 77
    characters arrived folded before its first word, read with a leading space (a mail rule on "^LRS batch" missed
    it). Sent through the real mailer to a real relay; a subject in UTF-8 and a Bcc too."""
    subjects = [f"LRS batch completed: {'RN9093 ' * n}".strip() for n in range(4, 14)]
    subjects.append("LRS batch completed: Ysgol Gyfun Gŵyr, Café résumé (10 of 10 accepted)")
    with smtp_server() as inbox:
        mailer = SmtpMailer("127.0.0.1", inbox.port, timeout=5)
        for subject in subjects:
            message = new_email()
            message["From"] = "lrs@lrs.local"
            message["To"] = "exams@ao.example"
            message["Bcc"] = "audit@ao.example"
            message["Subject"] = subject
            message.set_content("Your batch was completed.")
            await mailer.send(message)

    assert [message["Subject"] for message in inbox.messages] == subjects
    assert all(message["Bcc"] is None for message in inbox.messages)
