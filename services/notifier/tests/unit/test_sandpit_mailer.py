"""A Sandpit notifier's email is marked SANDPIT in its subject and headers, once, even when sent again."""

from __future__ import annotations

from email.message import EmailMessage

from notifier.sandpit import SandpitMailer


class Outbox:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


async def test_the_subject_and_headers_say_sandpit_once() -> None:
    outbox = Outbox()
    mailer = SandpitMailer(outbox)
    message = EmailMessage()
    message["Subject"] = "Batch completed: 20 accepted"
    message.set_content("Batch completed")

    await mailer.send(message)
    await mailer.send(message)

    assert [sent["Subject"] for sent in outbox.sent] == ["[SANDPIT] Batch completed: 20 accepted"] * 2
    assert outbox.sent[-1].get_all("LRS-Environment") == ["sandpit"]
