from __future__ import annotations

import dataclasses
import html
import uuid
from datetime import UTC, date, datetime

import pytest

from lrs_contracts.batch import JobType
from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised, ChallengeRaisedV1
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchCounts, BatchFailed
from lrs_contracts.plr import ResultStatus
from notifier.emails import (
    ChallengeContact,
    RejectionCount,
    UnlistedRejections,
    batch_abandoned_email,
    batch_run_email,
    challenge_raised_email,
    contact_changed_email,
    message_id_for,
    split_warnings,
    to_mime,
    top_rejections,
    unlisted_rejections,
)

EVENT_ID = uuid.UUID("0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11")
BATCH_ID = uuid.UUID("5f9a1d2c-8e4b-4f7a-a1b2-c3d4e5f60718")
DECIDED = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
COUNTS = BatchCounts(total=10, accepted=6, rejected=4, no_ops=0, warnings=1)


def completed(**changes: object) -> BatchCompleted:
    fields: dict[str, object] = {
        "batch_id": BATCH_ID,
        "ao_id": "RN5133",
        "job_type": JobType.FINAL,
        "batch_reference": "SUMMER-24-01",
        "notification_email": "results@ao.example",
        "counts": COUNTS,
        "submitted_at": DECIDED,
        "decided_at": DECIDED,
    }
    fields.update(changes)
    return BatchCompleted.model_validate(fields)


PORTAL = "https://portal.lrs.example"
REJECTIONS = top_rejections({"RV009": 1, "RV004": 3, "RV021": 1, "RV002": 1})


def failed(code: str = "RS005") -> BatchFailed:
    return BatchFailed(
        batch_id=BATCH_ID,
        ao_id="RN5133",
        code=code,
        reason="4 of 10 records (40%) were rejected; more than 30% fails the batch",
        job_type=JobType.PROVISIONAL,
        batch_reference=None,
        notification_email="results@ao.example",
        counts=COUNTS,
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def test_message_id_is_derived_from_the_event_id_only() -> None:
    assert message_id_for(EVENT_ID) == "<0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11@lrs.local>"
    assert message_id_for(EVENT_ID, "lrs.example") == "<0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11@lrs.example>"


def test_the_same_event_composes_the_same_email_byte_for_byte() -> None:
    first = to_mime(batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL), "lrs@lrs.local")
    second = to_mime(batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL), "lrs@lrs.local")
    assert first.as_bytes() == second.as_bytes()
    assert first["Message-ID"] == "<0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11@lrs.local>"


def test_every_email_has_a_plain_text_and_an_html_alternative() -> None:
    mime = to_mime(batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL), "lrs@lrs.local")
    assert mime.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mime.iter_parts()] == ["text/plain", "text/html"]


def test_batch_completed_email_names_batch_job_type_counts_and_an_absolute_link() -> None:
    email = batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL + "/", rejections=REJECTIONS)
    assert email.to == "results@ao.example"
    assert email.subject == "LRS batch completed: RN5133 SUMMER-24-01 (6 of 10 accepted, 4 rejected) (batch 5f9a1d2c)"
    assert email.text.startswith("Your batch SUMMER-24-01 is complete: 6 of 10 records accepted, 4 rejected.\n")
    assert str(BATCH_ID) in email.text
    assert "Job type:              Final" in email.text
    assert "Accepted:              6" in email.text
    assert "Rejected:              4" in email.text
    assert f"See the result of every record at {PORTAL}/batches/{BATCH_ID}\n" in email.text
    assert f'<a href="{PORTAL}/batches/{BATCH_ID}">' in email.html
    assert "RS005" not in email.text


