"""A relay that was handed the whole message and then did not answer its end in time (or hung up) may have the
message: `MailError.may_have_gone`. It was "the relay away" like any timeout, and the notifier sent the same email
again at every retry, a copy each time, for as long as the relay stayed slow (mail walk, finding 1); the portal
did not create an account whose first-password email the person then received (finding 9). A relay here keeps the
message and answers the end of DATA only when the test lets it, after the sender gave up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd import smtp
from libs.platform.tests.unit.test_mail_refusals import HANG_UP, SILENT, _ScriptedRelay

from lrs_platform.mail import MailError, SmtpMailer, new_email, send_within


class LateRelay:
    """An aiosmtpd relay that keeps each message, then answers the end of DATA only once `answer` is set."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.answer = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        await self.answer.wait()
        return "250 2.0.0 queued"


@asynccontextmanager
async def late_relay() -> AsyncIterator[tuple[LateRelay, int]]:
    relay = LateRelay()
    server = await asyncio.get_running_loop().create_server(
        lambda: smtp.SMTP(relay, hostname="relay.test"), "127.0.0.1", 0
    )
    try:
        yield relay, server.sockets[0].getsockname()[1]
    finally:
        relay.answer.set()
        server.close()
        await server.wait_closed()


def message() -> EmailMessage:
    written = new_email()
    written["From"], written["To"], written["Subject"] = "lrs@lrs.local", "exams@ao.example", "LRS batch completed"
    written["Message-ID"] = "<1@lrs.local>"
    written.set_content("Your batch was completed.")
    return written


async def test_a_relay_that_has_the_message_and_answers_its_end_late_may_have_it() -> None:
    async with late_relay() as (relay, port):
        mailer = SmtpMailer("127.0.0.1", port, timeout=5, message_timeout=0.3)
        try:
            await mailer.send(message())
        except MailError as error:
            unconfirmed = error
    assert len(relay.messages) == 1, "the relay has the message"
    assert unconfirmed.may_have_gone and not unconfirmed.permanent and not unconfirmed.about_recipient
    assert "SMTPReadTimeoutError" in str(unconfirmed) and "may have it" in str(unconfirmed)


async def test_a_relay_that_hangs_up_after_the_whole_message_may_have_it() -> None:
    error = await _ScriptedRelay({"DATA_END": HANG_UP}).send()
    assert error is not None and error.may_have_gone and not error.permanent, error


async def test_a_relay_silent_before_the_message_was_sent_does_not_have_it() -> None:
    """No 354 to DATA: nothing of the message went, so it is the relay away, waited out as before."""
    error = await _ScriptedRelay({"DATA": SILENT}).send(timeout=0.3)
    assert error is not None and not error.may_have_gone and not error.permanent, error
    error = await _ScriptedRelay({"MAIL": SILENT}).send(timeout=0.3)
    assert error is not None and not error.may_have_gone, error


async def test_an_answer_to_the_end_of_the_message_is_no_doubt() -> None:
    error = await _ScriptedRelay({"DATA_END": "451 4.3.0 try again later"}).send()
    assert error is not None and not error.may_have_gone, error


async def test_a_send_cut_short_by_its_whole_time_after_the_message_says_it_may_have_gone() -> None:
    """The portal's operator waits `PORTAL_SMTP_TIMEOUT_SECONDS` in all: a relay that has the message and answers
    after it is not "no answer from the relay"."""
    async with late_relay() as (relay, port):
        mailer = SmtpMailer("127.0.0.1", port, timeout=5, message_timeout=60)
        try:
            await send_within(mailer, message(), 0.3)
        except MailError as error:
            unconfirmed = error
    assert len(relay.messages) == 1
    assert unconfirmed.may_have_gone and not unconfirmed.permanent
    assert str(unconfirmed) == "the relay did not confirm the whole message in 0.3 s"


async def test_a_send_cut_short_before_the_message_went_has_not_gone() -> None:
    relay = _ScriptedRelay({"RCPT": SILENT})
    server = await asyncio.start_server(
        lambda reader, writer: relay._sessions.append(asyncio.ensure_future(relay._session(reader, writer))),
        "127.0.0.1",
        0,
    )
    try:
        mailer = SmtpMailer("127.0.0.1", server.sockets[0].getsockname()[1], timeout=60, message_timeout=60)
        try:
            await send_within(mailer, message(), 0.3)
        except MailError as error:
            cut_short = error
    finally:
        server.close()
        await asyncio.gather(*relay._sessions)
        await server.wait_closed()
    assert not cut_short.may_have_gone and str(cut_short) == "no answer from the relay in 0.3 s"
