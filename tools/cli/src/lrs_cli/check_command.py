"""`lrs batch check FILE`: the Batch Toolkit — every rule that needs no server, before submitting.

It parses the file with the service's own parsers and judges it with the service's own rules
(`lrs_domain`), against the shipped catalogue, so what it reports is what the service would say
about the same records, except the checks that need the server (learner registry, achievement state).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lrs_cli.client import CommandError
from lrs_contracts.codes import REJECTION_THRESHOLD
from lrs_contracts.outcomes import RecordOutcome, RecordStatus
from lrs_domain.decision import OfflineReport, check_batch_offline
from lrs_domain.formats import detect_format, parse_batch
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.reference_files import load_catalogue


def check(file: str, reference_dir: str | None) -> str:
    path = Path(file)
    content = path.read_bytes()
    fmt = detect_format(None, path.name, content[:512])
    if fmt is None:
        raise CommandError(f"cannot tell the format of {path.name}: use .csv, .xml or .json")
    try:
        parsed = parse_batch(content, fmt)
    except BatchRefused as refused:
        where = (
            f" at line {refused.line}" + (f", column {refused.column}" if refused.column else "")
            if refused.line
            else ""
        )
        raise CommandError(f"{refused.code.value}: the whole file is refused{where}: {refused.detail}") from refused
    catalogue = load_catalogue(Path(reference_dir) if reference_dir else None)
    today = datetime.now(ZoneInfo("Europe/London")).date()
    report = check_batch_offline(parsed.header, parsed.records, catalogue, today)
    return render(path.name, report)


def render(name: str, report: OfflineReport) -> str:
    counts = report.counts
    lines = [f"{name}: {counts.total} records"]
    for outcome in report.outcomes:
        if outcome.status is RecordStatus.REJECTED or outcome.warnings:
            lines.extend(_outcome_lines(outcome))
    rejected_share = counts.rejected / counts.total if counts.total else 0.0
    lines.append(
        f"{counts.accepted} would be accepted, {counts.rejected} rejected ({rejected_share:.1%}),"
        f" {counts.warnings} warnings"
    )
    if report.failure is not None:
        lines.append(
            f"PROJECTED OUTCOME: the whole batch fails with {report.failure.code.value}: {report.failure.reason}"
        )
    else:
        lines.append(
            f"PROJECTED OUTCOME: passes the RS005 threshold (more than {REJECTION_THRESHOLD:.0%} rejected fails)"
        )
    lines.append("Not checked offline: learner verification (RV004) and achievement state (RV012-RV017).")
    return "\n".join(lines)


def _outcome_lines(outcome: RecordOutcome) -> list[str]:
    mis = f" [{outcome.mis_identifier}]" if outcome.mis_identifier else ""
    head = f"line {outcome.line}{mis}: {outcome.status.value}"
    return [head] + [
        f"    {finding.code}{' ' + finding.field if finding.field else ''}: {finding.message}"
        for finding in (*outcome.errors, *outcome.warnings)
    ]