def test_every_batch_email_names_its_awarding_organisation_by_id_in_the_subject_and_by_name_in_the_body() -> None:
    """A results team that receives the batches of several AO ids (a group's RN numbers) could not tell from the
    email which AO's batch it was: no AO id or name in its subject, text or HTML."""
    abandoned = BatchAbandoned(
        batch_id=BATCH_ID,
        ao_id="RN5133",
        reason="could not be processed",
        batch_reference="SUMMER-24-01",
        notification_email="results@ao.example",
        abandoned_at=DECIDED,
    )
    name = "Pearson <Education> Ltd"
    emails = [
        batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL, ao_name=name),
        batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL, ao_name=name),
        batch_run_email(EVENT_ID, failed("RS004"), public_base_url=PORTAL, ao_name=name),
        batch_abandoned_email(EVENT_ID, abandoned, "results@ao.example", public_base_url=PORTAL, ao_name=name),
    ]
    for email in emails:
        assert "RN5133" in email.subject and "Pearson" not in email.subject
        assert "Awarding organisation: RN5133 Pearson <Education> Ltd\n" in email.text
        assert (
            '<th align="left" scope="row">Awarding organisation</th><td>RN5133 Pearson &lt;Education&gt; Ltd</td>'
            in email.html
        )
    # an AO the notifier's reference data does not name: its id alone
    unnamed = batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL)
    assert "Awarding organisation: RN5133\n" in unnamed.text


def test_top_rejection_codes_come_most_frequent_first_with_their_meaning() -> None:
    assert [(rejection.code, rejection.records) for rejection in REJECTIONS] == [
        ("RV004", 3),
        ("RV002", 1),
        ("RV009", 1),
        ("RV021", 1),
    ]
    assert len(top_rejections({f"RV0{n:02d}": n for n in range(1, 20)})) == 5
    email = batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL, rejections=REJECTIONS)
    assert "  RV004       3 records  ULN, names and date of birth do not match a registered learner" in email.text
    assert "  RV002       1 record   ULN check digit is wrong" in email.text
    assert '<td>RV004</td><td align="right">3</td><td>ULN, names and date of birth' in email.html


def test_batch_failed_email_says_so_first_gives_the_rs005_reason_and_says_nothing_reached_a_plr() -> None:
    email = batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL)
    assert email.subject == f"LRS batch failed (RS005), nothing recorded: RN5133 {BATCH_ID}"
    first_line = email.text.splitlines()[0]
    assert first_line.startswith(f"Your batch {BATCH_ID} failed (RS005): Too many achievement records")
    assert "complete" not in first_line
    assert "Nothing from it has been recorded: no Personal Learning Record was changed." in first_line
    assert "Result:                failed (RS005)" in email.text
    assert "Reason (RS005): 4 of 10 records (40%) were rejected" in email.text
    assert "send the whole batch again" in email.text
    assert "Job type:              Provisional" in email.text


def test_a_failed_batch_says_once_and_plainly_that_nothing_was_recorded_and_what_is_kept() -> None:
    """It said "Accepted: (6) passed their checks, but none was added to a learner's record: the whole batch
    failed (RS005)", the same after "No change: (0)", and again at the end: three times in one email."""
    email = batch_run_email(EVENT_ID, failed(), public_base_url=PORTAL)
    html = email.html.replace("&#39;", "'")
    for part in (email.text, html):
        assert part.count("no Personal Learning Record was changed") == 1
        assert "passed their checks" not in part and "not even" not in part and "(6)" not in part
        kept = "The batch and every record's result are kept (in the CSV of the results, the last column, PLRChanged,"
        assert kept in part and "send the whole batch again" in part
    assert "Would have been accepted: 6\n" in email.text
    assert "Unchanged:                0\n" in email.text and "Rejected:                 4\n" in email.text
    assert '<th align="left" scope="row">Would have been accepted</th><td>6</td>' in html
    assert '<th align="left" scope="row">Unchanged</th><td>0</td>' in html


