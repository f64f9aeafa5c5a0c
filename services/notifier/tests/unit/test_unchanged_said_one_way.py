"""A record already on the learner's record as sent is "unchanged" everywhere an AO reads a batch's result: the
email's subject said "1 unchanged" while its first line said "1 already recorded (no change)" and its table "No
change: 1" (the copy walk, finding 1). The portal and `lrs batch status` say "unchanged" too."""

from __future__ import annotations

from services.notifier.tests.unit.test_emails import BATCH_ID, EVENT_ID, PORTAL, completed

from lrs_contracts.outcomes import BatchCounts
from notifier.emails import batch_run_email


def test_a_completed_batchs_email_says_unchanged_in_its_subject_first_line_and_table() -> None:
    counts = BatchCounts(total=4, accepted=2, rejected=1, no_ops=1, warnings=0)
    email = batch_run_email(EVENT_ID, completed(counts=counts), public_base_url=PORTAL)

    assert "1 unchanged" in email.subject
    for part in (email.text, email.html):
        assert "Your batch SUMMER-24-01 is complete" in part
        assert "2 of 4 records accepted, 1 rejected, 1 unchanged (already recorded)." in part
        assert "no change" not in part.lower()
    assert "Unchanged:             1\n" in email.text
    assert '<th align="left" scope="row">Unchanged</th><td>1</td>' in email.html
    assert str(BATCH_ID) in email.text
