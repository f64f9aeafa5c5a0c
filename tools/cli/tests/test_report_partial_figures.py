"""`lrs reports …` while reporting's store is being rebuilt (analyst review, finding 1): the service says the figures
are partial (`complete` false in JSON, `X-LRS-Figures: partial` on a CSV), and the CLI warns on standard error, as a
table, with --json and with --csv, leaving standard output as it was. The "not added" column is the service's
`records_not_added` when it gives it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import report_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

WARNING = "these figures are incomplete: management information is being rebuilt"
ROW = {
    "ao_id": "RN9008",
    "period": "2026-12",
    "batches_completed": 4,
    "batches_failed": 1,
    "batches_abandoned": 0,
    "records_total": 53,
    "records_accepted": 23,
    "records_rejected": 7,
    "records_unchanged": 19,
    "records_not_added": 4,
    "rejections_by_code": {"RS005": 1, "RV002": 6, "RV014": 1},
}
CSV = b"ao_id,period,batches_completed\nRN9008,2026-12,4\n"
COMMANDS = {
    "submissions": ["--period", "2026-12"],
    "timeliness": ["--period", "2026-12"],
    "plr-timeliness": ["--from", "2026-12"],
    "rejections": ["--from", "2026-12"],
    "challenges": ["--from", "2026-12"],
}


@dataclass(frozen=True)
class _Reporting(Connection):
    """Reporting answering every report with no row (JSON) or `CSV`, its figures complete or partial as `figures`
    says (None: a service from before it said either)."""

    figures: list[str | None] = field(default_factory=lambda: ["partial"])

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        figures = self.figures[0]

        def answer(request: httpx.Request) -> httpx.Response:
            headers = {} if figures is None else {"X-LRS-Figures": figures}
            if request.url.params["format"] == "csv":
                return httpx.Response(200, content=CSV, headers={**headers, "content-type": "text/csv"})
            said: dict[str, Any] = {} if figures is None else {"complete": figures == "complete"}
            months = {"period": "2026-12", "first_period": "2026-12", "last_period": "2026-12"}
            return httpx.Response(200, json={**months, **said, "target_working_days": 10, "items": []}, headers=headers)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


@pytest.fixture
def reporting(monkeypatch: pytest.MonkeyPatch) -> _Reporting:
    answering = _Reporting("lrs_test_key")
    monkeypatch.setattr(report_commands, "connection", lambda ctx: answering)
    monkeypatch.setenv("COLUMNS", "200")
    return answering


@pytest.mark.parametrize("report", COMMANDS)
@pytest.mark.parametrize("mode", [[], ["--json"], ["--csv", "-"]])
def test_partial_figures_are_warned_of_on_standard_error_in_every_mode(
    reporting: _Reporting, capsys: pytest.CaptureFixture[str], report: str, mode: list[str]
) -> None:
    assert main(["reports", report, *COMMANDS[report], *mode]) == ExitCode.OK

    printed = capsys.readouterr()
    assert WARNING in " ".join(printed.err.split())
    assert "incomplete" not in printed.out  # what is piped on is the report, as it was
    if mode == ["--json"]:
        assert json.loads(printed.out)["complete"] is False


@pytest.mark.parametrize("figures", ["complete", None])
@pytest.mark.parametrize("mode", [[], ["--json"], ["--csv", "-"]])
def test_complete_figures_and_an_older_service_are_not_warned_of(
    reporting: _Reporting, capsys: pytest.CaptureFixture[str], figures: str | None, mode: list[str]
) -> None:
    reporting.figures[0] = figures

    assert main(["reports", "submissions", "--period", "2026-12", *mode]) == ExitCode.OK

    assert "incomplete" not in capsys.readouterr().err


def test_a_partial_csv_written_to_a_file_is_warned_of_after_it_is_written(
    reporting: _Reporting, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    written = tmp_path / "submissions.csv"

    assert main(["reports", "submissions", "--period", "2026-12", "--csv", str(written)]) == ExitCode.OK

    assert written.read_bytes() == CSV  # the file is the report: the warning is not in it
    err = " ".join(capsys.readouterr().err.split())
    assert f"wrote the submissions report to {written}" in err and WARNING in err


def test_the_not_added_column_is_the_services_records_not_added() -> None:
    # a service that gives it is read, not worked out again: 4 here, where the other counts would make 3
    assert report_commands.not_added({**ROW, "records_total": 52}) == "4"
    # a service from before it: worked out as the service does; from before records_unchanged: nothing
    before = {name: value for name, value in ROW.items() if name != "records_not_added"}
    assert report_commands.not_added(before) == "4"
    assert report_commands.not_added({n: v for n, v in before.items() if n != "records_unchanged"}) == ""
