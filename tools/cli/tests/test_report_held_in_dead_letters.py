"""`lrs reports …` while the reporting service holds messages of what a report is read from in its dead letters (tracer
walk, finding 10: batch Z's outcome held behind junk under its key, Z missing from the figures, and the report said
complete): the service says `complete` false with `held_in_dead_letters` in JSON, and `X-LRS-Figures: partial` with
`X-LRS-Held-In-Dead-Letters` on a CSV; the CLI warns on standard error in every mode that the figures may be short and
of what, not that a rebuild is under way, and leaves standard output as it was."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from lrs_cli import report_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

CSV = b"ao_id,period,batches_completed\nRN9093,2026-12,7\n"
HELD = {"count": 4, "since": "2026-12-08T02:13:05Z"}


@dataclass(frozen=True)
class _HoldingReporting(Connection):
    """Reporting answering every report with no row (JSON) or `CSV`, 4 messages held in its dead letters."""

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            headers = {"X-LRS-Figures": "partial", "X-LRS-Held-In-Dead-Letters": "4"}
            if request.url.params["format"] == "csv":
                return httpx.Response(200, content=CSV, headers={**headers, "content-type": "text/csv"})
            report = {"period": "2026-12", "complete": False, "held_in_dead_letters": HELD, "items": []}
            return httpx.Response(200, json=report, headers=headers)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


@pytest.fixture(autouse=True)
def reporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_commands, "connection", lambda ctx: _HoldingReporting("lrs_test_key"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize("mode", [[], ["--json"], ["--csv", "-"]])
def test_messages_held_in_dead_letters_are_warned_of_as_figures_that_may_be_short(
    capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    assert main(["reports", "submissions", "--period", "2026-12", *mode]) == ExitCode.OK

    printed = capsys.readouterr()
    err = " ".join(printed.err.split())
    assert "these figures may be short: the reporting service holds 4 messages" in err
    assert "lrs dlq list --service reporting" in err
    assert "being rebuilt" not in err  # partial, but for the messages held: no rebuild is under way
    assert "may be short" not in printed.out
    if mode == ["--json"]:
        assert json.loads(printed.out)["held_in_dead_letters"] == HELD
    if mode == ["--csv", "-"]:
        assert printed.out.encode() == CSV


@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_a_json_report_says_since_when_in_uk_time(capsys: pytest.CaptureFixture[str], mode: list[str]) -> None:
    assert main(["reports", "submissions", "--period", "2026-12", *mode]) == ExitCode.OK

    assert "the first parked 8 Dec 2026, 02:13 (UK time)" in " ".join(capsys.readouterr().err.split())
