from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lrs_contracts.batch import JobType
from lrs_contracts.challenge import ChallengeRaised
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchFailed
from notifier.emails import ChallengeContact, batch_run_email, challenge_raised_email, message_id_for, to_mime

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


def failed() -> BatchFailed:
    return BatchFailed(
        batch_id=BATCH_ID,
        ao_id="RN5133",
        code="RS005",
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
    first = to_mime(batch_run_email(EVENT_ID, completed()), "lrs@lrs.local")
    second = to_mime(batch_run_email(EVENT_ID, completed()), "lrs@lrs.local")
    assert first.as_bytes() == second.as_bytes()
    assert first["Message-ID"] == "<0b7f3c1e-27a4-4c55-9d0f-1f7c0e9b2a11@lrs.local>"


def test_batch_completed_email_names_batch_job_type_counts_and_link() -> None:
    email = batch_run_email(EVENT_ID, completed())
    assert email.to == "results@ao.example"
    assert email.subject == "LRS batch run complete: SUMMER-24-01"
    assert str(BATCH_ID) in email.body
    assert "Job type:         Final" in email.body
    assert "Accepted:         6" in email.body
    assert "Rejected:         4" in email.body
    assert f"/v1/batches/{BATCH_ID}" in email.body
    assert "RS005" not in email.body


def test_batch_failed_email_gives_the_rs005_reason_and_says_nothing_reached_a_plr() -> None:
    email = batch_run_email(EVENT_ID, failed())
    assert email.subject == f"LRS batch run failed: {BATCH_ID}"
    assert "Result:           FAILED (RS005)" in email.body
    assert "Reason (RS005): 4 of 10 records (40%) were rejected" in email.body
    assert "Nothing from this batch has been added" in email.body
    assert "Job type:         Provisional" in email.body


def test_challenge_email_goes_to_the_contact_and_masks_the_uln() -> None:
    raised = ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id="RN5133",
        uln="1000000043",
        reason="My grade should be B, not C",
    )
    contact = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
    email = challenge_raised_email(EVENT_ID, raised, contact, DECIDED)
    assert email.to == "challenges@ao.example"
    assert email.body.startswith("Dear Ada Lovelace,")
    assert "1000000043" not in email.body
    assert "******0043" in email.body
    assert "My grade should be B, not C" in email.body
    assert "not an appeal" in email.body
    assert f"/v1/challenges/{raised.challenge_id}" in email.body
    mime = to_mime(email, "lrs@lrs.local")
    assert mime["To"] == "challenges@ao.example"
    assert mime["Date"] == "Tue, 05 Mar 2024 10:30:00 +0000"
