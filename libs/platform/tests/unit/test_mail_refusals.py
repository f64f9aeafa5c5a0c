"""Whose a relay's refusal is decides what becomes of the message: a 5xx is permanent (the email failed for good)
only where the relay says this message or its recipient is the cause. Every 5xx was permanent, whatever it
answered: a 535 to our AUTH (rotated credentials), a 530 to our MAIL FROM (AUTH now required), a 554 greeting
(our host blocked for now) or a 5.7.1 at RCPT failed a batch's completion email for good,
though the same email went once the relay was put right. A relay talking on a local socket, answering each step
as it is told."""

from __future__ import annotations

import asyncio

import pytest

from lrs_platform.mail import MailError, SmtpMailer, new_email

RELAY, FOR_NOW, FOR_GOOD = "relay", "for now", "for good"
"""The relay's or ours (waited out, however long); this email's for now (set aside, tried again a bounded number
of times); this email's for good (failed at once)."""


SILENT, HANG_UP = "(no answer)", "(hangs up)"
"""Scripted instead of an answer: the relay says nothing (until the client goes), or closes the connection."""


class _ScriptedRelay:
    """Answers each command as `script` says (its verb: GREETING, EHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, and
    DATA_END for the end of the message), else as a relay taking the message."""

    def __init__(self, script: dict[str, str]) -> None:
        self.script = script
        self.messages = 0
        self._sessions: list[asyncio.Task[None]] = []

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def answer(line: str) -> None:
            if line == SILENT:
                await reader.read()  # until the client gives up and hangs up
            if line in (SILENT, HANG_UP):
                raise ConnectionResetError
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            await answer(self.script.get("GREETING", "220 relay ESMTP"))
            while line := await reader.readline():
                verb = line.decode().split()[0].upper() if line.strip() else ""
                if verb in self.script:
                    await answer(self.script[verb])
                elif verb == "EHLO":
                    await answer("250-relay\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250 8BITMIME")
                elif verb == "AUTH":
                    await answer("235 2.7.0 Authentication successful")
                elif verb == "DATA":
                    await answer("354 go ahead")
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                    ending = self.script.get("DATA_END", "250 2.0.0 queued")
                    self.messages += ending.startswith("250")
                    await answer(ending)
                elif verb == "QUIT":
                    await answer("221 2.0.0 bye")
                    break
                else:
                    await answer("250 2.0.0 ok")
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def send(
        self,
        *,
        username: str | None = None,
        start_tls: bool = False,
        sender: str = "lrs@lrs.local",
        to: str = "exams@ao.example",
        timeout: float = 5,
    ) -> MailError | None:
        def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._sessions.append(asyncio.ensure_future(self._session(reader, writer)))

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        mailer = SmtpMailer(
            "127.0.0.1",
            port,
            username=username,
            password="secret" if username else None,
            start_tls=start_tls,
            timeout=timeout,
            message_timeout=timeout,
        )
        message = new_email()
        message["From"], message["To"], message["Subject"] = sender, to, "LRS batch completed"
        message.set_content("Your batch was completed.")
        try:
            await mailer.send(message)
            return None
        except MailError as error:
            return error
        finally:
            server.close()
            await asyncio.wait_for(asyncio.gather(*self._sessions), timeout=10)
            await server.wait_closed()


def _whose(error: MailError) -> str:
    if error.permanent:
        return FOR_GOOD
    return FOR_NOW if error.about_recipient else RELAY


CONVERSATION = [
    ("GREETING", "554 5.7.1 Service unavailable; client host blocked", RELAY),
    ("GREETING", "554 No SMTP service here", RELAY),
    ("GREETING", "421 4.7.0 Try again later", RELAY),
    ("AUTH", "535 5.7.8 Authentication credentials invalid", RELAY),
    ("AUTH", "534 5.7.9 Authentication mechanism is too weak", RELAY),
    ("AUTH", "454 4.7.0 Temporary authentication failure", RELAY),
    ("MAIL", "530 5.7.0 Authentication required", RELAY),
    ("MAIL", "550 5.7.1 Client does not have permissions to send as this sender", RELAY),
    ("MAIL", "553 5.1.8 <lrs@lrs.local>: Sender address rejected: Domain not found", RELAY),
    ("MAIL", "550 Sender not allowed", RELAY),
]


@pytest.mark.parametrize(("step", "answer", "whose"), CONVERSATION)
async def test_a_refusal_of_the_conversation_is_the_relays_whatever_its_code(
    step: str, answer: str, whose: str
) -> None:
    relay = _ScriptedRelay({step: answer})
    error = await relay.send(username="lrs" if step == "AUTH" else None)
    assert error is not None and _whose(error) == whose, error
    assert relay.messages == 0


