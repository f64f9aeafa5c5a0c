"""Every record of an erased learner is RV004, and no correction changes that: a batch email listing RV004 says so
under its line and does not tell the AO to correct every rejected record (the email counts codes, not findings)."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts
from notifier.emails import batch_run_email, top_rejections

EVENT_ID = uuid.UUID("0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11")
DECIDED = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
PORTAL = "https://portal.lrs.example"
ERASED = (
    "A record whose RV004 says the learner's record was erased cannot be corrected: the LRS records nothing more for"
    " that ULN, so leave it out of your next batches."
)


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


def test_a_batch_email_listing_rv004_says_under_it_that_an_erased_learners_record_cannot_be_corrected() -> None:
    email = batch_run_email(
        EVENT_ID, _completed(), public_base_url=PORTAL, rejections=top_rejections({"RV004": 4, "RV009": 2})
    )
    lines = email.text.splitlines()
    rv004 = next(index for index, line in enumerate(lines) if line.startswith("  RV004"))
    assert lines[rv004 + 1].strip() == ERASED
    assert lines[rv004 + 2].startswith("  RV009")
    assert "Correct the rejected records (but see RV004 above) and send them in a new batch" in email.text
    shown = html.unescape(email.html)
    assert f"do not match a registered learner<br>{ERASED}</td>" in shown
    assert "Correct the rejected records (but see RV004 above) and send them in a new batch" in shown


def test_a_batch_email_without_rv004_says_nothing_of_erased_learners() -> None:
    email = batch_run_email(EVENT_ID, _completed(), public_base_url=PORTAL, rejections=top_rejections({"RV009": 6}))
    for body in (email.text, html.unescape(email.html)):
        assert "erased" not in body
        assert "Correct the rejected records and send them in a new batch" in body
