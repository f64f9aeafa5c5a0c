"""Help shows a value's type only beside an option that takes one: `--key-file <file>`, `--json` alone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer

from lrs_cli.client import ExitCode
from lrs_cli.main import app, main


def command_paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub_command in getattr(command, "commands", {}).items():
        yield from command_paths(sub_command, (*path, name))


EVERY_COMMAND = sorted(command_paths(typer.main.get_command(app)))


def help_of(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*path, "--help"]) == ExitCode.OK
    return capsys.readouterr().out


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda path: " ".join(("lrs", *path)))
def test_no_help_shows_a_value_beside_a_flag(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert "<bool>" not in help_of(path, capsys)


def test_options_that_take_a_value_keep_its_type_and_flags_show_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    top = types_shown(help_of((), capsys))
    listing = types_shown(help_of(("batch", "list"), capsys))

    assert top == {
        "--key-file": "<file>",
        "--sandpit": None,
        "--version": None,
        "--install-completion": None,
        "--show-completion": None,
        "--help": None,
    }
    assert listing == {
        "--ao": "<str>",
        "--status": "<received|accepted|queued|validating|completed|failed|abandoned|refused>",
        "--limit": "<int range>",
        "--all": None,
        "--after": "<str>",
        "--since": "<str>",
        "--until": "<str>",
        "--reference": "<str>",
        "--key-id": "<str>",
        "--json": None,
        "--help": None,
    }


OPTION_LINE = re.compile(r"^│ (?P<option>--[\w-]+) +(?P<type><[^>]+>)?")


def types_shown(help_text: str) -> dict[str, str | None]:
    """Each option of the help's panel, with the type shown beside it (None: none)."""
    return {found["option"]: found["type"] for line in help_text.splitlines() if (found := OPTION_LINE.match(line))}
