"""A batch email says when the batch was decided (UK time), and one sent more than 15 minutes after it (set aside for
a recipient refused for now, held while the relay was away) is dated when it is sent, so that mail clients file it
where it arrives, and says it was delayed (mail review, finding 7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts
from notifier.emails import batch_run_email

DECIDED = datetime(2026, 7, 6, 13, 5, tzinfo=UTC)  # 14:05 in the UK (BST)
PORTAL = "https://portal.example"


def _completed() -> BatchCompleted:
    return BatchCompleted(
        batch_id=uuid.UUID("5f9a1d2c-8e4b-4f7a-a1b2-c3d4e5f60718"),
        ao_id="RN9093",
        job_type=JobType.FINAL,
        batch_reference="SUMMER-26",
        notification_email="results@ao.example",
        submitted_at=DECIDED - timedelta(seconds=2),
        decided_at=DECIDED,
        counts=BatchCounts(total=10, accepted=10, rejected=0, no_ops=0, warnings=0),
    )


def test_a_batch_email_says_when_the_batch_was_decided_in_uk_time() -> None:
    email = batch_run_email(uuid.uuid4(), _completed(), public_base_url=PORTAL, composed_at=DECIDED)

    assert "Decided:               14:05 on 6 July 2026 (UK time)" in email.text
    assert "14:05 on 6 July 2026 (UK time)" in email.html
    assert email.date == DECIDED
    assert "delayed" not in email.text


def test_one_sent_hours_after_the_decision_is_dated_when_sent_and_says_it_was_delayed() -> None:
    sent = DECIDED + timedelta(hours=5)

    email = batch_run_email(uuid.uuid4(), _completed(), public_base_url=PORTAL, composed_at=sent)

    assert email.date == sent
    assert "This email was delayed: the batch was decided at 14:05 on 6 July 2026 (UK time)." in email.text
    assert "This email was delayed" in email.html


def test_a_few_minutes_late_is_not_delayed() -> None:
    email = batch_run_email(
        uuid.uuid4(), _completed(), public_base_url=PORTAL, composed_at=DECIDED + timedelta(minutes=14)
    )

    assert email.date == DECIDED and "delayed" not in email.text
