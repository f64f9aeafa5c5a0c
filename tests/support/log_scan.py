"""Personal data in test logs (DESIGN.md §5 invariant 7), found after the run and failing it.

Every log a test run writes lands under one directory, `$LRS_TEST_LOG_DIR` (default
`.run/test-logs/<run>`; pytest's temporary directories are put there too, so service logs written
under `tmp_path` are included). At the end of the session every `*.log` file there, and every log
record pytest captured, is searched for the full ULNs, given and family names and dates of birth of
the sample learners (`reference/sample-learners.csv`) and of every learner the test helpers made.
A hit is reported as file:line with the value masked; masked ULNs (`******1234`) are not hits.
The log of the PostgreSQL server the run's `scripts/dev/with-infra.sh` started is searched too
(`$LRS_POSTGRES_SERVER_LOG`): an error's DETAIL there would quote a refused key's full ULN.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LEARNERS = ROOT / "reference" / "sample-learners.csv"
LOG_DIR_VARIABLE = "LRS_TEST_LOG_DIR"
# the log of the PostgreSQL server `scripts/dev/with-infra.sh` started for the run, when it started one
POSTGRES_SERVER_LOG_VARIABLE = "LRS_POSTGRES_SERVER_LOG"
RUNS_KEPT = 10

_TEN_DIGITS = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")
_DATE = re.compile(r"(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
# "INFO     httpx:_client.py:1740 HTTP Request: ...": pytest's format of a captured log record
_CAPTURED_RECORD = re.compile(r"^[A-Z]+ +([\w.]+):")
# the tests' own HTTP clients log every URL they call (a learner's PLR URL has the ULN in it): the
# test is the caller there, not the system
TEST_CLIENT_LOGGERS = ("httpx", "httpcore")


def run_log_dir() -> Path:
    """Where this test run's logs go: `$LRS_TEST_LOG_DIR`, else a fresh directory under .run/test-logs."""
    configured = os.environ.get(LOG_DIR_VARIABLE)
    if configured:
        return Path(configured)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = ROOT / ".run" / "test-logs" / f"{stamp}-{os.getpid()}"
    os.environ[LOG_DIR_VARIABLE] = str(directory)
    return directory


def prune_old_runs(parent: Path, keep: int = RUNS_KEPT, older_than_hours: float = 6.0) -> None:
    """Removes all but the newest runs; never one younger than a few hours (it may still be running)."""
    if not parent.is_dir():
        return
    runs = sorted((path for path in parent.iterdir() if path.is_dir()), key=lambda path: path.stat().st_mtime)
    cutoff = time.time() - older_than_hours * 3600
    for run in runs[:-keep]:
        if run.stat().st_mtime < cutoff:
            shutil.rmtree(run, ignore_errors=True)


@dataclass
class PersonalData:
    """What must never be in a log: the test learners' full ULNs, names and dates of birth."""

    ulns: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    dates_of_birth: set[str] = field(default_factory=set)

    def add(self, *, uln: str | None = None, names: Iterable[str] = (), date_of_birth: str | None = None) -> None:
        if uln:
            self.ulns.add(uln)
        # a name is looked for as a whole word; one or two letters would match too much that is not a name
        self.names.update(name for name in names if len(name) > 2)
        if date_of_birth:
            self.dates_of_birth.add(date_of_birth)

    def add_learner(self, learner: dict[str, str]) -> None:
        self.add(
            uln=learner.get("uln"),
            names=(learner.get("given_name", ""), learner.get("family_name", "")),
            date_of_birth=learner.get("date_of_birth"),
        )

    @classmethod
    def of_sample_learners(cls, text: str) -> PersonalData:
        found = cls()
        for row in csv.DictReader(io.StringIO(text)):
            found.add(
                uln=row["ULN"], names=(row["GivenName"], row["FamilyName"]), date_of_birth=row["DateOfBirth"] or None
            )
        return found


@dataclass(frozen=True)
class Hit:
    where: str  # file:line, or the test and section for captured output
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.masked}"


def _masked(kind: str, value: str) -> str:
    if kind == "full ULN":
        return "******" + value[-4:]
    if kind == "date of birth":
        return "****-**-**"
    return value[0] + "*" * (len(value) - 1)


