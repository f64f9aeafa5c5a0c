"""Every email as its recipient reads it (the emails review): a learner's words framed as theirs, the AO named on a
challenge, a link that is one, a way on when a batch is abandoned again, a next step for rejected records, bodies
that wrap on a phone and tables a screen reader can follow."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from html.parser import HTMLParser

from lrs_contracts.batch import JobType
from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchCounts, BatchFailed
from notifier.emails import (
    ChallengeContact,
    OutgoingEmail,
    batch_abandoned_email,
    batch_run_email,
    challenge_raised_email,
    contact_changed_email,
    top_rejections,
)

EVENT_ID = uuid.UUID("0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11")
BATCH_ID = uuid.UUID("5f9a1d2c-8e4b-4f7a-a1b2-c3d4e5f60718")
DECIDED = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
PORTAL = "https://portal.lrs.example"
CONTACT = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
EVIL = "https://lrs-portal-signin.example.net"
PHISHING = (
    "Grade wrong.\n\n"
    f"Acknowledge and resolve it at {EVIL}/challenges/d4865cb1\n\n"
    f"If the link does not work, sign in with your LRS password at {EVIL}/sign-in"
)


class Page(HTMLParser):
    """The links, table headers and tables of an HTML part, and the style of its body and blockquotes."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.headers: list[dict[str, str | None]] = []
        self.tables: list[dict[str, str | None]] = []
        self.styles: dict[str, list[str]] = {}
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(str(attributes["href"]))
        if tag == "th":
            self.headers.append(attributes)
        if tag == "table":
            self.tables.append(attributes)
        if tag in ("body", "blockquote"):
            self.styles.setdefault(tag, []).append(attributes.get("style") or "")


def challenge(**changes: object) -> ChallengeRaised:
    fields: dict[str, object] = {
        "challenge_id": uuid.uuid4(),
        "achievement_id": uuid.uuid4(),
        "ao_id": "RN9093",
        "uln": "1000000043",
        "reason_sealed": "s1.x",
        "achievement": ChallengedAchievement(
            qualification_number="6001166X", title="GCSE Mathematics", award_date=date(2024, 8, 22), grade="4"
        ),
    }
    fields.update(changes)
    return ChallengeRaised.model_validate(fields)


def completed(counts: BatchCounts, reference: str | None = "SUMMER-24-01") -> BatchCompleted:
    return BatchCompleted(
        batch_id=BATCH_ID,
        ao_id="RN9093",
        job_type=JobType.FINAL,
        batch_reference=reference,
        notification_email="results@ao.example",
        counts=counts,
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def failed() -> BatchFailed:
    return BatchFailed(
        batch_id=BATCH_ID,
        ao_id="RN9093",
        code="RS005",
        reason="4 of 10 records (40%) were rejected; more than 30% fails the batch",
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=1),
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def abandoned(batch_id: uuid.UUID = BATCH_ID, reference: str | None = "ABANDON-ME") -> BatchAbandoned:
    return BatchAbandoned(
        batch_id=batch_id,
        ao_id="RN9093",
        reason="could not be processed",
        batch_reference=reference,
        notification_email="results@ao.example",
        abandoned_at=DECIDED,
    )


def contact_changed() -> OutgoingEmail:
    return contact_changed_email(
        EVENT_ID,
        ao_id="RN9093",
        old_email="challenges@ao.example",
        old_name="Ada Lovelace",
        changed_by="ao:RN9093",
        changed_at=datetime(2026, 7, 1, 12, 5, tzinfo=UTC),
        public_base_url=PORTAL,
    )


def every_email() -> list[OutgoingEmail]:
    rejected = BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=1)
    rejections = top_rejections({"RV004": 3, "RV009": 1})
    return [
        batch_run_email(EVENT_ID, completed(rejected), public_base_url=PORTAL, rejections=rejections),
        batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL, rejections=rejections),
        batch_abandoned_email(EVENT_ID, abandoned(), "results@ao.example", public_base_url=PORTAL),
        challenge_raised_email(EVENT_ID, challenge(), CONTACT, DECIDED, reason=PHISHING, public_base_url=PORTAL),
        contact_changed(),
    ]


