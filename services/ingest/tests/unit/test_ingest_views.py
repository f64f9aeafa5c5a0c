"""Stored rows as API answers, and the records CSV."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.submission import DECIDED_STATUSES, BatchStatus
from ingest.views import (
    PUBLISH_MARGIN,
    RECORDS_CSV_HEADINGS,
    FindingView,
    RecordView,
    batch_view,
    not_published_note,
    offset_of,
    plr_changed,
    record_view,
    records_csv_head,
    records_csv_rows,
    spreadsheet_safe,
)
from lrs_contracts.outcomes import RecordStatus

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(
        (
            "ao_id",
            "format",
            "job_type",
            "batch_reference",
            "submitted_by",
            "idempotency_key",
            "content_sha256",
            "size_bytes",
            "record_count",
            "refusal_code",
            "refusal_detail",
            "refusal_line",
            "refusal_column",
            "failure_code",
            "failure_reason",
            "total",
            "accepted",
            "rejected",
            "no_ops",
            "warnings",
            "accepted_at",
            "decided_at",
        )
    )
    return {**base, "batch_id": uuid.uuid4(), "status": "accepted", "received_at": NOW, **values}


def test_a_refused_batch_shows_its_code_title_and_position() -> None:
    view = batch_view(
        row(status="refused", refusal_code="RS001", refusal_detail="bad", refusal_line=3, refusal_column=8)
    )
    assert view.status is BatchStatus.REFUSED
    assert view.refusal is not None
    assert (view.refusal.code, view.refusal.title, view.refusal.line, view.refusal.column) == (
        "RS001",
        "The file is malformed",
        3,
        8,
    )
    assert view.failure_code is None


def test_a_failed_batch_shows_rs005_and_its_counts() -> None:
    view = batch_view(
        row(
            status="failed",
            failure_code="RS005",
            failure_reason="too many",
            total=10,
            accepted=6,
            rejected=4,
            no_ops=0,
            warnings=1,
        )
    )
    assert (view.failure_code, view.failure_reason) == ("RS005", "too many")
    assert (view.counts.total, view.counts.accepted, view.counts.rejected, view.counts.warnings) == (10, 6, 4, 1)


def test_a_batch_validation_gave_up_on_shows_as_abandoned_with_its_reason() -> None:
    view = batch_view(row(status="abandoned", failure_reason="Submit the file again", record_count=3))
    assert (view.status, view.failure_code, view.failure_reason) == (
        BatchStatus.ABANDONED,
        None,
        "Submit the file again",
    )
    assert BatchStatus.ABANDONED in DECIDED_STATUSES  # long polls end on it


def test_an_undecided_batch_counts_the_records_it_carries() -> None:
    view = batch_view(row(record_count=12, format="csv", job_type="Provisional"))
    assert view.counts.total == 12 and view.counts.accepted is None
    assert view.links.records_csv == f"/v1/batches/{view.batch_id}/records.csv"


def test_a_stored_record_keeps_its_findings() -> None:
    stored = {
        "line": 4,
        "mis_identifier": "CAND-1",
        "action": "Create",
        "uln_masked": "******0043",
        "status": "rejected",
        "errors": json.dumps([{"code": "RV002", "field": "uln", "message": "check digit"}]),
        "warnings": "[]",
        "achievement_id": None,
    }
    view = record_view(stored, BatchStatus.COMPLETED)
    assert view.status is RecordStatus.REJECTED
    assert view.errors == [FindingView(code="RV002", field="uln", message="check digit")]
    assert view.plr_changed is False


def test_only_an_accepted_record_of_a_completed_batch_changed_a_plr() -> None:
    assert plr_changed(RecordStatus.ACCEPTED, BatchStatus.COMPLETED) is True
    assert plr_changed(RecordStatus.ACCEPTED, BatchStatus.FAILED) is False
    assert plr_changed(RecordStatus.NO_OP, BatchStatus.COMPLETED) is False
    assert plr_changed(RecordStatus.REJECTED, BatchStatus.COMPLETED) is False
    assert plr_changed(RecordStatus.ACCEPTED, BatchStatus.VALIDATING) is None


def test_echoed_text_cannot_start_a_spreadsheet_formula() -> None:
    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_safe("+1") == "'+1"
    assert spreadsheet_safe("CAND-1") == "CAND-1"
    assert spreadsheet_safe(None) == ""


def test_the_records_csv_has_one_row_per_record_with_codes_and_messages() -> None:
    record = RecordView(
        line=5,
        mis_identifier="@x",
        action="Create",
        uln_masked="******0043",
        status=RecordStatus.REJECTED,
        errors=[FindingView(code="RV002", message="check digit")],
        warnings=[FindingView(code="WV001", message="check character")],
        plr_changed=False,
    )
    undecided = record.model_copy(update={"plr_changed": None})
    lines = (records_csv_head() + records_csv_rows([record, undecided])).removeprefix("\ufeff").splitlines()
    assert lines[0] == ",".join(RECORDS_CSV_HEADINGS)
    assert lines[1] == "5,'@x,Create,******0043,rejected,RV002;WV001,RV002: check digit | WV001: check character,N"
    assert lines[2].endswith("check character,")


def test_pages_start_at_one() -> None:
    assert offset_of(1, 50) == 0
    assert offset_of(3, 20) == 40


def test_a_batch_kafka_never_took_says_to_send_the_file_again_once_its_request_was_answered() -> None:
    received = batch_view(row(status="received"))
    timeout = 30.0

    in_flight = not_published_note(received, timeout, NOW + timedelta(seconds=timeout))
    assert in_flight.not_published is None  # its request may still be publishing it

    left = not_published_note(
        received, timeout, NOW + timedelta(seconds=timeout) + PUBLISH_MARGIN + timedelta(seconds=1)
    )
    assert left.status is BatchStatus.RECEIVED
    assert left.not_published is not None and "Send the same file again" in left.not_published

    for status in ("accepted", "completed", "refused"):
        later = NOW + timedelta(days=1)
        assert not_published_note(batch_view(row(status=status)), timeout, later).not_published is None


def test_the_records_csv_starts_with_a_byte_order_mark_so_a_spreadsheet_reads_it_as_utf8() -> None:
    headings = "Line,MISIdentifier,Action,ULN,Status,Codes,Messages,PLRChanged\r\n"
    assert records_csv_head().encode() == b"\xef\xbb\xbf" + headings.encode()
