"""The docs name only commands and files that exist: every `lrs ...` command in README.md and docs/**/*.md is
a command of the CLI, every repository path and relative link is on disk, and docs/rules.md's code tables
are the code catalogue's."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from scripts.dev.export_code_tables import RULES, render_rules

from lrs_cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
TOP_LEVEL = (
    "contracts",
    "libs",
    "services",
    "tools",
    "tests",
    "docs",
    "scripts",
    "deploy",
    "samples",
    "reference",
    "bench",
)

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_COMMAND = re.compile(r"(?:^\s*(?:\$\s+)?|[;&|(]\s*)(?:\.venv/bin/)?lrs((?: +[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*)+)")
_PATH = re.compile(rf"^(?:{'|'.join(TOP_LEVEL)})/[A-Za-z0-9_./-]*$")


def _relative(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


@cache
def _cli() -> Any:
    return typer.main.get_command(app)


def _subcommands(command: Any) -> dict[str, Any] | None:
    """A group's commands by name; None for a leaf command."""
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def unknown_subcommand(words: list[str]) -> str | None:
    """The first word naming no command where a command is expected (alternatives `a|b` each checked)."""
    commands: list[Any] = [_cli()]
    for word in words:
        groups = [group for command in commands if (group := _subcommands(command)) is not None]
        if not groups:
            return None  # a leaf command: the rest are its arguments
        commands = []
        for alternative in word.split("|"):
            found = [group[alternative] for group in groups if alternative in group]
            if not found:
                return alternative
            commands += found
    return None


def commands_in(text: str) -> list[str]:
    blocks = [block for block in _FENCE.findall(text)]
    spans = _SPAN.findall(_FENCE.sub("", text))
    found = []
    for source in [*blocks, *spans]:
        for line in source.splitlines():
            if line.lstrip().startswith("#"):
                continue
            found += [match.group(1).strip() for match in _COMMAND.finditer(line.split(" #")[0])]
    return found


def paths_in(doc: Path, text: str) -> list[tuple[str, Path]]:
    """Repository paths in code spans (from the root) and relative Markdown links (from the doc)."""
    found: list[tuple[str, Path]] = []
    for span in _SPAN.findall(text):
        candidate = span.strip().rstrip(".,:;")
        if _PATH.match(candidate) and not re.search(r"[<>*{}]|\.\.\.", candidate):
            found.append((candidate, ROOT / candidate.split("::")[0].split(":")[0]))
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#")[0]
        if path:
            found.append((target, (doc.parent / path).resolve()))
    return found


def _exists(path: Path) -> bool:
    """On disk; a decision may be named by its number alone (`docs/decisions/0010`)."""
    if path.exists():
        return True
    return path.parent.name == "decisions" and any(path.parent.glob(f"{path.name}-*.md"))


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_lrs_command_named_in_the_docs_exists(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    wrong = {command: bad for command in commands_in(text) if (bad := unknown_subcommand(command.split()))}
    assert not wrong, f"{_relative(doc)} names lrs commands that do not exist: {wrong}"


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_repository_path_and_link_in_the_docs_exists(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = sorted({named for named, path in paths_in(doc, text) if not _exists(path)})
    assert not missing, f"{_relative(doc)} names paths that do not exist: {missing}"


def test_the_checks_find_what_they_look_for() -> None:
    assert unknown_subcommand(["batch", "submit", "samples/sample-100.csv"]) is None
    assert unknown_subcommand(["dlq", "list|retry|skip"]) is None
    assert unknown_subcommand(["batch", "sumbit"]) == "sumbit"
    assert unknown_subcommand(["dlq", "list|purge"]) == "purge"
    assert commands_in("run `lrs plr show 1000000043` then\n```\n.venv/bin/lrs batch list  # all\n```") == [
        "batch list",
        "plr show",
    ]
    assert commands_in("```\nkubectl -n lrs wait cluster/db\nmake up && lrs dlq list\n```") == ["dlq list"]
    assert _exists(ROOT / "docs" / "decisions" / "0010") and not _exists(ROOT / "docs" / "decisions" / "0999")
    readme = ROOT / "README.md"
    assert [named for named, _ in paths_in(readme, "see `docs/rules.md` and [ops](docs/operations.md#x)")] == [
        "docs/rules.md",
        "docs/operations.md#x",
    ]


def test_the_code_tables_of_docs_rules_are_the_code_catalogue() -> None:
    text = RULES.read_text(encoding="utf-8")
    assert render_rules(text) == text, "docs/rules.md's code tables drifted: run scripts/dev/export_code_tables.py"
