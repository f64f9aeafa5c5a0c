"""Counts said as English says them (`1 record`, `1 of 1 record would be rejected`, `10,000 records`), and an XML
or JSON record named by its position, `record N`, as refusals name it (a CSV record keeps its row, `line N`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs_cli.batch_commands import record_line, summary
from lrs_cli.main import main
from lrs_contracts.batch import BatchFormat

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
HEADER_AND_HEADINGS = 3  # a CSV batch's first record is on row 4


def _one_record(tmp_path: Path, uln: str = "1000000043") -> Path:
    lines = (SAMPLES / "sample-100.csv").read_text(encoding="utf-8").splitlines()
    one = tmp_path / "one.csv"
    one.write_text("\n".join([*lines[:HEADER_AND_HEADINGS], lines[HEADER_AND_HEADINGS].replace("1000000043", uln)]))
    return one


def test_a_one_record_file_is_one_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "check", str(_one_record(tmp_path))]) == 0

    assert capsys.readouterr().out.splitlines()[0] == "one.csv: 1 record"


def test_a_one_record_file_that_would_fail_says_one_record_would_be_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "check", str(_one_record(tmp_path, uln="1000000042"))]) == 1

    out = capsys.readouterr().out
    assert "1 of 1 record would be rejected, more than the 30% allowed" in out and "1 records" not in out


def test_a_status_line_separates_thousands() -> None:
    counts = {"total": 10_000, "accepted": 9_000, "rejected": 1_000, "no_ops": 0, "warnings": 1_200}
    completed = summary({"batch_id": "b1", "status": "completed", "counts": counts}).plain
    failed = summary({"batch_id": "b1", "status": "failed", "counts": counts | {"rejected": 4_000}}).plain

    assert completed.startswith(
        "batch b1: completed - 10,000 records, 9,000 accepted, 1,000 rejected, 0 unchanged, 1,200 warnings"
    )
    assert failed.startswith("batch b1: failed - 10,000 records, 4,000 rejected: nothing recorded (9,000 would have")
    one = summary({"batch_id": "b1", "status": "completed", "counts": {"total": 1}}).plain
    assert one.splitlines()[0] == "batch b1: completed - 1 record"


RV020 = {
    "line": 65,
    "status": "rejected",
    "mis_identifier": "SHOW-065:RV020",
    "errors": [
        {"code": "RV020", "field": None, "message": "Line 64 of this batch already addresses this achievement."}
    ],
    "warnings": [],
}


@pytest.mark.parametrize("fmt", [BatchFormat.XML, BatchFormat.JSON])
def test_an_xml_or_json_record_is_named_by_its_position(fmt: BatchFormat) -> None:
    said = record_line(RV020, fmt).plain

    assert said.startswith("  record    65  rejected")
    assert "RV020: Record 64 of this batch already addresses" in said and "line" not in said.lower()


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, None])
def test_a_csv_record_keeps_its_line(fmt: BatchFormat | None) -> None:
    said = record_line(RV020, fmt).plain

    assert said.startswith("  line    65  rejected") and "RV020: Line 64 of this batch" in said


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_batch_check_names_an_xml_or_json_record_by_its_position(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["batch", "check", str(SAMPLES / f"rules-showcase.{fmt}")])

    out = capsys.readouterr().out
    assert "\nrecord 1 [SHOW-001:RV001]: rejected" in out and "\nline " not in out
    assert "Record " in out and "Line " not in out  # RV020's message too


def test_batch_check_keeps_a_csv_records_line(capsys: pytest.CaptureFixture[str]) -> None:
    main(["batch", "check", str(SAMPLES / "rules-showcase.csv")])

    out = capsys.readouterr().out
    assert "\nline 4 [SHOW-001:RV001]: rejected" in out and "\nrecord " not in out