def hits_in_line(line: str, known: PersonalData) -> Iterator[tuple[str, str]]:
    """(kind, masked value) of every piece of personal data in one line."""
    for match in _TEN_DIGITS.finditer(line):
        if match.group() in known.ulns:
            yield "full ULN", _masked("full ULN", match.group())
    for match in _DATE.finditer(line):
        if match.group() in known.dates_of_birth:
            yield "date of birth", _masked("date of birth", match.group())
    for match in _WORD.finditer(line):
        if match.group() in known.names:
            yield "name", _masked("name", match.group())


def scan_lines(lines: Iterable[str], where: str, known: PersonalData) -> list[Hit]:
    return [
        Hit(f"{where}:{number}", kind, masked)
        for number, line in enumerate(lines, start=1)
        for kind, masked in hits_in_line(line, known)
    ]


def scan_file(path: Path, known: PersonalData, relative_to: Path = ROOT) -> list[Hit]:
    shown = path.relative_to(relative_to) if path.is_relative_to(relative_to) else path
    with path.open(encoding="utf-8", errors="replace") as lines:
        return scan_lines(lines, str(shown), known)


def scan_directory(directory: Path, known: PersonalData, relative_to: Path = ROOT) -> list[Hit]:
    return [hit for path in sorted(directory.rglob("*.log")) for hit in scan_file(path, known, relative_to)]


def _is_log_record(line: str) -> bool:
    """A structlog JSON line: what services print when they run inside the test process."""
    if not line.startswith("{"):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "event" in record and "level" in record


def _is_system_record(line: str) -> bool:
    logger = _CAPTURED_RECORD.match(line)
    return logger is None or logger.group(1).split(".")[0] not in TEST_CLIENT_LOGGERS


def scan_captured(nodeid: str, sections: Iterable[tuple[str, str]], known: PersonalData) -> list[Hit]:
    """Log records pytest captured for one test: its 'Captured log' sections (but for the records of
    the test's own HTTP clients), and the JSON log lines among its captured output (other output, a
    CLI's answer say, is not a log)."""
    hits: list[Hit] = []
    for title, content in sections:
        lines = content.splitlines()
        if "log" in title.lower():
            lines = [line if _is_system_record(line) else "" for line in lines]
        else:
            lines = [line if _is_log_record(line) else "" for line in lines]
        hits.extend(scan_lines(lines, f"{nodeid} [{title}]", known))
    return hits


def record_learners_made_by(module: ModuleType, function: str, known: PersonalData) -> None:
    """Wraps a test helper so that every learner (dict) or ULN (str) it returns is looked for too."""
    original: Callable[..., Any] = getattr(module, function)

    def recording(*args: Any, **kwargs: Any) -> Any:
        made = original(*args, **kwargs)
        if isinstance(made, dict):
            known.add_learner(made)
        elif isinstance(made, str):
            known.add(uln=made)
        return made

    recording.__wrapped__ = original  # type: ignore[attr-defined]
    recording.__doc__ = original.__doc__
    setattr(module, function, recording)


class LogScan:
    """The pytest plugin: collects hits from captured output as tests run, scans the files at the end."""

    def __init__(self, log_dir: Path, known: PersonalData) -> None:
        self.log_dir = log_dir
        self.known = known
        self.hits: list[Hit] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.hits.extend(scan_captured(report.nodeid, report.sections, self.known))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.log_dir.is_dir():
            self.hits.extend(scan_directory(self.log_dir, self.known))
        server_log = os.environ.get(POSTGRES_SERVER_LOG_VARIABLE)
        if server_log and Path(server_log).is_file():
            self.hits.extend(scan_file(Path(server_log), self.known))
        if self.hits:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", f"personal-data log scan of {self.log_dir}")
        if not self.hits:
            terminalreporter.write_line(
                f"no full ULN, name or date of birth of {len(self.known.ulns)} test learners in any log"
            )
            return
        terminalreporter.write_line(f"{len(self.hits)} hits of test learners' personal data in logs:", red=True)
        for hit in self.hits[:200]:
            terminalreporter.write_line(f"  {hit}")
        if len(self.hits) > 200:
            terminalreporter.write_line(f"  ... and {len(self.hits) - 200} more")
