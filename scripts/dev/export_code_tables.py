"""Rewrites the code tables of docs/rules.md from `lrs_contracts.codes`: the rule codes' (`CODE_EXPLANATIONS`)
and the API's own problem codes' (`PROBLEM_CODE_EXPLANATIONS`), whose rows name their code in backticks.

Only the table rows change (one per code, in code order); headings and prose around them stay as written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lrs_contracts.codes import CODE_EXPLANATIONS, PROBLEM_CODE_EXPLANATIONS, BatchCode, RecordCode, WarningCode

RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
_ROW = re.compile(r"^\| (RS|RV|WV)[0-9]{3} \||^\| `[A-Z0-9_]+` \|")
_API = "API"


def table_rows(prefix: str) -> list[str]:
    if prefix == _API:
        return [
            f"| `{code}` | {explanation.meaning} | {explanation.fix} |"
            for code, explanation in PROBLEM_CODE_EXPLANATIONS.items()
        ]
    codes = {"RS": BatchCode, "RV": RecordCode, "WV": WarningCode}[prefix]
    rows = []
    for code in codes:
        explanation = CODE_EXPLANATIONS[code]
        rows.append(f"| {code.value} | {explanation.meaning} | {explanation.example} | {explanation.source} |")
    return rows


def render_rules(text: str) -> str:
    """`text` with every run of code rows replaced by the rows of the catalogue."""
    out: list[str] = []
    replaced: set[str] = set()
    for line in text.splitlines():
        match = _ROW.match(line)
        if match is None:
            out.append(line)
            continue
        prefix = match.group(1) or _API
        if prefix not in replaced:
            out.extend(table_rows(prefix))
            replaced.add(prefix)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    RULES.write_text(render_rules(RULES.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write("docs/rules.md\n")
