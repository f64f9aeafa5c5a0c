"""`lrs` exit statuses and error reporting that need no server: usage, refused connections, RS005 projected."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from lrs_cli import batch_commands
from lrs_cli.batch_commands import count_cell, exit_code_of, record_line, summary
from lrs_cli.check_command import _outcome_lines
from lrs_cli.client import ExitCode, problem_text
from lrs_cli.erasure_commands import erasure_text
from lrs_cli.main import main
from lrs_cli.plr_commands import plr_table
from lrs_contracts.batch import BatchFormat
from lrs_contracts.outcomes import RecordOutcome, RecordStatus
from lrs_domain.formats import ParsedBatch, parse_batch, write_batch

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"


def failing_batch(tmp_path: Path, bad_records: int) -> Path:
    """sample-100 with `bad_records` of its grades replaced by one no grade set holds (RV009)."""
    parsed = parse_batch(SAMPLE.read_bytes(), BatchFormat.CSV)
    records = tuple(
        record.model_copy(update={"grade": "Q9"}) if index < bad_records else record
        for index, record in enumerate(parsed.records)
    )
    path = tmp_path / "failing.csv"
    path.write_bytes(write_batch(ParsedBatch(parsed.header, records, BatchFormat.CSV), BatchFormat.CSV))
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_batch_check_exits_1_when_it_projects_rs005_and_0_just_under_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "check", str(failing_batch(tmp_path, 31))]) == ExitCode.FAILED
    assert "PROJECTED OUTCOME: the whole batch fails with RS005" in capsys.readouterr().out

    assert main(["batch", "check", str(failing_batch(tmp_path, 30))]) == ExitCode.OK
    assert "PROJECTED OUTCOME: passes the RS005 threshold" in capsys.readouterr().out


PREDICTION = (
    "40 of 100 records would be rejected, more than the 30% allowed, so nothing of it would reach any learner's record."
)


def test_batch_check_words_the_failure_as_a_prediction_of_a_batch_not_yet_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "check", str(failing_batch(tmp_path, 40))]) == ExitCode.FAILED
    text = capsys.readouterr().out
    assert main(["batch", "check", str(failing_batch(tmp_path, 40)), "--json"]) == ExitCode.FAILED
    reason = json.loads(capsys.readouterr().out)["projected_failure"]["reason"]

    assert f"PROJECTED OUTCOME: the whole batch fails with RS005: {PREDICTION}\n" in text
    assert reason == PREDICTION
    for past in ("were rejected", "failed", "reached"):
        assert past not in text and past not in reason


def test_batch_check_json_names_the_projected_failure_and_every_rejected_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "check", str(failing_batch(tmp_path, 40)), "--json"]) == ExitCode.FAILED

    report = json.loads(capsys.readouterr().out)
    assert report["projected_failure"]["code"] == "RS005"
    assert report["counts"] == {"total": 100, "accepted": 60, "rejected": 40, "no_ops": 0, "warnings": 0}
    assert len(report["records"]) == 40
    assert {error["code"] for record in report["records"] for error in record["errors"]} == {"RV009"}


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "check", "no-such-file.csv"],
        ["batch", "submit", "no-such-file.csv"],
        ["learners", "import", "no-such-file.csv"],
        ["--key-file", "no-such.key", "batch", "list"],
        ["batch", "status"],
        ["batch", "status", "some-id", "--wait", "-1"],
        ["batch", "status", "not-a-uuid"],
        ["plr", "show", "1000000043", "--after-batch", "last-one"],
        ["dlq", "list", "--service", "nobody"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Usage: lrs" in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "status", "6f1c3a52-9b7e-4a0e-8f57-0c3c1b9a2d41"],
        ["batch", "submit", str(SAMPLE)],
        ["batch", "list", "--json"],
        ["plr", "show", "1000000043"],
        ["challenges", "list"],
        ["reports", "timeliness"],
        ["projector", "status"],
    ],
)
def test_an_unreachable_service_exits_4_in_one_line(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    for service in ("INGEST", "PLR_PROJECTOR", "CHALLENGES", "REPORTING"):
        monkeypatch.setenv(f"LRS_{service}_URL", f"http://127.0.0.1:{port}")

    assert main(argv) == ExitCode.UNREACHABLE

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"lrs: cannot reach http://127.0.0.1:{port} ")
    assert len(captured.err.strip().splitlines()) == 1


def test_without_an_api_key_a_command_says_so_and_exits_2_as_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LRS_API_KEY", raising=False)

    assert main(["batch", "list"]) == ExitCode.USAGE  # as a key file that is not text is
    assert capsys.readouterr().err == "lrs: no API key: set LRS_API_KEY or pass --key-file\n"


def test_an_empty_key_file_is_named_not_said_to_be_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("LRS_API_KEY", raising=False)
    key_file = tmp_path / "ao.key"
    key_file.write_text("\n")
    key_file.chmod(0o600)  # as `lrs credentials --output` writes it: one others may read is warned of first

    assert main(["--key-file", str(key_file), "batch", "list"]) == ExitCode.USAGE
    assert capsys.readouterr().err == f"lrs: no API key: the key file {key_file} is empty\n"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("completed", ExitCode.OK),
        ("failed", ExitCode.FAILED),
        ("refused", ExitCode.FAILED),
        ("abandoned", ExitCode.FAILED),
        ("received", ExitCode.NOT_FINAL),
        ("accepted", ExitCode.NOT_FINAL),
        ("validating", ExitCode.NOT_FINAL),
    ],
)
def test_a_batch_status_maps_to_its_exit_code(status: str, code: ExitCode) -> None:
    assert exit_code_of({"status": status}) == code


def test_a_record_line_carries_each_code_with_its_message() -> None:
    record = {
        "line": 7,
        "status": "rejected",
        "mis_identifier": "SHOW-002:RV002",
        "errors": [{"code": "RV002", "field": "ULN", "message": "The ULN's check digit is wrong."}],
        "warnings": [{"code": "WV001", "field": None, "message": "The award date is in the future."}],
    }

    assert record_line(record).plain == (
        "  line     7  rejected  SHOW-002:RV002       RV002 ULN: The ULN's check digit is wrong;"
        " WV001: The award date is in the future."
    )


def test_a_record_line_and_a_checked_records_line_show_an_mis_identifier_on_one_line() -> None:
    """An MIS identifier may span lines or hold a bidirectional control: one record, one line, nothing reordered."""
    record = {"line": 3, "status": "accepted", "mis_identifier": "CAND\n1\u202e", "errors": [], "warnings": []}
    assert record_line(record).plain.splitlines() == ["  line     3  accepted  CAND[U+000A]1[U+202E] "]
    outcome = RecordOutcome(line=3, mis_identifier="CAND\r\n1", status=RecordStatus.REJECTED)
    assert _outcome_lines(outcome, BatchFormat.CSV).plain == "line 3 [CAND[U+000D][U+000A]1]: rejected\n"


def test_a_passed_record_of_a_failed_batch_says_it_was_not_added() -> None:
    record = {"line": 4, "status": "accepted", "mis_identifier": "M-4", "errors": [], "warnings": []}

    recorded, not_added = record_line(record | {"plr_changed": True}), record_line(record | {"plr_changed": False})
    assert recorded.plain.rstrip() == not_added.plain.removesuffix(" (not added: the batch failed)").rstrip()
    assert "not added" not in recorded.plain and not_added.plain.endswith(" (not added: the batch failed)")


def test_batch_check_works_from_installed_packages_outside_the_source_tree(tmp_path: Path) -> None:
    """The layout of a `pip install`: packages side by side, no reference/ folder four levels up."""
    site = tmp_path / "site-packages"
    for package in ("tools/cli/src/lrs_cli", "libs/domain/src/lrs_domain", "contracts/src/lrs_contracts"):
        shutil.copytree(ROOT / package, site / Path(package).name, ignore=shutil.ignore_patterns("__pycache__"))
    showcase = shutil.copy(ROOT / "samples" / "rules-showcase.csv", tmp_path / "batch.csv")
    code = "import sys; from lrs_cli.main import main; import lrs_domain; print(lrs_domain.__file__); sys.exit(main(sys.argv[1:]))"

    run = subprocess.run(
        [sys.executable, "-c", code, "batch", "check", str(showcase)],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    first, *report = run.stdout.splitlines()
    assert first.startswith(str(site))
    assert report[0] == "batch.csv: 77 records"


def test_an_abandoned_batch_says_why_and_what_to_do_and_is_final() -> None:
    batch = {
        "batch_id": "b1",
        "status": "abandoned",
        "counts": {"total": 2},
        "failure_code": None,
        "failure_reason": "The LRS could not process this batch. Submit the file again: it will be a new batch.",
    }
    assert summary(batch).plain.splitlines() == [
        "batch b1: abandoned - 2 records",  # none decided: no count of accepted or rejected ones
        "  The LRS could not process this batch. Submit the file again: it will be a new batch.",
    ]


def test_a_batch_not_decided_yet_counts_its_records_and_nothing_it_does_not_know() -> None:
    undecided = {"total": 14, "accepted": None, "rejected": None, "no_ops": None, "warnings": None}
    decided = {"total": 14, "accepted": 12, "rejected": 2, "no_ops": 0, "warnings": None}

    assert summary({"batch_id": "b1", "status": "validating", "counts": undecided}).plain.splitlines()[0] == (
        "batch b1: validating - 14 records"
    )
    assert summary({"batch_id": "b1", "status": "completed", "counts": decided}).plain == (
        "batch b1: completed - 14 records, 12 accepted, 2 rejected, 0 unchanged, 0 warnings"
    )


def test_a_failed_batch_says_nothing_was_recorded_and_brackets_what_would_have_been_accepted() -> None:
    counts = {"total": 3, "accepted": 1, "rejected": 2, "no_ops": 0, "warnings": 0}
    failed = {
        "batch_id": "b1",
        "status": "failed",
        "counts": counts,
        "failure_code": "RS005",
        "failure_reason": "more than 30% rejected",
    }

    assert summary(failed).plain.splitlines()[0] == (
        "batch b1: failed - 3 records, 2 rejected: nothing recorded (1 would have been accepted, 0 unchanged)"
    )
    assert count_cell(counts, "accepted", failed=True) == "(1)"
    assert count_cell(counts, "rejected", failed=True) == "2"
    assert count_cell(counts, "accepted") == "1"
    assert count_cell({**counts, "no_ops": 4}, "no_ops", failed=True) == "(4)"  # not added either, as MI counts it


def test_plr_show_with_history_lists_each_version_under_its_achievement() -> None:
    event = {
        "subject_code": "100/5006/1",
        "subject": "Mathematics",
        "grade": "Merit",
        "status": "F",
        "achievement_award_date": "2025-08-21",
        "awarding_organisation_name": "Pearson",
        "source": "AO",
        "history": [
            {"version": 1, "change": "recorded", "occurred_at": "2025-08-22T09:00:00Z", "grade": "Pass", "status": "F"},
            {"version": 2, "change": "updated", "occurred_at": "2025-09-01T10:30:00Z", "grade": "Merit", "status": "F"},
        ],
    }
    console = Console(width=200, record=True)
    for part in plr_table({"uln": "1000000043", "learning_events": [event]}):
        console.print(part)
    lines = [line for line in console.export_text().splitlines() if " v1 " in line or " v2 " in line]

    assert len(lines) == 2
    assert "v1 recorded 22 Aug 2025, 10:00 (UK time)" in lines[0] and "Pass" in lines[0]
    assert "v2 updated 1 Sep 2025, 11:30 (UK time)" in lines[1] and "Merit" in lines[1]


def test_a_plr_of_a_uln_whose_check_digit_is_wrong_is_a_usage_error_before_any_service_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No learner can have it: "no achievements" would hide the typo."""
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://127.0.0.1:9")  # nothing listens there

    code = main(["plr", "show", "1000000044"])

    assert code == ExitCode.USAGE
    assert "the check digit of ULN 1000000044 is wrong (RV002)" in capsys.readouterr().err


