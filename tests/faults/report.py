"""The fault table: printed, saved as JSON, and written into docs/reliability.md between markers."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.faults.matrix import RowResult

ROOT = Path(__file__).resolve().parents[2]
RELIABILITY_DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- fault-table:begin -->", "<!-- fault-table:end -->"
FUZZ_BEGIN, FUZZ_END = "<!-- fuzz-summary:begin -->", "<!-- fuzz-summary:end -->"


def _emails(row: RowResult) -> str:
    counts = sorted(set(row.emails_per_notification.values()))
    if not counts:
        return "-"
    text = str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    return f"{text} ({len(row.emails_per_notification)} notif.)"


def table(rows: list[RowResult]) -> str:
    lines = [
        "| # | fault | injected at (planned → observed) | records | lost | duplicated | emails per notification"
        " | recover (s) | result |",
        "|---|---|---|---:|---:|---:|---|---:|---|",
    ]
    for number, row in enumerate(rows, start=1):
        recover = "—" if row.recover_seconds is None else f"{row.recover_seconds:.1f}"
        verdict = "pass" if row.passed else "**FAIL**"
        if row.notes:
            verdict += " — " + "; ".join(row.notes).replace("|", "/")
        lines.append(
            f"| {number} | {row.fault} | {row.point} → {row.observed.replace('|', '/')} | {row.records}"
            f" | {row.lost} | {row.duplicated} | {_emails(row)} | {recover} | {verdict} |"
        )
    return "\n".join(lines)


def document(rows: list[RowResult], *, records_per_batch: int, when: datetime | None = None) -> dict[str, Any]:
    return {
        "run_at": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "records_per_batch": records_per_batch,
        "passed": all(row.passed for row in rows),
        "rows": [row.as_json() for row in rows],
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def replace_between_markers(text: str, replacement: str, begin: str = BEGIN, end: str = END) -> str:
    """The text with everything between the markers replaced; reruns replace the previous table."""
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + replacement.strip("\n") + "\n" + text[stop:]


def update_reliability_doc(rows: list[RowResult], result: dict[str, Any], path: Path = RELIABILITY_DOC) -> None:
    summary = (
        f"Run {result['run_at']} on {result['machine']['cpus']} CPUs, {result['records_per_batch']:,} records per"
        f" batch: **{'every row passed' if result['passed'] else 'SOME ROWS FAILED'}**."
    )
    path.write_text(replace_between_markers(path.read_text(), f"{summary}\n\n{table(rows)}\n"))


def update_fuzz_summary(summary: str, normal_batch_passed: bool, path: Path = RELIABILITY_DOC) -> None:
    after = (
        "the normal batch submitted last completed, nothing lost or doubled, one email per notification"
        if normal_batch_passed
        else "**the normal batch submitted last did NOT complete cleanly**"
    )
    text = f"Run {datetime.now(UTC).isoformat(timespec='seconds')}: {summary}; afterwards {after}."
    path.write_text(replace_between_markers(path.read_text(), text, FUZZ_BEGIN, FUZZ_END))