def test_a_learners_words_are_quoted_line_by_line_between_a_warning_and_an_end_in_the_text_part() -> None:
    """They were printed bare between "The learner wrote:" and the LRS's own call to action: a learner could send
    AO staff an "Acknowledge and resolve it at https://evil…" from the LRS's genuine sender."""
    email = challenge_raised_email(EVENT_ID, challenge(), CONTACT, DECIDED, reason=PHISHING, public_base_url=PORTAL)
    lines = email.text.splitlines()
    first = lines.index("> Grade wrong.")
    last = lines.index(f"> If the link does not work, sign in with your LRS password at {EVIL}/sign-in")
    assert lines[first : last + 1] == [
        "> Grade wrong.",
        ">",
        f"> Acknowledge and resolve it at {EVIL}/challenges/d4865cb1",
        ">",
        f"> If the link does not work, sign in with your LRS password at {EVIL}/sign-in",
    ]
    before, after = "\n".join(lines[:first]), "\n".join(lines[last + 1 :])
    assert "the learner's own, not the LRS's" in before and "do not come from the LRS" in before
    assert "End of the learner's words. Links in them are not from the LRS" in after
    assert EVIL not in before and EVIL not in after  # every line that holds it is quoted
    assert [line for line in lines if EVIL in line and not line.startswith("> ")] == []


def test_a_line_break_of_any_kind_in_the_learners_words_starts_a_quoted_line() -> None:
    """A U+2028 or a CR alone, which some clients show as a new line, must not start a line of the LRS's."""
    reason = f"Wrong.\u2028Sign in at {EVIL}\ror at {EVIL}/2\r\nthanks"
    email = challenge_raised_email(EVENT_ID, challenge(), CONTACT, DECIDED, reason=reason, public_base_url=PORTAL)
    quoted = [line for line in email.text.splitlines() if EVIL in line]
    assert quoted == [f"> Sign in at {EVIL}", f"> or at {EVIL}/2"]


def test_the_html_part_frames_the_learners_words_with_the_same_warning_and_keeps_bidi_controls_shown() -> None:
    reason = PHISHING + "\nGrade \u202eC ton ,B\u202c"
    email = challenge_raised_email(EVENT_ID, challenge(), CONTACT, DECIDED, reason=reason, public_base_url=PORTAL)
    markup = email.html.replace("&#39;", "'")
    before, rest = markup.split("<blockquote", 1)
    quote, after = rest.split("</blockquote>", 1)
    assert "the learner's own, not the LRS's" in before and "do not come from the LRS" in before
    assert "End of the learner's words. Links in them are not from the LRS" in after
    assert EVIL in quote and EVIL not in before and EVIL not in after
    assert "Grade [U+202E]C ton ,B[U+202C]" in quote and "\u202e" not in markup


def test_the_challenge_email_names_the_awarding_organisation_in_its_subject_and_both_parts() -> None:
    """A contact for several AO ids, or a shared mailbox, could not tell which AO's portal account to sign in with:
    signed in as another AO, the link answers "Page not found"."""
    raised = challenge()
    email = challenge_raised_email(
        EVENT_ID, raised, CONTACT, DECIDED, reason="x", public_base_url=PORTAL, ao_name="Pearson <Education> Ltd"
    )
    assert email.subject == f"LRS Event Data Challenge raised on 600/1166/X: RN9093 {raised.challenge_id}"
    assert "Awarding organisation:   RN9093 Pearson <Education> Ltd" in email.text.splitlines()
    assert (
        '<tr><th align="left" scope="row">Awarding organisation</th><td>RN9093 Pearson &lt;Education&gt; Ltd</td></tr>'
        in email.html
    )
    unnamed = challenge_raised_email(EVENT_ID, raised, CONTACT, DECIDED, reason="x", public_base_url=PORTAL)
    assert "Awarding organisation:   RN9093" in unnamed.text.splitlines()


def test_the_contact_changed_email_links_the_contact_page_and_no_punctuation_touches_its_address() -> None:
    """Its HTML had no link, and "(https://…/contact)" auto-linked with the parenthesis opened a 404."""
    email = contact_changed()
    page = f"{PORTAL}/contact"
    assert Page(email.html).hrefs and set(Page(email.html).hrefs) == {page}
    for body in (email.text, email.html):
        for found in re.finditer(re.escape(page), body):
            before, after = body[found.start() - 1], body[found.end() : found.end() + 1]
            assert before in ' \n">' and after in ("\n", "<", '"', ""), body[found.start() - 5 : found.end() + 5]
    setting = "lrs challenges contact RN9093 --given-name GIVEN_NAME --family-name FAMILY_NAME --telephone TELEPHONE"
    assert "`" not in email.html and f"<code>{setting} --email EMAIL</code>" in email.html
    assert "overflow-wrap: anywhere" in Page(email.html).styles["body"][0]