def test_a_plr_of_the_temporary_uln_says_rv003_as_the_rules_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://127.0.0.1:9")  # nothing listens there

    assert main(["plr", "show", "9999999999"]) == ExitCode.USAGE
    assert "ULN 9999999999 is the temporary ULN (RV003)" in capsys.readouterr().err


FULLWIDTH_ULN = "".join(chr(0xFF10 + int(digit)) for digit in "1000000043")  # digits to str.isdigit, not to RV001


@pytest.mark.parametrize("uln", ["12345", "0123456789", "10000000431", FULLWIDTH_ULN])
def test_a_plr_of_a_badly_formed_uln_is_a_usage_error_before_any_service_is_asked(
    uln: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://127.0.0.1:9")  # nothing listens there

    code = main(["plr", "show", uln])

    assert code == ExitCode.USAGE
    assert "is badly formed (RV001): a ULN is 10 digits, the first not 0" in capsys.readouterr().err


def test_a_refusal_names_the_line_and_only_a_column_it_was_given() -> None:
    def refused(**where: int) -> str:
        body = {"code": "RS001", "title": "The file is malformed", "detail": "a NUL", **where}
        return problem_text(httpx.Response(422, json=body))

    assert refused(line=1).endswith("a NUL (line 1).")
    assert refused(line=3, column=7).endswith("a NUL (line 3, column 7).")
    assert refused().endswith("a NUL.")


def test_a_code_the_status_already_says_is_not_repeated_and_a_specific_one_is_shown() -> None:
    generic = {"code": "NOT_FOUND", "title": "Not found", "detail": "There is no batch b1 for this caller."}
    specific = {"code": "PROVIDER_NOT_LINKED", "title": "Forbidden", "detail": "Not linked."}

    assert (
        problem_text(httpx.Response(404, json=generic))
        == "HTTP 404: Not found: there is no batch b1 that your API key can see."
    )
    assert problem_text(httpx.Response(403, json=specific)) == "HTTP 403: PROVIDER_NOT_LINKED - Forbidden: not linked."


def test_a_detail_that_says_the_title_already_is_said_once() -> None:
    too_many = {
        "code": "RS003",
        "title": "The file has more than 10,000 records",
        "detail": "the file has more than 10,000 records",
        "line": 10_003,
    }
    assert (
        problem_text(httpx.Response(422, json=too_many))
        == "HTTP 422: RS003 - The file has more than 10,000 records (line 10003)."
    )


def test_a_batch_sent_during_maintenance_says_it_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --wait the AO would see only the batch id, not that its batch waits for the window to end."""
    notice = {"reason": "broker upgrade", "message": "will be validated after 18:00 UTC"}

    def queued(connection: object, file: str, idempotency_key: str | None) -> dict[str, object]:
        return {
            "batch_id": "6f1c3a52-9b7e-4a0e-8f57-0c3c1b9a2d41",
            "status": "queued",
            "maintenance": notice,
            "replay": False,
        }

    monkeypatch.setattr(batch_commands, "submit", queued)

    assert main(["batch", "submit", str(SAMPLE)]) == ExitCode.OK
    captured = capsys.readouterr()
    assert captured.out.strip() == "6f1c3a52-9b7e-4a0e-8f57-0c3c1b9a2d41"
    assert "held by maintenance (broker upgrade): it will be validated after 18:00 UTC" in captured.err


def test_one_warning_is_a_warning() -> None:
    batch = {"batch_id": "b2", "status": "completed", "counts": {"total": 1, "accepted": 1, "warnings": 1}}
    assert summary(batch).plain.endswith("1 accepted, 0 rejected, 0 unchanged, 1 warning")


def test_one_record_is_a_record() -> None:
    batch = {"batch_id": "b2", "status": "completed", "counts": {"total": 1, "accepted": 1}}
    assert summary(batch).plain.startswith("batch b2: completed - 1 record, 1 accepted")


def test_an_erasure_promises_no_more_than_the_backups_allow() -> None:
    erasure = {"erasure_id": 7, "erased_by": "operator:dpo", "erased_at": "2026-12-03T09:00:00Z", "uln": "******0043"}

    said = erasure_text(erasure, erased_now=True)

    assert "in any service or stored event" in said and "the backups from before that expire (30 days)" in said
    assert "the tables are rewritten (VACUUM FULL" in said
    assert "anywhere" not in said and "personal data" not in said  # names, date of birth and gender: what is shredded
    # what erasure does not reach, as docs/privacy.md and the portal's erasure page say
    not_erased = said.splitlines()[-1]
    assert not_erased.startswith("not erased: emails already sent")
    assert "a learner held only in the Sandpit" in not_erased and "before decision 0080" in not_erased
    assert "nothing changed" in erasure_text(erasure, erased_now=False)


def test_an_erasure_names_the_same_persons_other_ulns_it_erased_with_them() -> None:
    """Erasing a merged ULN erases the person's every ULN: the operator is told which, not left to find it out."""
    erasure = {"erasure_id": 7, "erased_by": "operator:dpo", "erased_at": "2026-12-03T09:00:00Z", "uln": "4751158642"}

    said = erasure_text({**erasure, "erased_with": ["5449721047"]}, erased_now=True)
    again = erasure_text({**erasure, "erased_with": ["5449721047"]}, erased_now=False)

    assert "the same person's other ULN (merged), erased with them, each audited: 5449721047" in said
    assert "5449721047" in again and "erased with them" not in erasure_text(erasure, erased_now=True)


def test_a_record_line_names_fields_as_the_batchs_file_does() -> None:
    record = {
        "line": 3,
        "status": "rejected",
        "mis_identifier": "M-3",
        "errors": [{"code": "RV006", "field": "award_date", "message": "AwardDate is in the future."}],
        "warnings": [],
    }

    assert "RV006 awardDate: awardDate is in the future." in record_line(record, BatchFormat.JSON).plain
    assert "RV006 AwardDate: AwardDate is in the future." in record_line(record, BatchFormat.CSV).plain
    assert "RV006 AwardDate: AwardDate is in the future." in record_line(record).plain  # unknown: as the rules say


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["challenges", "ack", "not-a-uuid"], "a challenge id is a UUID"),
        (["challenges", "raise", "42", "--reason", "wrong grade"], "an achievement id is a UUID"),
        (["maintenance", "cancel", "not-a-uuid"], "a window id is a UUID"),
        (["sandpit", "reset-status", "not-a-uuid"], "a reset id is a UUID"),
        (["batch", "status", "not-a-uuid"], "a batch id is a UUID"),
    ],
)
def test_an_id_that_is_not_a_uuid_is_a_usage_error_before_any_service_is_asked(
    arguments: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    for service in ("CHALLENGES", "INGEST"):
        monkeypatch.setenv(f"LRS_{service}_URL", "http://127.0.0.1:9")  # nothing listens there

    assert main(arguments) == ExitCode.USAGE
    assert says in " ".join(capsys.readouterr().err.split())


def test_a_wait_cut_short_still_gives_the_batch_it_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ingest gone between the 202 and the wait: the batch exists, so its id is printed, and how to follow it."""

    def accepted(connection: object, file: str, idempotency_key: str | None) -> dict[str, object]:
        return {"batch_id": "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11", "status": "accepted", "replay": False}

    monkeypatch.setattr(batch_commands, "submit", accepted)
    monkeypatch.setenv("LRS_INGEST_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("LRS_API_KEY", "lrs_live_an_ao_key")

    assert main(["batch", "submit", str(SAMPLE), "--wait", "5"]) == ExitCode.UNREACHABLE
    captured = capsys.readouterr()
    assert captured.out.strip() == "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"
    assert "follow it with: lrs batch status 0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11" in captured.err