def test_a_completed_batchs_counts_stay_bare_and_one_record_reads_in_the_singular() -> None:
    one = BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0)
    email = batch_run_email(EVENT_ID, completed(counts=one), public_base_url=PORTAL)

    assert email.text.startswith("Your batch SUMMER-24-01 is complete: 1 of 1 record accepted.\n")
    assert "1 of 1 record accepted." in email.html
    assert "Accepted:              1\n" in email.text and "passed their checks" not in email.text
    assert "PLRChanged" not in email.text


def test_codes_left_out_of_the_list_are_counted_with_their_records_and_a_link_in_both_parts() -> None:
    """19 rejected records under 19 codes showed RV001-RV005, one each, and nothing said more codes occurred."""
    counts = {f"RV0{n:02d}": 1 for n in range(1, 20)}
    listed = top_rejections(counts)
    email = batch_run_email(
        EVENT_ID, completed(), public_base_url=PORTAL, rejections=listed, unlisted=unlisted_rejections(counts, listed)
    )
    link = f"{PORTAL}/batches/{BATCH_ID}"
    assert f"  and 14 more codes (14 records): see the batch's results at {link}\n" in email.text
    assert f'And 14 more codes (14 records): see <a href="{link}">the batch' in email.html
    assert unlisted_rejections({"RV004": 7, "RV002": 2}, top_rejections({"RV004": 7, "RV002": 2}, limit=1)) == (
        UnlistedRejections(1, 2)
    )
    every = batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL, rejections=REJECTIONS)
    assert "more code" not in every.text and "more code" not in every.html


def test_warnings_are_listed_by_code_with_what_each_means_and_none_say_nothing_more() -> None:
    rejections, warnings = split_warnings({"RV004": 3, "WV002": 1, "WV001": 2})
    assert rejections == {"RV004": 3}
    email = batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL, warnings=warnings)
    assert "Warnings:              1\n" in email.text
    said = "Warnings (a warning alone rejects no record; a record with a warning may have been rejected for an error above):"
    assert said + "\n" in email.text
    assert "A warning alone rejects no record" in email.html
    listed = [line.split()[:2] for line in email.text.splitlines() if line.startswith("  WV")]
    assert listed == [["WV001", "2"], ["WV002", "1"]]
    assert "Records are not ordered by ULN" in email.text
    assert '<tr><td>WV001</td><td align="right">2</td>' in email.html
    none = BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0)
    bare = batch_run_email(EVENT_ID, completed(counts=none), public_base_url=PORTAL)
    assert (
        "Warnings:              0\n" in bare.text
        and "WV0" not in bare.text
        and '<h2 style="font-size: 1.1em">Warnings' not in bare.html
    )


def test_a_batch_failed_with_another_batch_code_is_called_refused() -> None:
    email = batch_run_email(EVENT_ID, failed("RS004"), public_base_url=PORTAL)
    assert email.subject == f"LRS batch refused (RS004), nothing recorded: RN5133 {BATCH_ID}"
    assert email.text.startswith(f"Your batch {BATCH_ID} was refused (RS004): The job type is not Provisional")


def test_the_html_alternative_escapes_what_the_ao_wrote() -> None:
    email = batch_run_email(EVENT_ID, completed(batch_reference="<b>June</b> & July"), public_base_url=PORTAL)
    assert "&lt;b&gt;June&lt;/b&gt; &amp; July" in email.html
    assert "<b>June</b>" not in email.html
    assert "Your batch <b>June</b> & July is complete" in email.text


@pytest.mark.parametrize("line_break", ["\r\n", "\x85", "\u2028", "\u2029"])
def test_a_line_break_in_the_batch_reference_cannot_reach_a_header(line_break: str) -> None:
    """Ingest refuses one (RS001); a batch accepted before that refusal covered it is still emailed."""
    email = batch_run_email(
        EVENT_ID, completed(batch_reference=f"JUNE{line_break}Bcc: everyone@example.org"), public_base_url=PORTAL
    )
    shown = "".join(f"[U+{ord(character):04X}]" for character in line_break)
    message = to_mime(email, "lrs@lrs.local")
    assert (
        message["Subject"]
        == f"LRS batch completed: RN5133 JUNE{shown}Bcc: everyone@example.org (6 of 10 accepted, 4 rejected)"
        " (batch 5f9a1d2c)"
    )
    assert message["Bcc"] is None
    with pytest.raises(ValueError, match="linefeed"):  # what the notifier still parks: a To that breaks a line
        to_mime(dataclasses.replace(email, to="a@ao.example\r\nBcc: everyone@example.org"), "lrs@lrs.local")


