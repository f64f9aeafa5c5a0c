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


async def test_each_body_says_sandpit_first_once_and_the_email_stays_whole() -> None:
    """A forwarded copy, or a mail client showing the body alone, still says it is practice."""
    outbox = Outbox()
    mailer = SandpitMailer(outbox)
    message = EmailMessage()
    message["Subject"] = "LRS batch completed: SAMPLE-100"
    message.set_content("Your batch SAMPLE-100 is complete.\n")
    message.add_alternative(
        '<html><body style="x"><p>Your batch SAMPLE-100 is complete.</p></body></html>', subtype="html"
    )

    await mailer.send(message)
    await mailer.send(message)

    [text, html] = [part.get_content() for part in outbox.sent[-1].iter_parts()]
    assert text.startswith("SANDPIT: this email is from the LRS's practice environment")
    assert text.count("SANDPIT:") == 1 and text.endswith("Your batch SAMPLE-100 is complete.\n")
    assert html.startswith('<html><body style="x"><p style=') and html.count("SANDPIT:") == 1
    assert "<p>Your batch SAMPLE-100 is complete.</p></body></html>" in html