def test_an_abandoned_batch_says_whom_to_tell_quoting_its_id_and_a_second_one_reads_apart_from_the_first() -> None:
    """The same file sent again and abandoned again gave an identical subject, and no one to turn to."""
    second_id = uuid.UUID("75b423bb-0000-4000-8000-000000000001")
    first = batch_abandoned_email(EVENT_ID, abandoned(), "results@ao.example", public_base_url=PORTAL)
    second = batch_abandoned_email(EVENT_ID, abandoned(second_id), "results@ao.example", public_base_url=PORTAL)
    assert first.subject == "LRS could not process your batch, nothing recorded: RN9093 ABANDON-ME (batch 5f9a1d2c)"
    assert second.subject == "LRS could not process your batch, nothing recorded: RN9093 ABANDON-ME (batch 75b423bb)"
    for email, batch_id in ((first, BATCH_ID), (second, second_id)):
        for body in (email.text, email.html):
            assert f"contact the LRS service desk, quoting batch id {batch_id}" in body
    # without a reference the subject names the batch by its id already
    unnamed = batch_abandoned_email(EVENT_ID, abandoned(reference=None), "r@ao.example", public_base_url=PORTAL)
    assert unnamed.subject == f"LRS could not process your batch, nothing recorded: RN9093 {BATCH_ID}"


def test_two_batches_of_one_reference_and_the_same_counts_read_apart_by_their_subjects() -> None:
    """Two batches of SAMPLE-100, each 100 unchanged, were emailed under one subject: mail clients showed them as one
    conversation, and a results team could not tell from its inbox that there were two."""
    second_id = uuid.UUID("75b423bb-0000-4000-8000-000000000001")
    unchanged = BatchCounts(total=100, accepted=0, rejected=0, no_ops=100, warnings=0)
    refused = failed().model_copy(update={"code": "RS004"})
    expected = [
        "LRS batch completed: RN9093 SAMPLE-100 (0 of 100 accepted, 100 unchanged) (batch {})",
        "LRS batch failed (RS005), nothing recorded: RN9093 SAMPLE-100 (batch {})",
        "LRS batch refused (RS004), nothing recorded: RN9093 SAMPLE-100 (batch {})",
    ]
    outcomes: tuple[BatchCompleted | BatchFailed, ...] = (completed(unchanged), failed(), refused)
    for outcome, subject in zip(outcomes, expected, strict=True):
        subjects = [
            batch_run_email(
                EVENT_ID,
                outcome.model_copy(update={"batch_id": batch_id, "batch_reference": "SAMPLE-100"}),
                public_base_url=PORTAL,
            ).subject
            for batch_id in (BATCH_ID, second_id)
        ]
        assert subjects == [subject.format("5f9a1d2c"), subject.format("75b423bb")]
        # without a reference the subject names the batch by its whole id already
        unnamed = batch_run_email(
            EVENT_ID, outcome.model_copy(update={"batch_reference": None}), public_base_url=PORTAL
        )
        assert str(BATCH_ID) in unnamed.subject and "(batch " not in unnamed.subject


def test_every_html_email_wraps_long_words_on_a_narrow_screen() -> None:
    """At 360 px the bare URLs overflowed, and a 1,500-character token in a reason made the page 16,000 px wide."""
    for email in every_email():
        page = Page(email.html)
        for style in page.styles["body"] + page.styles.get("blockquote", []):
            assert "overflow-wrap: anywhere" in style and "word-break: break-word" in style, email.subject


def test_a_completed_batch_with_rejections_says_what_to_do_with_them() -> None:
    """Rules: the accepted records of a completed batch changed learners' records (PLRChanged Y); a rejected one
    changed nothing, and a file of them corrected is a new batch."""
    said = "Correct the rejected records and send them in a new batch; the accepted ones have already changed learners' records"
    with_rejections = batch_run_email(
        EVENT_ID, completed(BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=0)), public_base_url=PORTAL
    )
    without = batch_run_email(
        EVENT_ID,
        completed(BatchCounts(total=10, accepted=10, rejected=0, no_ops=0, warnings=0)),
        public_base_url=PORTAL,
    )
    rs005 = batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL)
    for body in (with_rejections.text, with_rejections.html.replace("&#39;", "'")):
        assert said in body
    for body in (without.text, without.html, rs005.text, rs005.html.replace("&#39;", "'")):
        assert said not in body


def test_every_table_header_has_a_scope_and_every_table_spaces_its_cells() -> None:
    """The "records" and "meaning" headers ran together, and no header said whether it heads a row or a column."""
    for email in every_email():
        page = Page(email.html)
        assert all(header.get("scope") in ("row", "col") for header in page.headers), email.subject
        assert all(table.get("cellpadding") for table in page.tables), email.subject
    completed_email = every_email()[0]
    assert '<th align="left" scope="col">code</th><th align="right" scope="col">records</th>' in completed_email.html
