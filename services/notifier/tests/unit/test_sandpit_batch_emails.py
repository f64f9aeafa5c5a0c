"""A Sandpit batch's email says the Sandpit's truth (Sandpit walk, finding 5): its accepted records are on the
learners' Sandpit records only, and the batch is kept until the Sandpit is reset (after which its link finds no
page), where a live email says they are on learners' records and the batch is kept. Its HTML part's title says
SANDPIT too, as its subject and first line do."""

from __future__ import annotations

from email.message import EmailMessage

from services.notifier.tests.unit.test_emails import EVENT_ID, PORTAL, completed, failed
from services.notifier.tests.unit.test_handlers import (
    FakeContacts,
    FakeDeferred,
    FakeDeliveryLog,
    FakeKeyring,
    FakeMailer,
    FakeTallies,
    envelope_of,
)

from notifier.emails import batch_run_email
from notifier.handlers import Notifications
from notifier.sandpit import SandpitMailer

LIVE_RECORDS = "the accepted ones have already changed learners' records, each as it said"
SANDPIT_RECORDS = (
    "the accepted ones have already changed the learners' Sandpit records (the Sandpit's practice records only, never"
    " their live ones)"
)


def _parts(message: EmailMessage) -> tuple[str, str]:
    text, html = (part.get_content() for part in message.iter_parts())
    return " ".join(text.split()), " ".join(html.split())


async def _sent(*, sandpit: bool) -> EmailMessage:
    outbox = FakeMailer()
    service = Notifications(
        SandpitMailer(outbox) if sandpit else outbox,
        FakeDeliveryLog(),  # type: ignore[arg-type]
        FakeContacts({}),  # type: ignore[arg-type]
        FakeTallies(),  # type: ignore[arg-type]
        FakeKeyring(),  # type: ignore[arg-type]
        mail_from="lrs@lrs.local",
        public_base_url=PORTAL + ("/sandpit" if sandpit else ""),
        deferred=FakeDeferred(),  # type: ignore[arg-type]
        sandpit=sandpit,
    )
    batch = completed()
    assert batch.counts.rejected  # the sentence is said when some records were rejected
    await service.handle(envelope_of(batch), batch)
    [message] = outbox.sent
    return message


async def test_a_sandpit_completed_batch_says_its_records_are_the_sandpits_and_a_reset_deletes_it() -> None:
    text, html = _parts(await _sent(sandpit=True))

    for body in (text, html):
        assert SANDPIT_RECORDS in body
        assert LIVE_RECORDS not in body
        assert "until your Sandpit is reset: a reset deletes the batch" in body
    assert "<title>SANDPIT: LRS batch completed: SUMMER-24-01</title>" in html


async def test_a_live_completed_batch_says_what_it_said() -> None:
    text, html = _parts(await _sent(sandpit=False))

    for body in (text, html):
        assert LIVE_RECORDS in body
        assert "Sandpit" not in body
    assert "<title>LRS batch completed: SUMMER-24-01</title>" in html


def test_a_sandpit_failed_batch_is_kept_until_the_sandpit_is_reset() -> None:
    kept = "The batch and every record's result are kept"
    sandpit_kept = f"{kept} until your Sandpit is reset (by you, or on its own after 30 days without a batch)"

    for email, said in (
        (batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL, sandpit=True), sandpit_kept),
        (batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL), f"{kept} (in the CSV"),
    ):
        for body in (" ".join(email.text.split()), " ".join(email.html.split())):
            assert said in body


async def test_the_sandpit_title_is_marked_once_when_sent_again() -> None:
    outbox = FakeMailer()
    mailer = SandpitMailer(outbox)
    message = EmailMessage()
    message["Subject"] = "LRS batch completed: SAMPLE-100"
    message.set_content("Your batch SAMPLE-100 is complete.\n")
    message.add_alternative(
        "<html><head><title>LRS batch completed: SAMPLE-100</title></head><body><p>Done.</p></body></html>",
        subtype="html",
    )

    await mailer.send(message)
    await mailer.send(message)

    html = outbox.sent[-1].get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<title>SANDPIT: LRS batch completed: SAMPLE-100</title>" in content
    assert content.count("SANDPIT: LRS batch") == 1 and content.count("practice environment") == 1