ENCODED_BREAK = "=?utf-8?q?2026=0D=0AReply-To=3A_attacker=40evil=2Eexample=0D=0ABcc=3A_everyone=40example=2Eorg?="


def test_an_encoded_word_in_the_batch_reference_is_shown_not_decoded_into_headers() -> None:
    """Python's email package decodes `=?…?=` in a header value and writes its line breaks as they are
    (CVE-2024-6923): the walk-through's reference added a Reply-To to the batch email."""
    email = batch_run_email(EVENT_ID, completed(batch_reference=f"Summer {ENCODED_BREAK}"), public_base_url=PORTAL)
    message = to_mime(email, "lrs@lrs.local")

    assert (message["Reply-To"], message["Bcc"]) == (None, None)
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    assert str(message["Subject"]).endswith(
        "Summer = ?utf-8?q?2026=0D=0AReply-To=3A_attacker=40evil=2Eexample=0D=0ABcc=3A_everyone=40example=2Eorg?="
        " (6 of 10 accepted, 4 rejected) (batch 5f9a1d2c)"
    )
    written = message.as_bytes()
    assert b"\nReply-To:" not in written and b"\nBcc:" not in written


def test_an_address_an_encoded_word_would_turn_into_another_is_never_mailed() -> None:
    """The door refuses it now (`is_plausible_email`); a batch accepted before is parked, not mailed."""
    email = batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL)
    with pytest.raises(ValueError, match="not one plain address"):
        to_mime(dataclasses.replace(email, to="x@=?utf-8?q?ao=2Eexample=0D=0ABcc=3A_y?=.example"), "lrs@lrs.local")


def test_a_non_ascii_address_is_mailed_as_it_is() -> None:
    email = batch_run_email(EVENT_ID, completed(notification_email="zoë@ao.example"), public_base_url=PORTAL)
    assert to_mime(email, "lrs@lrs.local")["To"] == "zoë@ao.example"


def test_challenge_email_goes_to_the_contact_links_its_page_and_masks_the_uln() -> None:
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133", uln="1000000043", reason_sealed="s1.x"
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    email = challenge_raised_email(
        EVENT_ID, raised, contact, DECIDED, reason="My grade should be B, not C", public_base_url=PORTAL
    )
    assert email.to == "challenges@ao.example"
    assert email.text.startswith("Dear Ada Lovelace,")
    for body in (email.text, email.html):
        assert "1000000043" not in body
        assert "******0043" in body
        assert "My grade should be B, not C" in body
        assert "not an appeal" in body
        assert f"{PORTAL}/challenges/{raised.challenge_id}" in body
    mime = to_mime(email, "lrs@lrs.local")
    assert mime["To"] == "challenges@ao.example"
    assert mime["Date"] == "Tue, 05 Mar 2024 10:30:00 +0000"


