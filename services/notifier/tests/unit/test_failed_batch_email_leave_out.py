"""A batch failed by RS005 told one way out, "fix the rejected records and send the whole batch again", even when only
the service desk can fix a record: an RV004 whose learner's registration waits to be corrected (onboarding walk,
finding 6). A batch is judged as a whole, and nothing asks it to hold every record an AO has: the email now says that
a record that cannot be corrected yet can be left out and sent in a later batch. A batch of one record has nothing to
leave out, and a direct entry is told to correct it and enter it again, as before."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime

import pytest

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCounts, BatchFailed
from lrs_domain.direct_entry import direct_entry_reference
from notifier.emails import batch_run_email, top_rejections

EVENT_ID = uuid.UUID("0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11")
DECIDED = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
PORTAL = "https://portal.lrs.example"
LEAVE_OUT = (
    "A record you cannot correct yet (an RV004 waiting for the learner's registration to be corrected through the LRS"
    " service desk, say) can be left out and sent in a later batch, once it is corrected."
)


def _failed(total: int, rejected: int, reference: str = "NCTJ-DEC-4") -> BatchFailed:
    return BatchFailed(
        batch_id=uuid.UUID(int=7),
        ao_id="RN9081",
        code="RS005",
        reason=f"{rejected} of {total} records were rejected, more than the 30% allowed",
        job_type=JobType.FINAL,
        batch_reference=reference,
        notification_email="results@nctj.example",
        counts=BatchCounts(total=total, accepted=total - rejected, rejected=rejected, no_ops=0, warnings=0),
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def _bodies(outcome: BatchFailed, *, sandpit: bool = False) -> list[str]:
    email = batch_run_email(
        EVENT_ID, outcome, public_base_url=PORTAL, rejections=top_rejections({"RV004": 2, "RV009": 1}), sandpit=sandpit
    )
    return [" ".join(email.text.split()), " ".join(html.unescape(email.html).split())]


@pytest.mark.parametrize("sandpit", [False, True])
def test_a_failed_batchs_email_says_a_record_that_cannot_be_corrected_yet_can_be_left_out(sandpit: bool) -> None:
    for body in _bodies(_failed(7, 3), sandpit=sandpit):
        assert "is N for each record): correct the rejected records and send the whole batch again. " + LEAVE_OUT in (
            body
        )
        assert "fix the rejected records" not in body


def test_a_failed_one_record_batch_is_not_told_to_leave_its_record_out() -> None:
    for body in _bodies(_failed(1, 1, reference="SUMMER-26")):
        assert "correct the rejected records and send the whole batch again." in body
        assert "left out" not in body


def test_a_rejected_direct_entry_is_told_to_enter_it_again_not_to_leave_it_out() -> None:
    for body in _bodies(_failed(1, 1, reference=direct_entry_reference("c23b9543-0d1e-4f5a-8b6c-7d8e9f0a1b2c"))):
        assert "Correct it and enter it again" in body
        assert "left out" not in body and "whole batch" not in body
