"""The LRS service desk in every email (`NOTIFIER_SERVICE_DESK_*`): the abandoned batch's email told the AO to
"contact the LRS service desk" with no way to reach it, and no email said where a reply went (none had a Reply-To,
and replies to the sender reached no one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from services.notifier.tests.unit.test_emails_as_read import (
    CONTACT,
    DECIDED,
    EVENT_ID,
    PORTAL,
    Page,
    abandoned,
    challenge,
    completed,
    failed,
)

from lrs_contracts.outcomes import BatchCounts
from notifier.config import NotifierSettings
from notifier.emails import (
    NO_SERVICE_DESK,
    OutgoingEmail,
    ServiceDesk,
    batch_abandoned_email,
    batch_run_email,
    challenge_raised_email,
    contact_changed_email,
    to_mime,
)

DESK = ServiceDesk("lrs-desk@lrs.example", "0300 303 2000", "Monday to Friday, 9am to 5pm")
NOT_READ = "This email was sent automatically: replies to it are not read."
COUNTS = BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=0)

Compose = Callable[[ServiceDesk], OutgoingEmail]
EVERY_KIND: dict[str, Compose] = {
    "completed": lambda desk: batch_run_email(EVENT_ID, completed(COUNTS), public_base_url=PORTAL, desk=desk),
    "failed": lambda desk: batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL, desk=desk),
    "abandoned": lambda desk: batch_abandoned_email(
        EVENT_ID, abandoned(), "results@ao.example", public_base_url=PORTAL, desk=desk
    ),
    "challenge": lambda desk: challenge_raised_email(
        EVENT_ID, challenge(), CONTACT, DECIDED, reason="Grade wrong", public_base_url=PORTAL, desk=desk
    ),
    "contact changed": lambda desk: contact_changed_email(
        EVENT_ID,
        ao_id="RN9093",
        old_email="challenges@ao.example",
        old_name="Ada Lovelace",
        changed_by="ao:RN9093",
        changed_at=datetime(2026, 7, 1, 12, 5, tzinfo=UTC),
        public_base_url=PORTAL,
        desk=desk,
    ),
}


def _one_line(html: str) -> str:
    return " ".join(html.split())


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_every_email_says_how_to_reach_the_service_desk_and_replies_go_to_it(kind: str) -> None:
    email = EVERY_KIND[kind](DESK)
    reached = "the LRS service desk at {} or on 0300 303 2000 (Monday to Friday, 9am to 5pm)"
    assert reached.format("lrs-desk@lrs.example") in " ".join(email.text.split())
    linked = '<a href="mailto:lrs-desk@lrs.example">lrs-desk@lrs.example</a>'
    assert reached.format(linked) in _one_line(email.html)
    assert "mailto:lrs-desk@lrs.example" in Page(email.html).hrefs
    assert to_mime(email, "lrs@lrs.local")["Reply-To"] == "lrs-desk@lrs.example"
    assert "not read" not in email.text and "not read" not in email.html


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_without_a_service_desk_no_email_names_one_and_each_says_replies_are_not_read(kind: str) -> None:
    email = EVERY_KIND[kind](NO_SERVICE_DESK)
    assert NOT_READ in email.text.splitlines() and f'<p style="color: #505a5f">{NOT_READ}</p>' in email.html
    assert "Questions" not in email.text and "Questions" not in email.html and "mailto:" not in email.html
    assert to_mime(email, "lrs@lrs.local")["Reply-To"] is None


def test_the_abandoned_batch_email_says_how_to_reach_the_desk_where_it_asks_the_ao_to_contact_it() -> None:
    email = EVERY_KIND["abandoned"](DESK)
    asked = (
        "If that batch is not processed either, contact the LRS service desk at {} or on 0300 303 2000 (Monday to"
        f" Friday, 9am to 5pm), quoting batch id {abandoned().batch_id}."
    )
    assert asked.format("lrs-desk@lrs.example") in email.text
    assert asked.format('<a href="mailto:lrs-desk@lrs.example">lrs-desk@lrs.example</a>') in email.html
    assert "Questions" not in email.text, "said once, where it asks"
    unset = EVERY_KIND["abandoned"](NO_SERVICE_DESK)
    for body in (unset.text, unset.html):
        assert f"contact the LRS service desk, quoting batch id {abandoned().batch_id}." in body


def test_a_desk_with_a_telephone_alone_is_named_by_it_and_replies_are_still_not_read() -> None:
    email = EVERY_KIND["completed"](ServiceDesk(phone="0300 303 2000", hours="Monday to Friday"))
    for body in (email.text, email.html):
        assert "Questions: contact the LRS service desk on 0300 303 2000 (Monday to Friday)." in body
        assert NOT_READ in body
    assert to_mime(email, "lrs@lrs.local")["Reply-To"] is None
    hours_alone = EVERY_KIND["completed"](ServiceDesk(hours="Monday to Friday"))
    assert "Questions" not in hours_alone.text and "Monday to Friday" not in hours_alone.html, "reaches no one"


def test_what_the_desk_settings_say_is_shown_as_it_reads_and_escaped_in_html() -> None:
    email = EVERY_KIND["challenge"](ServiceDesk(phone="0300 <303> 2000", hours="9am & 5pm"))
    assert "on 0300 <303> 2000 (9am & 5pm)" in email.text
    assert "on 0300 &lt;303&gt; 2000 (9am &amp; 5pm)" in email.html


def test_the_service_desk_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SERVICE_DESK_EMAIL", " lrs-desk@lrs.example ")
    monkeypatch.setenv("NOTIFIER_SERVICE_DESK_PHONE", "0300   303 2000")
    monkeypatch.setenv("NOTIFIER_SERVICE_DESK_HOURS", "Monday to Friday, 9am to 5pm")
    monkeypatch.setenv("NOTIFIER_PUBLIC_BASE_URL", "https://portal.lrs.example/")
    help_page = "https://portal.lrs.example/help/contact"
    assert NotifierSettings().service_desk == ServiceDesk(
        "lrs-desk@lrs.example", "0300 303 2000", "Monday to Friday, 9am to 5pm", page=help_page
    )
    for name in ("EMAIL", "PHONE", "HOURS"):
        monkeypatch.setenv(f"NOTIFIER_SERVICE_DESK_{name}", "  ")
    assert NotifierSettings().service_desk == ServiceDesk(page=help_page)


@pytest.mark.parametrize(
    "address",
    ["desk@lrs", "desk@lrs.example, other@lrs.example", "Desk <desk@lrs.example>", "dësk@lrs.example", "a@b\r\n.c"],
)
def test_a_service_desk_email_that_is_not_one_ascii_address_is_refused(address: str) -> None:
    """It is every email's Reply-To: two addresses would be two, and one in UTF-8 is more than some relays take."""
    with pytest.raises(ValidationError, match="NOTIFIER_SERVICE_DESK_EMAIL must be one email address in ASCII"):
        NotifierSettings(service_desk_email=address)


@pytest.mark.parametrize("value", ["0300\x00303", "9am\u202e5pm"], ids=["control", "bidi"])
def test_a_service_desk_phone_or_hours_holding_a_control_or_bidi_character_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="holds"):
        NotifierSettings(service_desk_phone=value)
    with pytest.raises(ValidationError, match="holds"):
        NotifierSettings(service_desk_hours=value)