def test_challenge_email_names_the_achievement_as_the_ao_knows_it_and_keeps_its_id() -> None:
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id="RN5133",
        uln="1000000043",
        reason_sealed="s1.x",
        achievement=ChallengedAchievement(
            qualification_number="6001166X", title="GCSE Mathematics", award_date=date(2024, 8, 22), grade="4"
        ),
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    email = challenge_raised_email(EVENT_ID, raised, contact, DECIDED, reason="It was a 5", public_base_url=PORTAL)
    assert email.subject == f"LRS Event Data Challenge raised on 600/1166/X: RN5133 {raised.challenge_id}"
    for body in (email.text, email.html):
        assert "600/1166/X GCSE Mathematics" in body
        assert "22 August 2024" in body
        assert str(raised.achievement_id) in body
        assert "1000000043" not in body and "******0043" in body
    assert "Grade:                   4" in email.text
    lines = email.text.splitlines()
    assert (
        "Qualification:           600/1166/X GCSE Mathematics" in lines
        and "Award date:              22 August 2024" in lines
    )
    assert lines[lines.index("Grade:                   4") + 1] == "Learner ULN:             ******0043"
    assert raised.achievement is not None
    untitled = raised.model_copy(update={"achievement": raised.achievement.model_copy(update={"title": None})})
    plain = challenge_raised_email(EVENT_ID, untitled, contact, DECIDED, reason="x", public_base_url=PORTAL).text
    assert "Qualification:           600/1166/X" in plain.splitlines()


@pytest.mark.parametrize(("status", "said"), [(ResultStatus.PROVISIONAL, "Provisional"), (ResultStatus.FINAL, "Final")])
def test_challenge_email_says_whether_the_result_was_provisional_or_final_when_it_was_raised(
    status: ResultStatus, said: str
) -> None:
    """Decision 0183: the AO reads whether the learner challenged a Provisional or a Final result; an event written
    before challenges kept it says neither."""
    achievement = ChallengedAchievement(
        qualification_number="6001166X", award_date=date(2024, 8, 22), grade="4", status=status
    )
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id="RN5133",
        uln="1000000043",
        reason_sealed="s1.x",
        achievement=achievement,
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    email = challenge_raised_email(EVENT_ID, raised, contact, DECIDED, reason="It was a 5", public_base_url=PORTAL)
    older = raised.model_copy(update={"achievement": achievement.model_copy(update={"status": None})})
    before = challenge_raised_email(EVENT_ID, older, contact, DECIDED, reason="It was a 5", public_base_url=PORTAL)

    lines = email.text.splitlines()
    assert lines[lines.index("Grade:                   4") + 1] == f"Status:                  {said}"
    assert f'<tr><th align="left" scope="row">Status</th><td>{said}</td></tr>' in email.html
    assert "Status:" not in before.text and ">Status<" not in before.html


def test_a_challenge_raised_before_events_carried_the_achievement_names_it_by_its_id() -> None:
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133", uln="1000000043", reason_sealed="s1.x"
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    email = challenge_raised_email(EVENT_ID, raised, contact, DECIDED, reason=None, public_base_url=PORTAL)
    assert email.subject == f"LRS Event Data Challenge raised: RN5133 {raised.challenge_id}"
    assert f"Achievement id:          {raised.achievement_id}" in email.text
    assert "Qualification" not in email.text


def test_a_batch_references_bidirectional_controls_are_shown_not_obeyed_in_subject_and_body() -> None:
    email = batch_run_email(EVENT_ID, completed(batch_reference="JUNE\u202eFER"), public_base_url=PORTAL)
    for shown in (email.subject, email.text, email.html):
        assert "JUNE[U+202E]FER" in shown
        assert "\u202e" not in shown