async def test_a_refused_ehlo_and_helo_are_the_relays() -> None:
    relay = _ScriptedRelay({"EHLO": "554 5.7.1 Access denied", "HELO": "554 5.7.1 Access denied"})
    error = await relay.send()
    assert error is not None and _whose(error) == RELAY, error
    assert "EHLO" in str(error)


async def test_a_refused_starttls_is_the_relays() -> None:
    relay = _ScriptedRelay({"STARTTLS": "554 5.7.3 TLS not available due to local problem"})
    error = await relay.send(start_tls=True)
    assert error is not None and _whose(error) == RELAY, error


RECIPIENT = [
    ("550 5.1.1 <exams@ao.example>: Recipient address rejected: User unknown", FOR_GOOD),
    ("553 5.1.3 Bad recipient address syntax", FOR_GOOD),
    ("556 5.1.10 Recipient address has null MX", FOR_GOOD),
    ("550 No such user here", FOR_GOOD),  # RFC 5321's 550 at RCPT, the mailbox unavailable
    ("551 User not local", FOR_GOOD),
    ("554 5.7.1 <exams@ao.example>: Relay access denied", FOR_NOW),  # policy: the relay's or the mailbox's, bounded
    ("550 5.7.1 Unable to relay", FOR_NOW),  # policy: the relay's or the mailbox's, bounded
    ("550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain", FOR_NOW),
    ("530 5.7.0 Authentication required", RELAY),
    ("530 Authentication required", RELAY),
    ("503 Need MAIL command", RELAY),
    ("450 4.1.8 <lrs@lrs.local>: Sender address rejected: Domain not found", FOR_NOW),
    ("553 5.1.8 <lrs@lrs.local>: Sender address rejected: Domain not found", RELAY),
    ("552 5.2.2 Mailbox full", FOR_NOW),
    ("550 5.2.1 Mailbox disabled, not accepting messages", FOR_NOW),
    ("552 Requested mail action aborted: exceeded storage allocation", FOR_NOW),
    ("452 4.2.2 Mailbox full", FOR_NOW),
    ("450 4.7.1 Greylisted, try again later", FOR_NOW),
    ("550 5.4.4 Unable to route", FOR_NOW),
    ("554 Transaction failed", FOR_NOW),
    ("550 5.0.0 User unknown", FOR_GOOD),  # X.0.0 says no more than its reply code
]


@pytest.mark.parametrize(("answer", "whose"), RECIPIENT)
async def test_a_refused_recipient_is_refused_for_good_only_if_the_relay_says_the_address_is_bad(
    answer: str, whose: str
) -> None:
    relay = _ScriptedRelay({"RCPT": answer})
    error = await relay.send()
    assert error is not None and _whose(error) == whose, error
    assert error.about_recipient == (whose != RELAY), "for good, the portal asks for the address to be checked"


MESSAGE = [
    ("554 5.6.0 Message content rejected", FOR_GOOD, False),
    ("552 5.3.4 Message size exceeds fixed limit", FOR_GOOD, False),
    ("552 5.2.3 Message length exceeds administrative limit", FOR_GOOD, False),
    ("550 5.1.1 <exams@ao.example>: Recipient address rejected", FOR_GOOD, True),
    ("550 5.7.1 Message rejected as spam", FOR_NOW, True),
    ("550 5.7.26 Unauthenticated email from lrs.local is not accepted due to domain's DMARC policy", FOR_NOW, True),
    ("554 5.2.252 SendAsDenied; lrs@lrs.local not allowed to send as lrs@lrs.local", FOR_NOW, True),
    ("554 Message rejected: Email address is not verified", FOR_NOW, True),
    ("553 5.1.8 Sender domain not found", RELAY, False),
    ("530 5.7.0 Authentication required", RELAY, False),
    ("451 4.3.0 Error: queue file write error", RELAY, False),
]


@pytest.mark.parametrize(("answer", "whose", "about_recipient"), MESSAGE)
async def test_a_refused_message_is_refused_for_good_only_if_the_relay_says_what_in_it(
    answer: str, whose: str, about_recipient: bool
) -> None:
    relay = _ScriptedRelay({"DATA_END": answer})
    error = await relay.send()
    assert error is not None and _whose(error) == whose, error
    assert error.about_recipient == about_recipient


async def test_a_refused_data_command_is_the_relays() -> None:
    for answer in ("503 5.5.1 Error: need RCPT command", "503 Bad sequence of commands", "530 5.7.0 AUTH first"):
        error = await _ScriptedRelay({"DATA": answer}).send()
        assert error is not None and _whose(error) == RELAY, (answer, error)


