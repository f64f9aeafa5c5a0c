"""What the View Achievement Batch endpoints answer, and how stored rows become those answers."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ingest.submission import DECIDED_STATUSES, BatchStatus, refusal_title, status_url
from lrs_contracts.batch import BatchFormat, JobType
from lrs_contracts.codes import BatchCode
from lrs_contracts.environments import Environment
from lrs_contracts.outcomes import RecordStatus
from lrs_domain.formats.limits import finding_in_file_words, in_file_words
from lrs_platform.identity import Principal, PrincipalKind

Row = Mapping[str, Any]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class MaintenanceNotice(_View):
    """Why a queued batch waits: a maintenance window or an unplanned pause (GET /v1/maintenance)."""

    reason: str
    until: datetime | None = Field(description="when batches are decided again; null: when an operator resumes")
    paused: bool = Field(description="an unplanned pause rather than a planned window")
    message: str = Field(description='e.g. "will be processed after 2026-06-01T13:00:00Z"')


class BatchAccepted(_View):
    """The answer to a submission: the batch is durably queued for validation."""

    batch_id: uuid.UUID
    status: BatchStatus
    status_url: str = Field(description="GET it to follow the batch; also in the Location header")
    maintenance: MaintenanceNotice | None = Field(
        default=None, description="while a maintenance window or pause holds the batch (status `queued`)"
    )


class BatchCountsView(_View):
    total: int | None = Field(default=None, description="records in the file")
    accepted: int | None = None
    rejected: int | None = None
    warnings: int | None = Field(default=None, description="records with at least one warning")
    no_ops: int | None = Field(default=None, description="identical resubmissions, accepted without change")


class RefusalView(_View):
    code: str = Field(description="RS001-RS004, RS006 or RS007")
    title: str
    detail: str | None = Field(
        default=None, description="in the file's words: a JSON file's fields named by their keys (`notificationEmail`)"
    )
    line: int | None = None
    column: int | None = None


class HeldInDeadLetters(_View):
    """The batch's messages that ingest's batch view could not apply, kept in its dead letters for an operator."""

    count: int = Field(
        description="how many of the batch's messages are held: the one that could not be applied and those that"
        " wait behind it, in order"
    )
    since: datetime = Field(description="when the first of them was parked")


class BatchLinks(_View):
    self: str
    records: str
    records_csv: str


class BatchView(_View):
    environment: Environment = Field(default=Environment.LIVE, description="`sandpit` for a Sandpit batch")
    batch_id: uuid.UUID
    ao_id: str | None
    status: BatchStatus
    format: BatchFormat | None = None
    job_type: JobType | None = None
    batch_reference: str | None = None
    submitted_by: str | None = Field(
        default=None,
        description="who sent it: to an operator the key's principal (`ao:RN5133`, `operator:jo`); to the AO its own"
        " principal (`ao:RN5133`) for a batch it sent, `an LRS operator` for one an operator sent on its behalf (an"
        " operator's name is no business of the AO's, decision 0169); null for a batch sent before this was kept",
    )
    submitted_with_key: str | None = Field(
        default=None,
        description="the id of the API key that sent it (never its secret; a portal upload: the uploader's session"
        " key): to an operator; to the AO only for a batch it sent itself (its own key), null for one an operator"
        " sent; null for a batch sent before this was kept",
    )
    idempotency_key: str | None = None
    content_sha256: str | None = None
    size_bytes: int | None = None
    record_count: int | None = None
    results_issued_date: date | None = Field(
        default=None,
        description="the header's ResultsIssuedDate (yyyy-mm-dd), from which timeliness MI counts the batch's working"
        " days; null when the header gave none (the batch is then left out of timeliness), for a refused file, and"
        " for a batch received before this was kept",
    )
    counts: BatchCountsView
    refusal: RefusalView | None = None
    failure_code: str | None = Field(default=None, description="RS005 when validation failed the whole batch")
    failure_reason: str | None = Field(
        default=None,
        description="why validation failed the whole batch, or why it gave up on it (status `abandoned`:"
        " nothing of it was recorded; submit the file again, as a new batch)",
    )
    received_at: datetime
    accepted_at: datetime | None = None
    decided_at: datetime | None = None
    links: BatchLinks
    maintenance: MaintenanceNotice | None = Field(
        default=None, description="while a maintenance window or pause holds the batch (status `queued`)"
    )
    not_published: str | None = Field(
        default=None,
        description="status `received` past the publish timeout: the batch was not published when it was sent (Kafka"
        " did not take it and the request was answered 503, or the service stopped before answering), so nothing is"
        " processing it; what to do (send the same file again: it is published under this batch id)",
    )
    held_in_dead_letters: HeldInDeadLetters | None = Field(
        default=None,
        description="the batch's messages parked in ingest's dead letters (how many, and since when): the batch view"
        " could not apply one of its outcome messages, so until an operator retries or skips it (an operator is"
        " dealing with it) the batch reads as it stood before, while the LRS may have decided it and recorded its"
        " results. No message's content is shown. Null when none is held; in the batch list (GET /v1/batches) always"
        " null: the batch's own view (GET /v1/batches/{batch_id}) says it",
    )


NOT_PUBLISHED = (
    "This batch was not published when it was sent (Kafka did not take it, and that request was answered 503, or"
    " the service receiving it stopped before answering), so nothing is processing it. Send the same file again"
    " (with the same Idempotency-Key, if you gave one): it is then published under this batch id."
)
PUBLISH_MARGIN = timedelta(seconds=10)
"""Beyond the publish timeout, for the request's own reading and storing before it starts to publish."""