def test_a_learners_bidirectional_controls_are_shown_not_obeyed_in_the_challenge_email() -> None:
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133", uln="1000000043", reason_sealed="s1.x"
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    reason = "Grade \u202eC ton ,B\u202c and \u2067isolated\u2069; \u200fmarks\u200e stay"
    email = challenge_raised_email(EVENT_ID, raised, contact, DECIDED, reason=reason, public_base_url=PORTAL)
    for body in (email.text, email.html):
        assert "Grade [U+202E]C ton ,B[U+202C] and [U+2067]isolated[U+2069]; \u200fmarks\u200e stay" in body
        assert not any(character in body for character in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def test_a_rejection_count_without_a_known_meaning_reads_empty() -> None:
    assert RejectionCount("RV999", 2).meaning == ""


def test_a_held_notice_says_the_day_it_was_raised_in_the_uk() -> None:
    """00:30 on 15 June in the UK is 23:30 on 14 June in UTC: the portal and MI say 15 June, so does the email."""
    raised = ChallengeRaisedV1(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        uln="1000000043",
        ao_id="RN5133",
        reason="It was a 5",
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    just_after_midnight = datetime(2026, 6, 14, 23, 30, tzinfo=UTC)
    email = challenge_raised_email(
        EVENT_ID,
        raised,
        contact,
        just_after_midnight,
        reason="It was a 5",
        public_base_url=PORTAL,
        released_at=datetime(2026, 6, 20, 9, 0, tzinfo=UTC),
    )
    assert "It was raised on 15 June 2026" in email.text and "It was raised on 15 June 2026" in email.html


def test_a_challenge_email_masks_the_uln_the_ao_recorded_the_achievement_under() -> None:
    """Decision 0162: 6936002314 merged into 1000000043, who challenges what the AO recorded under 6936002314. The AO
    finds its record by 6936002314; an event written before challenges kept that ULN shows the raising learner's."""
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id="RN5133",
        uln="1000000043",
        reason_sealed="s1.x",
        achievement=ChallengedAchievement(
            qualification_number="6001166X", award_date=date(2024, 8, 22), grade="4", uln="6936002314"
        ),
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    email = challenge_raised_email(EVENT_ID, raised, contact, DECIDED, reason="It was a 5", public_base_url=PORTAL)
    assert raised.achievement is not None
    older = raised.model_copy(update={"achievement": raised.achievement.model_copy(update={"uln": None})})
    before = challenge_raised_email(EVENT_ID, older, contact, DECIDED, reason="It was a 5", public_base_url=PORTAL)

    assert "Learner ULN:             ******2314" in email.text.splitlines()
    assert "<td>******2314</td>" in email.html
    for body in (email.text, email.html):
        assert "******0043" not in body and "1000000043" not in body and "6936002314" not in body
    assert "Learner ULN:             ******0043" in before.text.splitlines()


def test_an_email_says_it_was_sent_by_a_machine_so_no_auto_reply_answers_it() -> None:
    mime = to_mime(batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL), "lrs@lrs.local")
    assert mime["Auto-Submitted"] == "auto-generated"


def test_the_rejection_codes_say_a_record_with_several_counts_under_each() -> None:
    """Five codes at one record each, of two rejected records: the reader is told why they add up to more."""
    email = batch_run_email(EVENT_ID, completed(), public_base_url=PORTAL, rejections=REJECTIONS)
    assert "Most frequent rejection codes (a record with several is counted under each):" in email.text
    assert "A record with several codes is counted under each." in email.html


@pytest.mark.parametrize(
    ("changed_by", "said"),
    [("operator:jo", "by an LRS operator"), ("ao:RN5133", "by your organisation's key or portal account")],
)
def test_the_address_a_challenge_contact_left_is_told_when_and_by_what_kind_of_caller(
    changed_by: str, said: str
) -> None:
    email = contact_changed_email(
        EVENT_ID,
        ao_id="RN5133",
        old_email="challenges@ao.example",
        old_name="Ada Lovelace",
        changed_by=changed_by,
        changed_at=datetime(2026, 7, 1, 12, 5, tzinfo=UTC),
        public_base_url=PORTAL,
    )

    assert (email.to, email.subject) == ("challenges@ao.example", "LRS challenge contact changed: RN5133")
    for body in (email.text, html.unescape(email.html)):
        assert "changed at 13:05 on 1 July 2026 (UK time)" in body and said in body  # BST
        assert f"{PORTAL}/contact" in body and "lrs challenges contact RN5133" in body
        assert "operator:jo" not in body  # an operator's name is no business of theirs
    assert email.message_id == f"<{EVENT_ID}@lrs.local>"