@pytest.mark.parametrize(
    "script",
    [
        {"RCPT": "550 5.1.1 <exams@ao.example>: Recipient address rejected: User unknown"},
        {"RCPT": "554 5.7.1 <exams@ao.example>: Relay access denied"},
        {"MAIL": "553 5.1.8 <lrs@lrs.local>: Sender address rejected"},
        {"DATA_END": "550 5.1.1 <exams@ao.example>: Recipient address rejected"},
    ],
)
async def test_a_refusal_says_its_codes_and_the_step_never_the_relays_words_which_hold_addresses(
    script: dict[str, str],
) -> None:
    """The error is logged and kept in the delivery log, and read on /readyz: the codes are what on-call needs."""
    error = await _ScriptedRelay(script).send()
    assert error is not None
    assert "@" not in str(error) and "rejected" not in str(error).lower()
    [answer] = script.values()
    assert answer.split()[1] in str(error), error  # the enhanced code


async def test_a_relay_taking_the_message_takes_it() -> None:
    relay = _ScriptedRelay({})
    assert await relay.send(username="lrs") is None
    assert relay.messages == 1


class _LimitedRelay(_ScriptedRelay):
    """EHLO announces a size limit (RFC 1870), as Postfix, Exchange and every hosted relay do: the client declares
    the message's size at MAIL FROM, where such a relay refuses one too large."""

    def __init__(self, script: dict[str, str]) -> None:
        super().__init__({"EHLO": "250-relay\r\n250-SIZE 100\r\n250 8BITMIME", **script})


@pytest.mark.parametrize(
    "answer",
    ["552 5.3.4 Message size exceeds fixed maximum message size", "552 Message size exceeds limit"],
)
async def test_a_message_refused_for_its_size_at_mail_from_fails_as_at_data(answer: str) -> None:
    """Taken for the relay's refusal of our sender, it was waited out for ever, every later email behind it."""
    error = await _LimitedRelay({"MAIL": answer}).send()
    assert error is not None and _whose(error) == FOR_GOOD, error


async def test_a_sender_refused_at_mail_from_is_still_the_relays() -> None:
    error = await _LimitedRelay({"MAIL": "553 5.1.8 <lrs@lrs.local>: Sender address rejected"}).send()
    assert error is not None and _whose(error) == RELAY, error


@pytest.mark.parametrize("unanswered", [SILENT, HANG_UP], ids=["no answer in time", "hung up"])
async def test_a_recipient_the_relay_does_not_answer_at_rcpt_is_this_emails_for_now(unanswered: str) -> None:
    """A relay checking one recipient's domain, or tarpitting it, answers its RCPT in minutes (RFC 5321 allows 5).
    Taken for the relay away, that one email was tried again and again, every other AO's email held behind it."""
    relay = _ScriptedRelay({"RCPT": unanswered})
    error = await relay.send(timeout=0.2)
    assert error is not None and _whose(error) == FOR_NOW, error
    assert str(error).startswith("no answer at RCPT: ") and "@" not in str(error)
    assert relay.messages == 0


@pytest.mark.parametrize("step", ["GREETING", "EHLO", "MAIL", "DATA_END"])
@pytest.mark.parametrize("unanswered", [SILENT, HANG_UP], ids=["no answer in time", "hung up"])
async def test_a_relay_that_does_not_answer_any_other_step_is_away(step: str, unanswered: str) -> None:
    """Before RCPT no message of ours could go; after the message, the relay may have taken it (set aside and sent
    again beside the others, each would be a copy)."""
    error = await _ScriptedRelay({step: unanswered}).send(timeout=0.2)
    assert error is not None and _whose(error) == RELAY, error


async def test_a_recipients_address_in_utf8_to_a_relay_without_smtputf8_is_the_recipients_for_good() -> None:
    """It was failed for good as no one's: a challenge notice to such a contact was failed, not held for the next
    contact the AO sets (decision 0155)."""
    relay = _ScriptedRelay({})  # its EHLO offers no SMTPUTF8
    error = await relay.send(to="zoë@ao.example")
    assert error is not None and _whose(error) == FOR_GOOD and error.about_recipient, error
    assert relay.messages == 0


async def test_our_senders_address_in_utf8_to_a_relay_without_smtputf8_is_the_relays() -> None:
    """No message could go from it: waited out, as a refused sender is, not every email failed for good."""
    error = await _ScriptedRelay({}).send(sender="lrs-zoë@lrs.local")
    assert error is not None and _whose(error) == RELAY, error
