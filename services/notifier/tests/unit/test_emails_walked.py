"""What an email walk found as the AOs read them: the contact-changed email's command only showed the contact; with no
service desk set, the abandoned batch's email asked the AO to contact the desk with no way to; a batch sent without a
BatchReference showed its id as its reference; the text parts' rows were out of line; and the HTML parts set a text
colour with no background (a client darkening only the background showed near-black on dark)."""

from __future__ import annotations

import re

import pytest
from services.notifier.tests.unit.test_emails_as_read import (
    CONTACT,
    DECIDED,
    EVENT_ID,
    PORTAL,
    Page,
    abandoned,
    challenge,
    completed,
    contact_changed,
    every_email,
    failed,
)

from lrs_contracts.challenge import ChallengedAchievement
from lrs_contracts.outcomes import BatchCounts
from notifier.emails import ServiceDesk, batch_abandoned_email, batch_run_email, challenge_raised_email

HELP_PAGE = f"{PORTAL}/help/contact"
COUNTS = BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=1)
ON_THE_PORTAL = ServiceDesk(page=HELP_PAGE)  # no desk set: what the notifier's settings give (`service_desk`)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_the_contact_changed_email_gives_the_whole_command_that_sets_the_contact_back_and_ends_its_sentence() -> None:
    email = contact_changed()
    command = (
        "lrs challenges contact RN9093 --given-name GIVEN_NAME --family-name FAMILY_NAME --telephone TELEPHONE"
        " --email EMAIL"
    )
    assert f"  {command}" in email.text.splitlines(), "on a line of its own, nothing touching it"
    assert f"<code>{command}</code>" in email.html
    said = "or with the command below, giving all four of the contact's details."
    assert said in _one_line(email.text) and said in _one_line(email.html)


def test_without_a_service_desk_the_abandoned_batch_email_says_where_the_portal_tells_how_to_contact_it() -> None:
    email = batch_abandoned_email(
        EVENT_ID, abandoned(), "results@ao.example", public_base_url=PORTAL, desk=ON_THE_PORTAL
    )
    asked = "If that batch is not processed either, contact the LRS service desk (its page {} says how), quoting"
    assert asked.format(HELP_PAGE) in _one_line(email.text)
    assert asked.format(f'<a href="{HELP_PAGE}">{HELP_PAGE}</a>') in _one_line(email.html)
    assert HELP_PAGE in Page(email.html).hrefs
    assert f" {HELP_PAGE} " in email.text, "no punctuation touches it: a mail client would link that too"
    assert "Questions" not in email.text, "said once, where it asks"


@pytest.mark.parametrize("desk", [ON_THE_PORTAL, ServiceDesk(hours="Monday to Friday", page=HELP_PAGE)])
def test_without_a_way_to_reach_the_desk_every_other_email_names_the_portals_page_on_it(desk: ServiceDesk) -> None:
    email = batch_run_email(EVENT_ID, completed(COUNTS), public_base_url=PORTAL, desk=desk)
    said = f"Questions: contact the LRS service desk (its page {HELP_PAGE} says how)."
    assert said in email.text.splitlines()
    assert HELP_PAGE in Page(email.html).hrefs and "Monday to Friday" not in email.text + email.html
    assert "replies to it are not read" in email.text


def test_a_desk_with_an_address_or_telephone_is_named_by_them_not_by_the_portals_page() -> None:
    desk = ServiceDesk("lrs-desk@lrs.example", page=HELP_PAGE)
    email = batch_run_email(EVENT_ID, completed(COUNTS), public_base_url=PORTAL, desk=desk)
    assert "Questions: contact the LRS service desk at lrs-desk@lrs.example." in email.text.splitlines()
    assert HELP_PAGE not in email.text + email.html


def test_a_batch_sent_without_a_reference_says_it_had_none_rather_than_showing_its_id_as_one() -> None:
    unreferenced = [
        batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL),
        batch_run_email(EVENT_ID, completed(COUNTS, reference=None), public_base_url=PORTAL),
        batch_abandoned_email(EVENT_ID, abandoned(reference=None), "results@ao.example", public_base_url=PORTAL),
    ]
    for email in unreferenced:
        assert "Batch reference:       none given" in email.text.splitlines()
        assert '<th align="left" scope="row">Batch reference</th><td>none given</td>' in email.html
    referenced = batch_run_email(EVENT_ID, completed(COUNTS), public_base_url=PORTAL)
    assert "Batch reference:       SUMMER-24-01" in referenced.text.splitlines()


def _rows(text: str) -> list[tuple[str, int]]:
    """Each "Label: value" row of the tables of a text part, and the column its value starts at."""
    rows = []
    for line in text.splitlines():
        found = re.fullmatch(r"([A-Z][A-Za-z ]{1,24}):( +)\S.*", line)
        if found and not line.startswith(("Dear", "Reason", "Questions", "Most ", "Warnings (")):
            rows.append((found.group(1), len(found.group(1)) + 1 + len(found.group(2))))
    return rows


def test_the_rows_of_each_table_in_the_text_parts_line_up() -> None:
    """ "Awarding organisation:" and "Language for assessment:" pushed their values out of line with the rest."""
    described = challenge(
        achievement=ChallengedAchievement(
            qualification_number="6001166X",
            title="GCSE Mathematics",
            award_date=DECIDED.date(),
            grade="4",
            language_for_assessment="Welsh",
            pathway="Higher",
        )
    )
    emails = {
        "completed": batch_run_email(EVENT_ID, completed(COUNTS), public_base_url=PORTAL),
        "abandoned": batch_abandoned_email(EVENT_ID, abandoned(), "results@ao.example", public_base_url=PORTAL),
        "challenge": challenge_raised_email(EVENT_ID, described, CONTACT, DECIDED, reason="x", public_base_url=PORTAL),
    }
    for kind, email in emails.items():
        rows = _rows(email.text)
        assert len(rows) >= 4, (kind, rows)
        assert len({column for _, column in rows}) == 1, (kind, rows)
    # a failed batch's counts are a table of their own, under "Would have been accepted"
    failed_rows = _rows(batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL).text)
    assert len({column for label, column in failed_rows[:5]}) == 1, failed_rows


def test_a_held_notices_paragraph_is_not_wrapped_halfway_in_the_text_part() -> None:
    for refused in (False, True):
        email = challenge_raised_email(
            EVENT_ID,
            challenge(),
            CONTACT,
            DECIDED,
            reason="x",
            public_base_url=PORTAL,
            released_at=DECIDED,
            contact_refused=refused,
        )
        [paragraph] = [line for line in email.text.splitlines() if line.startswith("It was raised on")]
        assert paragraph.endswith("its page shows where it stands."), paragraph


def test_every_html_part_sets_its_background_beside_its_text_colour_and_says_it_is_light() -> None:
    for email in every_email():
        body = Page(email.html).styles["body"][0]
        assert "color: #0b0c0c" in body and "background-color: #ffffff" in body
        assert '<meta name="color-scheme" content="light">' in email.html
