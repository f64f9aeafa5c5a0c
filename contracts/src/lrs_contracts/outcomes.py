"""What validation puts on `lrs.batch.outcomes.v1` (key: batch id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.batch import JobType
from lrs_contracts.envelope import Contract

# Personal data kept for ever (privacy.md): the address is whatever the AO's clerk typed in the batch's header.
NOTIFICATION_EMAIL = (
    "the batch header's address, as given; may name a member of the AO's staff; kept with the topic (for ever)"
)


class RecordStatus(StrEnum):
    """A record's outcome: accepted (it changes the PLR), rejected (codes say why) or no_op (nothing to change)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_OP = "no_op"


class Finding(Contract):
    """One rule's verdict on one record: a code, the field it concerns and a clerk-readable message."""

    code: str = Field(pattern=r"^(RV|WV)[0-9]{3}$")
    field: str | None = None
    message: str


class RecordOutcome(Contract):
    """What became of one record of a batch: accepted, rejected (with its errors) or unchanged (no-op)."""

    line: int = Field(ge=1)
    mis_identifier: str | None = None
    action: str | None = None
    uln_masked: str | None = Field(
        default=None,
        description="the ULN's last 4 digits, e.g. ******0043; every character masked when it is not 10 digits",
    )
    status: RecordStatus
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    achievement_id: uuid.UUID | None = None


class BatchCounts(Contract):
    """A batch's records by outcome: total = accepted + rejected + no_ops (DOMAIN.md §7)."""

    total: int = Field(ge=0)
    accepted: int = Field(ge=0, description="in a failed batch: the records that would have been accepted")
    rejected: int = Field(ge=0)
    no_ops: int = Field(ge=0, description="records that changed nothing: the PLR already held them as sent")
    warnings: int = Field(ge=0, description="records with a warning (WVnnn), whatever their outcome")


class BatchValidationStarted(Contract):
    """lrs.batch.validation.started.v1 — the decider has picked the batch up (status `validating`)."""

    event_type: Literal["lrs.batch.validation.started.v1"] = "lrs.batch.validation.started.v1"
    batch_id: uuid.UUID
    ao_id: str
    record_count: int = Field(ge=1)


class BatchRecordsDecided(Contract):
    """lrs.batch.records.decided.v1 — per-record outcomes of a decided batch, in chunks."""

    event_type: Literal["lrs.batch.records.decided.v1"] = "lrs.batch.records.decided.v1"
    batch_id: uuid.UUID
    ao_id: str
    chunk_index: int = Field(ge=0)
    outcomes: tuple[RecordOutcome, ...]


class QualificationOnPlr(Contract):
    """One qualification a completed batch put on the PLR log: its QAN, and the qualification type its
    recorded achievements carry (`qualification.qualification_type`)."""

    qualification_number: str = Field(description="the normalised QAN or unit reference, as in the events' key")
    qualification_type: str | None = Field(
        default=None,
        description="null when the batch's events of this qualification record no new achievement"
        " (updates, supersessions, withdrawals and reinstatements carry no type)",
    )


class BatchCompleted(Contract):
    """lrs.batch.completed.v1 — the batch was decided; its accepted records are on the PLR log.

    Validation writes it in the same Kafka transaction as the batch's PLR events, after them: once it
    is readable (read_committed) so are they. Its record timestamp (CreateTime: validation's producer's clock
    as it sends it, inside the transaction, after the batch's PLR events) is when they were sent to the log;
    they become readable when the transaction commits, a moment later.
    """

    event_type: Literal["lrs.batch.completed.v1"] = "lrs.batch.completed.v1"
    batch_id: uuid.UUID
    ao_id: str
    job_type: JobType
    batch_reference: str | None = None
    notification_email: str = Field(description=NOTIFICATION_EMAIL)
    counts: BatchCounts
    submitted_at: datetime
    decided_at: datetime
    results_issued_date: str | None = None
    on_plr: tuple[QualificationOnPlr, ...] | None = Field(
        default=None,
        description="the distinct qualifications of the events the batch put on lrs.plr.events.v1, by QAN;"
        " empty when it put none; null (absent) in completions written before this field existed",
    )


class BatchFailed(Contract):
    """lrs.batch.failed.v1 — the whole batch failed (RS005); nothing of it reached any PLR."""

    event_type: Literal["lrs.batch.failed.v1"] = "lrs.batch.failed.v1"
    batch_id: uuid.UUID
    ao_id: str
    code: str = Field(pattern=r"^RS[0-9]{3}$")
    reason: str
    job_type: JobType
    batch_reference: str | None = None
    notification_email: str = Field(description=NOTIFICATION_EMAIL)
    counts: BatchCounts
    submitted_at: datetime
    decided_at: datetime


class BatchAbandoned(Contract):
    """lrs.batch.abandoned.v1 — the decider gave up on the batch: it could not be read whole or
    decided after a few attempts, and was parked for operators. Nothing of it reached any PLR and
    nothing ever will: the AO submits the file again, as a new batch."""

    event_type: Literal["lrs.batch.abandoned.v1"] = "lrs.batch.abandoned.v1"
    batch_id: uuid.UUID
    ao_id: str
    reason: str = Field(description="why, for the AO: a fixed text that carries no personal data")
    job_type: JobType | None = None
    batch_reference: str | None = None
    notification_email: str | None = Field(
        default=None, description=f"{NOTIFICATION_EMAIL}; absent when the batch's header never reached the decider"
    )
    submitted_at: datetime | None = None
    abandoned_at: datetime
