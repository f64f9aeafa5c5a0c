"""What the notifier sends, composed from events alone: pure, no I/O.

The Message-ID is derived from the event id, so a redelivered event produces the very same email and
a receiving system can drop the duplicate (at-least-once delivery, DESIGN.md §5 invariant 3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from lrs_contracts.challenge import ChallengeRaised
from lrs_contracts.outcomes import BatchCompleted, BatchFailed
from lrs_platform.logging import mask_uln


@dataclass(frozen=True)
class ChallengeContact:
    """An AO's contact for Event Data Challenges (DOMAIN.md §5 rule 13)."""

    given_name: str
    family_name: str
    telephone: str
    email: str


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str
    message_id: str
    date: datetime


def message_id_for(event_id: uuid.UUID, domain: str = "lrs.local") -> str:
    return f"<{event_id}@{domain}>"


def batch_view_path(batch_id: uuid.UUID) -> str:
    return f"/v1/batches/{batch_id}"


def challenge_view_path(challenge_id: uuid.UUID) -> str:
    return f"/v1/challenges/{challenge_id}"


def batch_run_email(
    event_id: uuid.UUID, outcome: BatchCompleted | BatchFailed, *, domain: str = "lrs.local"
) -> OutgoingEmail:
    failed = isinstance(outcome, BatchFailed)
    reference = outcome.batch_reference or str(outcome.batch_id)
    verdict = f"FAILED ({outcome.code})" if isinstance(outcome, BatchFailed) else "completed"
    counts = outcome.counts
    lines = [
        "Your batch run is complete.",
        "",
        f"Batch id:         {outcome.batch_id}",
        f"Batch reference:  {reference}",
        f"Job type:         {outcome.job_type.value}",
        f"Result:           {verdict}",
        f"Records:          {counts.total}",
        f"Accepted:         {counts.accepted}",
        f"Rejected:         {counts.rejected}",
        f"No change:        {counts.no_ops}",
        f"Warnings:         {counts.warnings}",
    ]
    if isinstance(outcome, BatchFailed):
        lines += [
            "",
            f"Reason ({outcome.code}): {outcome.reason}",
            "Nothing from this batch has been added to any Personal Learning Record.",
        ]
    lines += ["", f"See the results of every record at {batch_view_path(outcome.batch_id)}", ""]
    subject = f"LRS batch run {'failed' if failed else 'complete'}: {reference}"
    return OutgoingEmail(
        to=outcome.notification_email,
        subject=subject,
        body="\n".join(lines),
        message_id=message_id_for(event_id, domain),
        date=outcome.decided_at,
    )


def challenge_raised_email(
    event_id: uuid.UUID,
    raised: ChallengeRaised,
    contact: ChallengeContact,
    occurred_at: datetime,
    *,
    domain: str = "lrs.local",
) -> OutgoingEmail:
    # The learner's full ULN stays out of the email: the AO reads it from the challenge API.
    lines = [
        f"Dear {contact.given_name} {contact.family_name},",
        "",
        "A learner has raised an Event Data Challenge against one of your achievements.",
        "A challenge reports a data error on the Personal Learning Record; it is not an appeal.",
        "",
        f"Challenge id:    {raised.challenge_id}",
        f"Achievement id:  {raised.achievement_id}",
        f"Learner ULN:     {mask_uln(raised.uln)}",
        "",
        "The learner wrote:",
        raised.reason,
        "",
        f"Acknowledge and resolve it at {challenge_view_path(raised.challenge_id)}",
        "",
    ]
    return OutgoingEmail(
        to=contact.email,
        subject=f"LRS Event Data Challenge raised: {raised.challenge_id}",
        body="\n".join(lines),
        message_id=message_id_for(event_id, domain),
        date=occurred_at,
    )


def to_mime(email: OutgoingEmail, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.date)
    message.set_content(email.body)
    return message
