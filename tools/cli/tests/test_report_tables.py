"""`lrs reports …` prints each AO's month as the reporting service reports it."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_cli import report_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

NOVEMBER = {
    "period": "2026-11",
    "items": [
        {
            "ao_id": "RN9093",
            "batches_completed": 4,
            "batches_failed": 1,
            "batches_abandoned": 2,
            "records_total": 50,
            "records_accepted": 40,
            "records_rejected": 5,
            "records_unchanged": 5,
            "rejections_by_code": {"RV004": 3, "RV009": 2},
        }
    ],
}


def test_the_submissions_table_shows_completed_failed_and_abandoned_batches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[tuple[str, dict[str, str]]] = []

    def answered(_connection: Any, name: str, months: dict[str, str], _ao: str | None) -> dict[str, Any]:
        asked.append((name, months))
        return NOVEMBER

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(report_commands, "report", answered)

    assert main(["reports", "submissions", "--period", "2026-11"]) == ExitCode.OK

    lines = capsys.readouterr().out.splitlines()
    header, row = [_cells(line) for line in lines if "abandoned" in line or "RN9093" in line]
    assert header[:4] == ["AO", "completed", "failed", "abandoned"]
    assert header[4:8] == ["records", "accepted", "rejected", "unchanged"]
    assert row[:8] == ["RN9093", "4", "1", "2", "50", "40", "5", "5"]
    assert asked == [("submissions", {"period": "2026-11"})]


def _cells(line: str) -> list[str]:
    """A table line's cells, without the box drawing between them."""
    return [word for word in line.split() if word.isalnum()]


RANGE = {"first_period": "2026-10", "last_period": "2026-11", "target_working_days": 10}
ANSWERS: dict[str, dict[str, Any]] = {
    "rejections": {
        **RANGE,
        "items": [{"ao_id": "RN9093", "period": "2026-11", "by_code": [{"code": "RV004", "batches": 2, "records": 7}]}],
    },
    "challenges": {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "raised": 4,
                "acknowledged": 3,
                "resolved": 2,
                "still_open": 2,
                "resolutions": {"corrected": 1, "upheld": 1, "rejected": 0},
                "median_working_days_to_resolve": 3,
                "worst_working_days_to_resolve": 5,
            }
        ],
    },
    "plr-timeliness": {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "batches_measured": 7,
                "batches_within_10_working_days": 6,
                "median_working_days": 2,
                "worst_working_days": 12,
            }
        ],
    },
}
ROWS = {
    "rejections": ["RN9093", "RV004", "2", "7"],
    "challenges": ["RN9093", "4", "3", "2", "2", "Data", "corrected", "3", "5"],  # "Data corrected (1)" first
    "plr-timeliness": ["RN9093", "7", "6", "2", "12"],
}


@pytest.mark.parametrize("name", ANSWERS)
def test_the_range_reports_ask_for_their_months_and_show_each_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    asked: list[tuple[str, dict[str, str]]] = []

    def answered(_connection: Any, report: str, months: dict[str, str], _ao: str | None) -> dict[str, Any]:
        asked.append((report, months))
        return ANSWERS[report]

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(report_commands, "report", answered)

    assert main(["reports", name, "--from", "2026-10", "--to", "2026-11"]) == ExitCode.OK

    out = capsys.readouterr().out
    [row] = [_cells(line) for line in out.splitlines() if "RN9093" in line]
    assert [cell for cell in row if cell != "202611"] == ROWS[name]
    assert "2026-10 to 2026-11" in out
    assert asked == [(name, {"from": "2026-10", "to": "2026-11"})]


def test_a_range_report_asked_for_no_month_asks_for_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, str]] = []

    def answered(_connection: Any, report: str, months: dict[str, str], _ao: str | None) -> dict[str, Any]:
        asked.append(months)
        return {**RANGE, "items": []}

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(report_commands, "report", answered)

    assert main(["reports", "rejections"]) == ExitCode.OK
    this_month = report_commands.this_month()
    assert asked == [{"from": this_month, "to": this_month}]