def not_published_note(view: BatchView, publish_timeout_seconds: float, now: datetime) -> BatchView:
    """A batch still `received` once the request that stored it must have been answered: it says what to do."""
    if view.status is not BatchStatus.RECEIVED:
        return view
    if now - view.received_at <= timedelta(seconds=publish_timeout_seconds) + PUBLISH_MARGIN:
        return view
    return view.model_copy(update={"not_published": NOT_PUBLISHED})


class BatchPage(_View):
    items: list[BatchView]
    page: int | None = Field(description="the page's number; null for a page asked for by `after`")
    page_size: int
    total: int = Field(description="the batches of the list, counted in the same read as the page")
    next: str | None = Field(
        default=None,
        description="when more batches follow: pass it as `after` for the page after this one (null on the last)",
    )


class FindingView(_View):
    code: str
    field: str | None = None
    message: str = Field(
        description="in the words of the batch's file: a JSON batch's fields named by their keys (`givenName`); another"
        " record named by its number in an XML or JSON batch (`Record 2 of this batch`), by its line in a CSV batch"
        " (`Line 2 of this batch`)"
    )


class RecordView(_View):
    line: int = Field(description="CSV row (first record is line 4) or 1-based position in XML/JSON")
    mis_identifier: str | None = Field(default=None, description="the AO's own key, echoed")
    action: str | None = None
    uln_masked: str | None = Field(
        default=None, description="the ULN's last 4 digits only (every character masked when it is not 10 digits)"
    )
    status: RecordStatus
    errors: list[FindingView]
    warnings: list[FindingView]
    achievement_id: uuid.UUID | None = None
    plr_changed: bool | None = Field(
        default=None,
        description="whether this record changed the learner's PLR: true only for an accepted record of a completed"
        " batch; false for a rejected or no_op record and for every record of a failed batch (RS005), whose passed"
        " records reached no PLR; null while the batch is not decided",
    )


class RecordPage(_View):
    environment: Environment = Field(default=Environment.LIVE, description="`sandpit` for a Sandpit batch")
    batch_id: uuid.UUID
    batch_status: BatchStatus = Field(
        description="the batch's `status` as its view says it (`queued` while maintenance holds an accepted batch)"
    )
    records: list[RecordView]
    page: int
    page_size: int
    total: int
    codes: list[str] = Field(
        description="every code (RVnnn, WVnnn) among the errors and warnings of the batch's records, sorted, whatever"
        " `status`, `code` and the page: what `code` may be given to find them"
    )


def links_for(batch_id: uuid.UUID) -> BatchLinks:
    base = status_url(batch_id)
    return BatchLinks(self=base, records=f"{base}/records", records_csv=f"{base}/records.csv")


def _enum_or_none(enum: type[Any], value: str | None) -> Any:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        return None


def format_of(row: Row) -> BatchFormat | None:
    """A stored batch's format: None when not known (a file refused before its format was told)."""
    fmt: BatchFormat | None = _enum_or_none(BatchFormat, row.get("format"))
    return fmt


def held_in_dead_letters(row: Row) -> HeldInDeadLetters | None:
    """What the batch's row says of its messages parked in ingest's dead letters (`BatchRepository.get` reads them
    beside it); None when none is, or when the row was read without them (a list's)."""
    count = row.get("held_in_dead_letters")
    if not count:
        return None
    return HeldInDeadLetters(count=count, since=row["held_in_dead_letters_since"])


OPERATOR_SAID = "an LRS operator"
"""An operator who sent an AO's batch, as the AO is told (the challenges service says it so: decision 0169)."""


def submitter_said_to(
    viewer: Principal | None, submitted_by: str | None, key_id: str | None
) -> tuple[str | None, str | None]:
    """Who sent a batch, and with which key, as the viewer may be told (decision 0169): an operator (or None, the
    stored row as kept) is told both; the AO both for a batch it sent itself, and for one an operator sent on its
    behalf only "an LRS operator" and no key: neither the operator's name nor their key is its business."""
    if viewer is None or viewer.is_operator:
        return submitted_by, key_id
    if submitted_by is None:
        return None, None
    if viewer.kind is PrincipalKind.AO and submitted_by == str(viewer):
        return submitted_by, key_id
    if submitted_by.partition(":")[0] == PrincipalKind.OPERATOR.value:
        return OPERATOR_SAID, None
    return None, None  # no other AO's batch is read by an AO: never named, whatever is stored


