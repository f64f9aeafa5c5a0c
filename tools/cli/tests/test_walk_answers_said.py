"""What the CLI walk found in how answers are said: `projector rebuild … --json` prints JSON at every step and a
failed rebuild exits 1 in JSON as in text; another web server's error page is one line naming the URL, not its
HTML; a malformed URL is a usage error (2), not "cannot reach" (4); a wait the projector ran out of
(503 PROJECTION_PENDING) is not final (3) and no fault to quote to the service desk; `batch list --status queued`
selects what the list shows as queued; `--csv -` writes no byte-order mark to standard output, a file keeps it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

Answer = Callable[[httpx.Request], httpx.Response]
BATCH_ID = "4f96a1b2-0c3d-4e5f-8a9b-0c1d2e3f4957"


def serve(monkeypatch: pytest.MonkeyPatch, answer: Answer) -> list[str]:
    """Every service answers with `answer`; returns the requests made, as `METHOD path?query`."""
    asked: list[str] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        return answer(request)

    answered_by(monkeypatch, recorded)
    monkeypatch.setattr("lrs_cli.projector_commands.time.sleep", lambda _: None)
    return asked


RUNNING = {
    "state": "running",
    "phase": "loading",
    "rebuild_id": 2,
    "progress": 0.0,
    "projected_events": 0,
    "target_events": 312,
    "events_per_second": 0.0,
    "eta_seconds": None,
    "events_past_target": 0,
    "workers": [],
    "last_error": None,
}
SWITCHED = {"rebuild_id": 1, "live_schema": "plr", "retired_schema": "plr_old_1"}
ABANDONED = {"rebuild_id": 2}


@pytest.mark.parametrize(
    ("step", "method", "answer"),
    [("start", "POST", RUNNING), ("switch", "POST", SWITCHED), ("abandon", "DELETE", ABANDONED)],
)
def test_every_rebuild_step_prints_the_projectors_answer_as_json_when_asked(
    step: str, method: str, answer: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = serve(monkeypatch, lambda request: httpx.Response(200, json=answer))
    confirmed = ["--yes"] if step == "switch" else []  # a switch asks first, and needs --yes off a terminal

    assert main(["projector", "rebuild", step, "--json", *confirmed]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out) == answer
    # a switch reads the rebuild's status first, to say what its last comparison found
    assert [line.split(" ")[0] for line in asked] == (["GET", method] if step == "switch" else [method])


def test_rebuild_status_json_of_a_failed_rebuild_exits_1_as_the_text_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = {**RUNNING, "state": "failed", "last_error": "OSError: disk full"}
    serve(monkeypatch, lambda request: httpx.Response(200, json=failed))

    assert main(["projector", "rebuild", "status", "--json"]) == ExitCode.FAILED
    assert json.loads(capsys.readouterr().out) == failed


HTML_404 = (
    '<!DOCTYPE HTML>\n<html lang="en">\n<head><title>Error response</title></head>\n<body>\n'
    + ("<p>Message: File not found.</p>\n" * 10)
    + "</body>\n</html>\n"
)


def test_another_web_servers_error_page_is_one_line_naming_the_url_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(404, html=HTML_404))
    monkeypatch.setenv("LRS_INGEST_URL", "http://127.0.0.1:8001")

    assert main(["batch", "list"]) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert "<html" not in err and "File not found" not in err
    assert err.strip().count("\n") == 0, err
    assert "HTTP 404 from http://127.0.0.1:8001/v1/batches (text/html; charset=utf-8), not the LRS's problem" in err
    assert "check the LRS_<SERVICE>_URL variables" in err


def test_a_malformed_service_url_is_a_usage_error_not_a_service_out_of_reach(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_INGEST_URL", "notaurl")

    assert main(["batch", "list"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "a request URL is not valid" in err and "from LRS_INGEST_URL: check LRS_INGEST_URL" in err
    assert "cannot reach" not in err


def test_a_wait_the_projector_ran_out_of_is_not_final_and_nothing_to_quote(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = {
        "type": "about:blank",
        "title": "Not yet projected",
        "status": 503,
        "detail": "The PLR has not read the log that far within 30 s.",
        "code": "PROJECTION_PENDING",
    }
    serve(
        monkeypatch,
        lambda request: httpx.Response(503, json=pending, headers={"X-Request-Id": "1d8a", "Retry-After": "1"}),
    )

    assert main(["plr", "show", "1000000043", "--min-offsets", "0:99999"]) == ExitCode.NOT_FINAL

    err = capsys.readouterr().err
    assert "PROJECTION_PENDING" in err and "has not read the log that far" in err
    assert "quote it to the LRS service desk" not in err


def test_another_503_still_names_its_request_to_quote(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    down = {"title": "Database unavailable", "status": 503, "code": "SERVICE_UNAVAILABLE"}
    serve(monkeypatch, lambda request: httpx.Response(503, json=down, headers={"X-Request-Id": "1d8a"}))

    assert main(["plr", "show", "1000000043"]) == ExitCode.UNREACHABLE  # unavailable for now: try again later
    assert "(request 1d8a: quote it to the LRS service desk)" in capsys.readouterr().err


def _batch(status: str) -> dict[str, Any]:
    return {
        "batch_id": BATCH_ID,
        "received_at": "2026-12-05T10:00:00Z",
        "ao_id": "RN9093",
        "status": status,
        "format": "csv",
        "counts": {},
        "reference": "WALK-CLI-2",
    }


@pytest.mark.parametrize(("shown", "listed"), [("queued", 1), ("accepted", 0)])
def test_batch_list_status_queued_asks_for_accepted_batches_and_keeps_those_a_window_holds(
    shown: str, listed: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ingest refuses status=queued (it stores a held batch as accepted) and shows every accepted batch as queued
    while a maintenance window holds them."""
    page = {"items": [_batch(shown)], "total": 1, "next": None}
    asked = serve(monkeypatch, lambda request: httpx.Response(200, json=page))

    assert main(["batch", "list", "--status", "queued", "--json"]) == ExitCode.OK

    assert [batch["status"] for batch in json.loads(capsys.readouterr().out)] == ["queued"] * listed
    assert len(asked) == 1 and "status=accepted" in asked[0]


BOM = b"\xef\xbb\xbf"
RESULTS_CSV = BOM + b"Line,MISIdentifier,Outcome\r\n7,SHOW-002,rejected\r\n"


def _results(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/records.csv"):
        return httpx.Response(200, content=RESULTS_CSV, headers={"content-type": "text/csv; charset=utf-8"})
    return httpx.Response(200, json=_batch("completed"))


def test_batch_results_csv_to_standard_output_has_no_byte_order_mark(
    monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    serve(monkeypatch, _results)

    assert main(["batch", "status", BATCH_ID, "--csv", "-"]) == ExitCode.OK
    assert capfdbinary.readouterr().out == RESULTS_CSV.removeprefix(BOM)


def test_batch_results_csv_written_to_a_file_keeps_its_byte_order_mark_for_excel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    serve(monkeypatch, _results)
    target = tmp_path / "outcome.csv"

    assert main(["batch", "status", BATCH_ID, "--csv", str(target)]) == ExitCode.OK
    assert target.read_bytes() == RESULTS_CSV