def test_the_challenges_table_names_resolutions_in_peoples_words_and_its_json_keeps_the_wire_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(report_commands, "report", lambda *_: ANSWERS["challenges"])

    assert main(["reports", "challenges"]) == ExitCode.OK
    table = capsys.readouterr().out
    assert "Data corrected (1)" in table
    assert "Data confirmed correct (1)" in table
    assert "upheld" not in table
    assert "Rejected" not in table  # none rejected

    assert main(["reports", "challenges", "--json"]) == ExitCode.OK
    assert '"upheld": 1' in capsys.readouterr().out


def test_a_month_with_no_challenge_resolved_shows_no_days_to_resolve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report gives 0 days when none was resolved; the table does not say "resolved the same day"."""
    unresolved = {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "raised": 1,
                "acknowledged": 0,
                "resolved": 0,
                "still_open": 1,
                "resolutions": {"upheld": 0, "corrected": 0, "rejected": 0},
                "median_working_days_to_resolve": 0,
                "worst_working_days_to_resolve": 0,
            }
        ],
    }
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(report_commands, "report", lambda *_: unresolved)

    assert main(["reports", "challenges"]) == ExitCode.OK
    [row] = [line for line in capsys.readouterr().out.splitlines() if "RN9093" in line]
    assert [cell.strip() for cell in row.split("│")[-3:-1]] == ["—", "—"], row


def test_a_month_whose_resolved_challenges_the_learners_all_withdrew_shows_no_days_to_resolve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Withdrawals are resolved, but not in the days (decision 0194): with no challenge the AO resolved, the report's 0
    days measure nothing, and the table does not say "resolved the same day"."""
    withdrawn = {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "raised": 2,
                "acknowledged": 0,
                "resolved": 2,
                "still_open": 0,
                "resolutions": {"corrected": 0, "rejected": 0, "upheld": 0, "withdrawn": 2},
                "median_working_days_to_resolve": 0,
                "worst_working_days_to_resolve": 0,
            },
            {
                "ao_id": "RN5133",
                "period": "2026-11",
                "raised": 2,
                "acknowledged": 1,
                "resolved": 2,
                "still_open": 0,
                "resolutions": {"corrected": 0, "rejected": 1, "upheld": 0, "withdrawn": 1},
                "median_working_days_to_resolve": 0,
                "worst_working_days_to_resolve": 0,
            },
            {  # the one resolution the LRS service desk's: no answer of the AO's to measure either
                "ao_id": "RN9008",
                "period": "2026-11",
                "raised": 1,
                "acknowledged": 1,
                "resolved": 1,
                "resolved_by_service_desk": 1,
                "still_open": 0,
                "resolutions": {"corrected": 0, "rejected": 1, "upheld": 0, "withdrawn": 0},
                "median_working_days_to_resolve": 0,
                "worst_working_days_to_resolve": 0,
            },
        ],
    }
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(report_commands, "report", lambda *_: withdrawn)

    assert main(["reports", "challenges"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    [only_withdrawn] = [line for line in lines if "RN9093" in line]
    assert [cell.strip() for cell in only_withdrawn.split("│")[-3:-1]] == ["—", "—"], only_withdrawn
    [one_answered] = [line for line in lines if "RN5133" in line]  # rejected the day it was raised: 0 days
    assert [cell.strip() for cell in one_answered.split("│")[-3:-1]] == ["0", "0"], one_answered
    [only_the_desks] = [line for line in lines if "RN9008" in line]
    assert [cell.strip() for cell in only_the_desks.split("│")[-3:-1]] == ["—", "—"], only_the_desks

    assert main(["reports", "challenges", "--json"]) == ExitCode.OK
    assert '"median_working_days_to_resolve": 0' in capsys.readouterr().out  # the figures as the report gives them
