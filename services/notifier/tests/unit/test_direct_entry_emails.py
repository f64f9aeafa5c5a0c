"""A direct entry's email (results review, finding 3): one achievement a person typed into the portal's form is sent as a
batch of that one record under a `PORTAL-…` reference. Rejected, it failed RS005, and its email said "Your batch
PORTAL-… failed (RS005): Too many achievement records have been rejected (more than 30%)" and to "send the whole batch
again": the person made no batch. Its email now speaks of the one entry; a real batch's is unchanged."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchFailed
from lrs_domain.direct_entry import direct_entry_reference
from notifier.emails import EntryResult, batch_run_email, entry_result_of, split_warnings, top_rejections

EVENT_ID = uuid.UUID("0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11")
BATCH_ID = uuid.UUID("9959b9e1-8e4b-4f7a-a1b2-c3d4e5f60718")
DECIDED = datetime(2026, 8, 21, 10, 30, tzinfo=UTC)
PORTAL = "https://portal.lrs.example"
LINK = f"{PORTAL}/batches/{BATCH_ID}"
ENTRY = direct_entry_reference("c23b9543-0d1e-4f5a-8b6c-7d8e9f0a1b2c")  # PORTAL-C23B9543, as the portal makes it
ONE_REJECTED = BatchCounts(total=1, accepted=0, rejected=1, no_ops=0, warnings=0)
ONE_ACCEPTED = BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0)
ONE_UNCHANGED = BatchCounts(total=1, accepted=0, rejected=0, no_ops=1, warnings=0)
RS005_REASON = "1 of 1 record was rejected, more than the 30% allowed"


def _failed(reference: str | None = ENTRY, counts: BatchCounts = ONE_REJECTED, code: str = "RS005") -> BatchFailed:
    return BatchFailed(
        batch_id=BATCH_ID,
        ao_id="RN9093",
        code=code,
        reason=RS005_REASON if code == "RS005" else "The job type is not Provisional or Final",
        job_type=JobType.FINAL,
        batch_reference=reference,
        notification_email="results@ao.example",
        counts=counts,
        submitted_at=DECIDED,
        decided_at=DECIDED,
    )


def _completed(counts: BatchCounts, reference: str | None = ENTRY) -> BatchCompleted:
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


def _both_parts(text: str, html: str) -> list[str]:
    return [text, html.replace("&#39;", "'")]


def test_the_reference_is_the_portals_own() -> None:
    assert ENTRY == "PORTAL-C23B9543"


def test_a_rejected_direct_entry_says_the_entry_was_rejected_not_that_a_batch_failed() -> None:
    email = batch_run_email(EVENT_ID, _failed(), public_base_url=PORTAL, rejections=top_rejections({"RV013": 1}))

    assert email.subject == "LRS direct entry rejected, not recorded: RN9093 PORTAL-C23B9543 (batch 9959b9e1)"
    assert email.text.splitlines()[0] == (
        "Your direct entry PORTAL-C23B9543 (one achievement, entered in the portal) was rejected, so it was not"
        " recorded (RS005). The learner's Personal Learning Record was not changed."
    )
    assert "Sent as:               a direct entry in the portal (a batch of this one record)\n" in email.text
    assert "Result:                rejected (RS005)\n" in email.text
    for part in _both_parts(email.text, email.html):
        for batch_words in ("30%", "Too many", "whole batch", "Would have been accepted", "Your batch", "PLRChanged"):
            assert batch_words not in part, batch_words
        assert "Correct it and enter it again" in part
        assert LINK in part
    # its code, as the email lists codes, with what it means
    assert "Why it was rejected:\n  RV013  Update may change only grade, UKPRN or language for assessment\n" in (
        email.text
    )
    assert "<tr><td>RV013</td><td>Update may change only grade" in email.html
    assert "<title>LRS direct entry rejected: PORTAL-C23B9543</title>" in email.html


def test_a_rejected_direct_entry_lists_every_code_of_its_record() -> None:
    email = batch_run_email(
        EVENT_ID, _failed(), public_base_url=PORTAL, rejections=top_rejections({"RV004": 1, "RV013": 1})
    )
    listed = [line.split()[0] for line in email.text.splitlines() if line.startswith("  RV")]
    assert listed == ["RV004", "RV013"]
    # an RV004 that does not say the learner's record was erased is corrected like any code
    assert "Correct it and enter it again: " in email.text and "see RV004" not in email.text


def test_an_accepted_direct_entry_says_it_is_recorded_without_a_batchs_counts() -> None:
    email = batch_run_email(EVENT_ID, _completed(ONE_ACCEPTED), public_base_url=PORTAL)

    assert email.subject == "LRS direct entry accepted: RN9093 PORTAL-C23B9543 (batch 9959b9e1)"
    assert email.text.startswith(
        "Your direct entry PORTAL-C23B9543 (one achievement, entered in the portal) was accepted and recorded on the"
        " learner's Personal Learning Record.\n"
    )
    assert "Result:                accepted\n" in email.text
    assert f"See the entry's result at {LINK}\n" in email.text
    for part in _both_parts(email.text, email.html):
        assert "1 of 1 record" not in part and "Your batch" not in part and "Records" not in part


def test_a_direct_entry_that_changed_nothing_says_it_was_already_recorded() -> None:
    email = batch_run_email(EVENT_ID, _completed(ONE_UNCHANGED), public_base_url=PORTAL)

    assert (
        email.subject == "LRS direct entry changed nothing, already recorded: RN9093 PORTAL-C23B9543 (batch 9959b9e1)"
    )
    assert "already held it as you entered it" in email.text.splitlines()[0]
    assert "Result:                unchanged (already recorded)\n" in email.text


def test_a_sandpit_direct_entry_says_its_record_is_the_sandpits() -> None:
    accepted = batch_run_email(EVENT_ID, _completed(ONE_ACCEPTED), public_base_url=PORTAL, sandpit=True)
    assert "recorded on the learner's Sandpit record (the Sandpit's practice records only" in accepted.text
    rejected = batch_run_email(EVENT_ID, _failed(), public_base_url=PORTAL, sandpit=True)
    assert "(until your Sandpit is reset: a reset deletes it)" in rejected.text


def test_a_direct_entry_refused_for_another_code_keeps_its_reason() -> None:
    email = batch_run_email(EVENT_ID, _failed(code="RS004"), public_base_url=PORTAL)
    assert email.subject == "LRS direct entry refused (RS004), not recorded: RN9093 PORTAL-C23B9543 (batch 9959b9e1)"
    assert "Reason (RS004): The job type is not Provisional or Final" in email.text


def test_a_direct_entrys_warning_is_listed_without_a_batchs_record_counts() -> None:
    _, warnings = split_warnings({"WV001": 1})
    email = batch_run_email(EVENT_ID, _completed(ONE_ACCEPTED), public_base_url=PORTAL, warnings=warnings)
    [line] = [line for line in email.text.splitlines() if line.startswith("  WV001")]
    assert "record" not in line


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (_failed(), EntryResult.REJECTED),
        (_completed(ONE_ACCEPTED), EntryResult.ACCEPTED),
        (_completed(ONE_UNCHANGED), EntryResult.UNCHANGED),
        (_failed(code="RS004"), EntryResult.REFUSED),
        # not a direct entry: another reference, none, one the form never makes, or more than one record
        (_failed(reference="SUMMER-26"), None),
        (_failed(reference=None), None),
        (_failed(reference="PORTAL-c23b9543"), None),
        (_failed(reference="PORTAL-C23B9543X"), None),
        (_failed(counts=BatchCounts(total=2, accepted=0, rejected=2, no_ops=0, warnings=0)), None),
    ],
)
def test_a_direct_entry_is_one_record_under_the_reference_the_form_gives(
    outcome: BatchCompleted | BatchFailed, expected: EntryResult | None
) -> None:
    assert entry_result_of(outcome) is expected


def test_a_real_one_record_batch_that_failed_keeps_the_batch_email() -> None:
    email = batch_run_email(EVENT_ID, _failed(reference="SUMMER-26"), public_base_url=PORTAL)
    assert email.subject == "LRS batch failed (RS005), nothing recorded: RN9093 SUMMER-26 (batch 9959b9e1)"
    assert f"Reason (RS005): {RS005_REASON}" in email.text
    assert "send the whole batch again" in email.text and "direct entry" not in email.text


def test_a_direct_entrys_rows_line_up_in_the_text_part() -> None:
    email = batch_run_email(EVENT_ID, _failed(), public_base_url=PORTAL, ao_name="Pearson Education Ltd")
    rows = [line for line in email.text.splitlines() if re.fullmatch(r"[A-Z][A-Za-z ]{1,24}: +\S.*", line)]
    assert [row.split(":")[0] for row in rows] == [
        "Awarding organisation",
        "Batch id",
        "Batch reference",
        "Decided",
        "Sent as",
        "Job type",
        "Result",
    ]
    assert len({len(row) - len(row.split(":", 1)[1].lstrip()) for row in rows}) == 1, rows
