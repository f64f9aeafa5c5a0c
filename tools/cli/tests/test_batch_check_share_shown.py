"""`lrs batch check` shows the rejected share on the same side of 30% as the RS005 projection: a batch projected to
fail never reads "30.0%" (601 of 2,003 did, next to "more than the 30% allowed")."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import ParsedBatch, parse_batch, write_batch

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "sample-100.csv"


def batch_of(path: Path, total: int, rejected: int) -> Path:
    """`total` records from sample-100's (each copy awarded a day later, so no two are the same achievement), the
    first `rejected` with a grade no grade set holds (RV009)."""
    parsed = parse_batch(SAMPLE.read_bytes(), BatchFormat.CSV)
    records = []
    for index in range(total):
        record = parsed.records[index % len(parsed.records)]
        award_date = date.fromisoformat(record.award_date or "") + timedelta(days=index // len(parsed.records))
        changes = {"line": index + 4, "award_date": award_date.isoformat(), "mis_identifier": f"SHARE-{index}"}
        records.append(record.model_copy(update=changes | ({"grade": "Q9"} if index < rejected else {})))
    path.write_bytes(write_batch(ParsedBatch(parsed.header, tuple(records), BatchFormat.CSV), BatchFormat.CSV))
    return path


@pytest.mark.parametrize(
    ("total", "rejected", "exit_code", "summary"),
    [
        (203, 61, ExitCode.FAILED, "142 would be accepted, 61 rejected (30.1%),"),  # 30.049%
        (200, 60, ExitCode.OK, "140 would be accepted, 60 rejected (30.0%),"),  # exactly 30%: passes
        (203, 60, ExitCode.OK, "143 would be accepted, 60 rejected (29.6%),"),
    ],
)
def test_the_rejected_share_reads_as_the_projection_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], total: int, rejected: int, exit_code: ExitCode, summary: str
) -> None:
    assert main(["batch", "check", str(batch_of(tmp_path / "share.csv", total, rejected))]) == exit_code

    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(summary) for line in lines)  # then its warnings (WV002: the copies are out of order)
    projected = next(line for line in lines if line.startswith("PROJECTED OUTCOME"))
    assert ("fails with RS005" in projected) is (exit_code == ExitCode.FAILED)
