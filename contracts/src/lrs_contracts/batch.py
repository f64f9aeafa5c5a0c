"""What ingest puts on `lrs.batch.submitted.v1` (key: AO id).

A batch travels as one `BatchSubmitted`, then its records in `BatchRecordsSubmitted` chunks, then one
`BatchSubmissionCompleted` end marker, all inside one Kafka transaction: a reader using
`read_committed` sees a whole batch or nothing of it.
Record fields are kept as submitted (trimmed text), because judging them is validation's job.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from lrs_contracts.envelope import Contract


class JobType(StrEnum):
    """A batch's job type: Provisional results (NQF only) or Final ones; a batch without one is Final."""

    PROVISIONAL = "Provisional"
    FINAL = "Final"


class RecordAction(StrEnum):
    CREATE = "Create"
    UPDATE = "Update"
    WITHDRAW = "Withdraw"
    REINSTATE = "Reinstate"


class BatchFormat(StrEnum):
    """The file format a batch came in."""

    XML = "xml"
    CSV = "csv"
    JSON = "json"


class BatchHeader(Contract):
    """The batch header as submitted. `job_type` None means Final (DOMAIN.md §5.1)."""

    file_version: str | None = None
    awarding_organisation: str = Field(description="the AO's Ofqual recognition number, e.g. RN5133")
    job_type: JobType | None = None
    notification_email: str = Field(
        description="the address the AO's batch outcome is sent to, as given; may name a member of the AO's staff;"
        " kept with the topic (7 days on lrs.batch.submitted.v1; for ever on lrs.batch.outcomes.v1, which repeats"
        " it)"
    )
    batch_reference: str | None = None
    results_issued_date: str | None = Field(default=None, description="yyyy-mm-dd, as submitted")

    @property
    def effective_job_type(self) -> JobType:
        return self.job_type or JobType.FINAL


# How far after the day its batch is received a ResultsIssuedDate may be (decision 0133): an AO may load results
# ahead of results day, and such a batch counts as on time; a date further ahead is a slip of the year (2062 for
# 2026). Ingest refuses it at the door (RS001) and reporting leaves a batch stored before that out of timeliness.
LATEST_RESULTS_ISSUED_AHEAD = timedelta(days=366)


class SubmittedRecord(Contract):
    """One achievement record as submitted: trimmed text, empty fields as None."""

    line: int = Field(ge=1, description="CSV row number (first record is line 4) or 1-based position")
    action: str | None = None
    mis_identifier: str | None = None
    uln: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: str | None = None
    gender: str | None = None
    qualification_number: str | None = None
    pathway: str | None = None
    award_date: str | None = None
    grade: str | None = None
    centre_ukprn: str | None = None
    language_for_assessment: str | None = None
    credits: str | None = None
    personal: str | None = Field(
        default=None,
        description="given_name, family_name, date_of_birth and gender sealed under the learner's key"
        " (lrs_platform.keyring, purpose `submitted-record`); those four fields are then None",
    )
    learner_erased: bool = Field(
        default=False,
        description="the ULN's learner was erased: their personal fields are sealed in `personal` under the batch's"
        " own key (decision 0157), or were dropped by an ingest before that",
    )


class BatchSubmitted(Contract):
    """lrs.batch.submitted.v1 — a batch was accepted by ingest; its records follow."""

    event_type: Literal["lrs.batch.submitted.v1"] = "lrs.batch.submitted.v1"
    batch_id: uuid.UUID
    ao_id: str
    header: BatchHeader
    format: BatchFormat
    record_count: int = Field(ge=1)
    content_sha256: str
    size_bytes: int = Field(ge=0)
    submitted_by: str = Field(description="the principal that submitted, e.g. ao:RN5133")
    received_at: datetime  # as its schema says (RFC 3339's date-time), with its offset from UTC

    @field_validator("received_at")
    @classmethod
    def _must_say_its_offset(cls, value: datetime) -> datetime:
        # England's day of receipt decides RV008 (an award date in the future): a time without an offset would be
        # read in the reading host's zone
        if value.utcoffset() is None:
            raise ValueError("received_at must say its offset from UTC")
        return value


class BatchRecordsSubmitted(Contract):
    """lrs.batch.records.submitted.v1 — a chunk of a batch's records, in file order."""

    event_type: Literal["lrs.batch.records.submitted.v1"] = "lrs.batch.records.submitted.v1"
    batch_id: uuid.UUID
    ao_id: str
    chunk_index: int = Field(ge=0)
    records: tuple[SubmittedRecord, ...]


class BatchSubmissionCompleted(Contract):
    """lrs.batch.submission.completed.v1 — end-of-batch marker: every chunk is before it."""

    event_type: Literal["lrs.batch.submission.completed.v1"] = "lrs.batch.submission.completed.v1"
    batch_id: uuid.UUID
    ao_id: str
    record_count: int = Field(ge=1)
    chunk_count: int = Field(ge=1)
