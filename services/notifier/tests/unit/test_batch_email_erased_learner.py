"""Every record of an erased learner is RV004, and no correction changes that: a batch email whose RV004 records
include one that says the learner's record was erased says so under RV004's line, and does not tell the AO to correct
every rejected record. Nearly every RV004 is a detail typed wrong (a nickname, a mistyped date of birth): an email
whose RV004s say nothing of an erasure says nothing of one either (onboarding walk, finding 8: "Correct it and enter
it again (but see RV004 above)" under every RV004 read as "do not correct RV004"). The email counts codes, and beside
them the rejected records whose RV004 says the learner's record was erased (`ERASED_TALLY`)."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchFailed, Finding, RecordOutcome, RecordStatus
from lrs_domain.direct_entry import direct_entry_reference
from notifier.emails import (
    ERASED_TALLY,
    UnlistedRejections,
    batch_run_email,
    count_record_codes,
    split_warnings,
    top_rejections,
    unlisted_rejections,
)

EVENT_ID = uuid.UUID("0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11")
DECIDED = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
PORTAL = "https://portal.lrs.example"
ERASED = (
    "A record whose RV004 says the learner's record was erased cannot be corrected: the LRS records nothing more for"
    " that ULN, so leave it out of your next batches."
)
# validation's words (`validation.personal.ERASED_LEARNER`; tests/test_erased_learner_in_batch_emails.py ties them)
ERASED_FINDING = Finding(
    code="RV004",
    field="uln",
    message="the learner's record was erased: no achievement can be recorded, changed or withdrawn for this ULN any more",
)
NOT_MATCHING = Finding(
    code="RV004",
    field="uln",
    message="The learner's names and date of birth (when given) do not match the learner registered with ULN"
    " ******0043: check the learner's details with the centre.",
)
BAD_GRADE = Finding(code="RV009", field="grade", message="Grade PASS is not in the qualification's grade set")


def _completed() -> BatchCompleted:
    return BatchCompleted(
        batch_id=uuid.UUID(int=100),
        ao_id="RN9093",
        job_type=JobType.FINAL,
        batch_reference="SAMPLE-100",
        notification_email="results@ao.example",
        counts=BatchCounts(total=100, accepted=0, rejected=6, no_ops=94, warnings=0),
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def _rejected(line: int, *errors: Finding) -> RecordOutcome:
    return RecordOutcome(line=line, status=RecordStatus.REJECTED, errors=errors)


def _email_of(*outcomes: RecordOutcome) -> tuple[str, str]:
    """The completed batch's email as the notifier composes it from its chunks' outcomes (`handlers._compose`)."""
    totals, warnings = split_warnings(count_record_codes(outcomes))
    rejections = top_rejections(totals)
    email = batch_run_email(
        EVENT_ID,
        _completed(),
        public_base_url=PORTAL,
        rejections=rejections,
        unlisted=unlisted_rejections(totals, rejections),
        warnings=warnings,
    )
    return email.text, html.unescape(email.html)


def test_a_batch_email_whose_rv004_says_erased_says_under_it_that_the_record_cannot_be_corrected() -> None:
    text, shown = _email_of(
        _rejected(4, ERASED_FINDING),
        _rejected(5, NOT_MATCHING),
        _rejected(6, NOT_MATCHING),
        _rejected(7, NOT_MATCHING),
        _rejected(8, BAD_GRADE),
        _rejected(9, BAD_GRADE),
    )
    lines = text.splitlines()
    rv004 = next(index for index, line in enumerate(lines) if line.startswith("  RV004"))
    assert lines[rv004].split()[:3] == ["RV004", "4", "records"]  # the erased one counts once, under RV004
    assert lines[rv004 + 1].strip() == ERASED
    assert lines[rv004 + 2].startswith("  RV009")
    assert "Correct the rejected records (but see RV004 above) and send them in a new batch" in text
    assert f"do not match a registered learner<br>{ERASED}</td>" in shown
    assert "Correct the rejected records (but see RV004 above) and send them in a new batch" in shown
    for body in (text, shown):
        assert ERASED_TALLY not in body and "more code" not in body  # the tally is no code of its own


def test_a_batch_email_whose_rv004s_are_details_typed_wrong_says_nothing_of_erased_learners() -> None:
    text, shown = _email_of(_rejected(4, NOT_MATCHING), _rejected(5, NOT_MATCHING, BAD_GRADE), _rejected(6, BAD_GRADE))
    assert "  RV004       2 records" in text
    for body in (text, shown):
        assert "erased" not in body and "see RV004" not in body
        assert "Correct the rejected records and send them in a new batch" in body


def test_a_batch_email_without_rv004_says_nothing_of_erased_learners() -> None:
    email = batch_run_email(EVENT_ID, _completed(), public_base_url=PORTAL, rejections=top_rejections({"RV009": 6}))
    for body in (email.text, html.unescape(email.html)):
        assert "erased" not in body
        assert "Correct the rejected records and send them in a new batch" in body


def test_only_a_rejected_records_erased_rv004_is_counted_and_each_record_once() -> None:
    counts = count_record_codes(
        [
            _rejected(4, ERASED_FINDING, BAD_GRADE),
            _rejected(5, NOT_MATCHING),
            RecordOutcome(line=6, status=RecordStatus.NO_OP),
        ]
    )
    assert counts == {"RV004": 2, "RV009": 1, ERASED_TALLY: 1}
    assert [(rejection.code, rejection.records, rejection.erased) for rejection in top_rejections(counts)] == [
        ("RV004", 2, 1),
        ("RV009", 1, 0),
    ]
    assert unlisted_rejections(counts, top_rejections(counts, limit=1)) == UnlistedRejections(1, 1)  # not the tally


def _entry_failed() -> BatchFailed:
    return BatchFailed(
        batch_id=uuid.UUID(int=101),
        ao_id="RN9093",
        code="RS005",
        reason="1 of 1 record was rejected, more than the 30% allowed",
        job_type=JobType.FINAL,
        batch_reference=direct_entry_reference("c23b9543-0d1e-4f5a-8b6c-7d8e9f0a1b2c"),
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=0, rejected=1, no_ops=0, warnings=0),
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def test_a_rejected_direct_entry_with_a_nickname_is_told_to_correct_it_without_a_word_of_erasure() -> None:
    """The walk's "Tom" for a learner registered as Thomas: RV004, details that do not match."""
    rejections = top_rejections(count_record_codes([_rejected(1, NOT_MATCHING)]))
    email = batch_run_email(EVENT_ID, _entry_failed(), public_base_url=PORTAL, rejections=rejections)
    for body in (email.text, html.unescape(email.html)):
        assert "Correct it and enter it again:" in body
        assert "erased" not in body and "see RV004" not in body


def test_a_rejected_direct_entry_for_an_erased_learner_says_so() -> None:
    rejections = top_rejections(count_record_codes([_rejected(1, ERASED_FINDING)]))
    email = batch_run_email(EVENT_ID, _entry_failed(), public_base_url=PORTAL, rejections=rejections)
    assert f"  RV004  ULN, names and date of birth do not match a registered learner\n         {ERASED}\n" in email.text
    assert "Correct it and enter it again (but see RV004 above):" in email.text
    assert "Correct it and enter it again (but see RV004 above):" in html.unescape(email.html)
