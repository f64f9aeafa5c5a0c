"""The personal-data log scan finds what it must (and only that), and fails the run when it does."""

from __future__ import annotations

import json
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.log_scan import (
    SAMPLE_LEARNERS,
    LogScan,
    PersonalData,
    record_learners_made_by,
    scan_captured,
    scan_directory,
)

LILY = {"uln": "1000000043", "given_name": "Lily", "family_name": "McCarthy", "date_of_birth": "1999-11-27"}


@pytest.fixture
def planted() -> Iterator[Path]:
    """Outside the run's log directory, which the session's own scan reads: these hits are planted."""
    with tempfile.TemporaryDirectory(prefix="lrs-log-scan-test.") as directory:
        yield Path(directory)


def _known() -> PersonalData:
    known = PersonalData()
    known.add_learner(LILY)
    return known


def test_a_planted_uln_name_and_date_of_birth_are_found_with_file_and_line(planted: Path) -> None:
    log = planted / "svc" / "validation.log"
    log.parent.mkdir()
    log.write_text(
        '{"event": "batch_decided", "level": "info", "uln": "******0043"}\n'
        '{"event": "record_rejected", "level": "warning", "detail": "Create,1000000043,Lily,McCarthy,1999-11-27"}\n'
    )

    hits = scan_directory(planted, _known(), relative_to=planted)

    assert [(hit.where, hit.kind) for hit in hits] == [
        ("svc/validation.log:2", "full ULN"),
        ("svc/validation.log:2", "date of birth"),
        ("svc/validation.log:2", "name"),
        ("svc/validation.log:2", "name"),
    ]
    report = "\n".join(str(hit) for hit in hits)
    for secret in ("1000000043", "Lily", "McCarthy", "1999-11-27"):
        assert secret not in report
    assert "******0043" in report


def test_masked_ulns_other_numbers_and_words_that_contain_a_name_are_not_hits(planted: Path) -> None:
    (planted / "ok.log").write_text(
        "uln ******0043 offset 10000000431 id 41000000043x Lilywhite McCarthys 1999-11-28 Lily-Rose\n"
    )
    (planted / "not-a-log.csv").write_text("1000000043,Lily,McCarthy,1999-11-27\n")

    assert scan_directory(planted, _known(), relative_to=planted) == []


def test_captured_log_records_are_scanned_but_other_output_and_the_tests_own_http_calls_are_not() -> None:
    log_line = json.dumps({"event": "learner_registered", "level": "info", "given_name": "Lily"})
    sections = [
        ("Captured stdout call", f"PLR of Lily McCarthy\n{log_line}\n"),
        (
            "Captured log call",
            "WARNING  validation.api:api.py:12 unknown learner 1000000043\n"
            'INFO     httpx:_client.py:1740 HTTP Request: GET http://127.0.0.1/v1/learners/1000000043/plr "200"\n',
        ),
    ]

    hits = scan_captured("tests/x.py::test_y", sections, _known())

    assert [(hit.where, hit.kind) for hit in hits] == [
        ("tests/x.py::test_y [Captured stdout call]:2", "name"),
        ("tests/x.py::test_y [Captured log call]:1", "full ULN"),
    ]


def test_the_sample_learners_and_the_learners_helpers_make_are_known() -> None:
    known = PersonalData.of_sample_learners(SAMPLE_LEARNERS.read_text(encoding="utf-8"))
    assert {"1000000043", "Lily", "McCarthy", "1999-11-27"} <= known.ulns | known.names | known.dates_of_birth

    helpers = types.ModuleType("helpers")
    helpers.new_learner = lambda: dict(LILY, uln="1026893096")  # type: ignore[attr-defined]
    record_learners_made_by(helpers, "new_learner", known)
    helpers.new_learner()

    assert "1026893096" in known.ulns


def test_a_hit_fails_the_session_and_the_summary_masks_it(planted: Path) -> None:
    (planted / "ingest.log").write_text("refused: McCarthy\n")
    scan = LogScan(planted, _known())
    session = types.SimpleNamespace(exitstatus=pytest.ExitCode.OK)

    scan.pytest_sessionfinish(session)  # type: ignore[arg-type]

    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    written: list[str] = []
    reporter = types.SimpleNamespace(write_sep=lambda *a, **k: None, write_line=lambda line, **k: written.append(line))
    scan.pytest_terminal_summary(reporter)
    assert any("ingest.log:1: name M*******" in line for line in written)
    assert not any("McCarthy" in line for line in written)


def test_a_clean_run_keeps_its_exit_status(planted: Path) -> None:
    (planted / "ingest.log").write_text('{"event": "batch_submitted", "uln": "******0043"}\n')
    scan = LogScan(planted, _known())
    session = types.SimpleNamespace(exitstatus=pytest.ExitCode.OK)

    scan.pytest_sessionfinish(session)  # type: ignore[arg-type]

    assert session.exitstatus == pytest.ExitCode.OK
