"""`lrs batch check` judges a file as if it were sent now: a ResultsIssuedDate more than a year after today in England
is refused whole (RS001), as ingest refuses it (decision 0133, later)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lrs_cli.main import main
from lrs_contracts.batch import LATEST_RESULTS_ISSUED_AHEAD
from lrs_platform.clock import today_in_england

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "sample-100.csv"


def _sample_issued(tmp_path: Path, issued: str) -> Path:
    text = SAMPLE.read_text(encoding="utf-8").replace(",SAMPLE-100,2024-08-22", f",SAMPLE-100,{issued}", 1)
    path = tmp_path / "ahead.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_date_more_than_a_year_after_today_is_refused_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    far = today_in_england() + LATEST_RESULTS_ISSUED_AHEAD + timedelta(days=1)

    exit_code = main(["batch", "check", str(_sample_issued(tmp_path, far.isoformat()))])

    assert exit_code == 1
    assert "RS001" in capsys.readouterr().err


def test_a_date_a_year_after_today_is_checked_as_usual(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    latest = today_in_england() + LATEST_RESULTS_ISSUED_AHEAD

    exit_code = main(["batch", "check", str(_sample_issued(tmp_path, latest.isoformat()))])

    assert "more than a year ahead" not in capsys.readouterr().err
    assert exit_code == 0
