"""What the portal tells AO staff is what a person in a browser can act on: no design-record numbers, no command of
the `lrs` tool, no HTTP header, and no rule code standing where its words should be (a code in brackets after the
words that carry its meaning stays, so that the person can find it on the record page)."""

from __future__ import annotations

import html
import re

from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_file_check_field_names import SAMPLES, _checked

from lrs_contracts.codes import RecordCode, explanation_of


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_fix_for_an_unverified_learner_names_no_design_record() -> None:
    explanation = explanation_of(RecordCode.LEARNER_NOT_VERIFIED)
    assert explanation is not None
    fix = explanation.fix

    assert "decision" not in fix
    assert "a learning provider may have registered the ULN under other details: ask the learner" in fix


def test_the_batch_reference_help_says_what_is_answered_with_the_first_batch_in_a_portal_users_words() -> None:
    client, _ = stubbed_portal().signed_in()
    page = text_of(client.get("/help/batch-files").text)

    assert "Idempotency-Key" not in page
    assert "only the same file sent again is answered with its first batch instead of making a new one" in page


def test_the_direct_entry_help_says_its_rules_in_words() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    page = text_of(client.get("/direct-entry").text)

    assert "RV005" not in page and "RV021" not in page
    assert "an Update that leaves one empty or changes it is rejected (RV013)" in page
    assert "and by its pathway when the qualification has several" in page
    assert "every action needs them, and the LRS does not show them back" in page


def test_a_check_of_more_problem_lines_than_shown_says_what_a_browser_user_can_do() -> None:
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    headings, record = lines[2].split(","), lines[3].split(",")
    record[headings.index("GivenName")] = ""
    content = ("\r\n".join([*lines[:3], *[",".join(record)] * 501]) + "\r\n").encode()

    page = text_of(_checked("batch.csv", content, "text/csv"))

    assert "lrs batch check" not in page
    assert (
        "The first 500 of 501 lines with problems are shown: correct them, then check the file again to see the rest."
        in page
    )
    assert (
        "Not checked yet, as only the LRS can once the batch is submitted: whether each learner is registered under"
        " the names and date of birth given (RV004), and whether each record fits what the learner's record already"
        " holds" in page
    )