def batch_view(row: Row, environment: Environment = Environment.LIVE, viewer: Principal | None = None) -> BatchView:
    """`viewer`: who asks, to whom `submitted_by` and `submitted_with_key` are said (`submitter_said_to`); None: as
    kept, an operator's reading."""
    batch_id: uuid.UUID = row["batch_id"]
    submitted_by, submitted_with_key = submitter_said_to(viewer, row["submitted_by"], row.get("submitted_with_key"))
    fmt = format_of(row)
    refusal = None
    if row["refusal_code"] is not None:
        code = _enum_or_none(BatchCode, row["refusal_code"])
        refusal = RefusalView(
            code=row["refusal_code"],
            title=refusal_title(code) if code is not None else "The batch was refused",
            # in the file's words (`notificationEmail` in JSON); stored as the domain said it
            detail=in_file_words(row["refusal_detail"], fmt) if row["refusal_detail"] is not None else None,
            line=row["refusal_line"],
            column=row["refusal_column"],
        )
    return BatchView(
        environment=environment,
        batch_id=batch_id,
        ao_id=row["ao_id"],
        status=BatchStatus(row["status"]),
        format=fmt,
        job_type=_enum_or_none(JobType, row["job_type"]),
        batch_reference=row["batch_reference"],
        submitted_by=submitted_by,
        submitted_with_key=submitted_with_key,
        idempotency_key=row["idempotency_key"],
        content_sha256=row["content_sha256"],
        size_bytes=row["size_bytes"],
        record_count=row["record_count"],
        results_issued_date=row.get("results_issued_date"),
        counts=BatchCountsView(
            total=row["total"] if row["total"] is not None else row["record_count"],
            accepted=row["accepted"],
            rejected=row["rejected"],
            warnings=row["warnings"],
            no_ops=row["no_ops"],
        ),
        refusal=refusal,
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        received_at=row["received_at"],
        accepted_at=row["accepted_at"],
        decided_at=row["decided_at"],
        links=links_for(batch_id),
        held_in_dead_letters=held_in_dead_letters(row),
    )


def _findings(raw: Any, fmt: BatchFormat | None) -> list[FindingView]:
    """The stored findings, each message said as the batch's file says it (`finding_in_file_words`): `Record 2 of
    this batch` and `notificationEmail` in a JSON batch. What is stored stays as the domain said it."""
    items = json.loads(raw) if isinstance(raw, str | bytes) else raw
    findings = [FindingView.model_validate(item) for item in items or ()]
    return [finding.model_copy(update={"message": finding_in_file_words(finding.message, fmt)}) for finding in findings]


def plr_changed(status: RecordStatus, batch_status: BatchStatus) -> bool | None:
    """Whether a record of a batch in `batch_status` changed a PLR (None: not known until the batch is decided)."""
    if batch_status not in DECIDED_STATUSES:
        return None
    return status is RecordStatus.ACCEPTED and batch_status is BatchStatus.COMPLETED


def record_view(row: Row, batch_status: BatchStatus, fmt: BatchFormat | None = None) -> RecordView:
    """`fmt`: the batch's format, in whose words its findings are said."""
    status = RecordStatus(row["status"])
    return RecordView(
        line=row["line"],
        mis_identifier=row["mis_identifier"],
        action=row["action"],
        uln_masked=row["uln_masked"],
        status=status,
        errors=_findings(row["errors"], fmt),
        warnings=_findings(row["warnings"], fmt),
        achievement_id=row["achievement_id"],
        plr_changed=plr_changed(status, batch_status),
    )


RECORDS_CSV_HEADINGS = ("Line", "MISIdentifier", "Action", "ULN", "Status", "Codes", "Messages", "PLRChanged")
_YES_NO = {True: "Y", False: "N", None: ""}

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str | None) -> str:
    """Echoed text (the MIS identifier) cannot start a spreadsheet formula when the AO opens the file."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def records_csv_row(record: RecordView) -> list[str]:
    findings = [*record.errors, *record.warnings]
    return [
        str(record.line),
        spreadsheet_safe(record.mis_identifier),
        spreadsheet_safe(record.action),
        record.uln_masked or "",
        record.status.value,
        ";".join(finding.code for finding in findings),
        spreadsheet_safe(" | ".join(f"{finding.code}: {finding.message}" for finding in findings)),
        _YES_NO[record.plr_changed],
    ]


def records_csv_head() -> str:
    """Starts with a byte-order mark: Excel reads a CSV without one in the machine's code page, so "Siân" or the
    masked ULN's "…" would open garbled (the batch files it takes may carry one too)."""
    return "\ufeff" + ",".join(RECORDS_CSV_HEADINGS) + "\r\n"


def records_csv_rows(records: Iterable[RecordView]) -> str:
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\r\n").writerows(records_csv_row(record) for record in records)
    return text.getvalue()


def offset_of(page: int, page_size: int) -> int:
    return (page - 1) * page_size
