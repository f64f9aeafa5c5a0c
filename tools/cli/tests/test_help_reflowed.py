"""A group's list of commands shows each command's first paragraph wrapped at the terminal's width: the line
breaks of its docstring are not kept (Typer's rich help kept them there, breaking lines raggedly: `.csv,` alone
on a line of `lrs batch --help`)."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main, reflowed


@pytest.mark.parametrize(
    ("group", "said"),
    [
        ("batch", "2 if its format cannot be told (name it .csv, .xml or .json)."),
        ("batch", "A file over 6 MB is refused here, before anything is sent"),
        ("plr", "for an employer or college to check with `lrs plr verify FILE"),
        ("learners", "refused when the master is already merged into the other"),
    ],
)
def test_a_groups_list_of_commands_wraps_each_at_the_terminals_width(
    group: str, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # wide enough for every first paragraph on one line

    assert main([group, "--help"]) == ExitCode.OK

    assert said in capsys.readouterr().out


def test_a_docstring_keeps_its_paragraphs_and_loses_its_line_breaks() -> None:
    assert reflowed("First line\n    goes on.\n\n    Second  paragraph\n    too.") == (
        "First line goes on.\n\nSecond paragraph too."
    )
