"""`confirmed`, the question `lrs learners erase` and `lrs projector rebuild switch` ask before what cannot be undone,
and `print_listing`, the table (or JSON) of `lrs learners erasures` and `lrs learners disclosures`."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import typer
from rich.text import Text

from lrs_cli.client import UsageError
from lrs_cli.output import confirmed, print_listing


class _Terminal:
    def isatty(self) -> bool:
        return True


class _Pipe:
    def isatty(self) -> bool:
        return False


class _Person:
    """At the terminal: answers each question typer's `confirm(..., abort=True)` asks, yes or (aborting) no."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, says_yes: bool) -> None:
        self.says_yes = says_yes
        self.asked: list[str] = []
        monkeypatch.setattr(typer, "confirm", self.confirm)

    def confirm(self, text: str, *, abort: bool = False) -> bool:
        self.asked.append(text)
        if abort and not self.says_yes:
            raise typer.Abort()
        return self.says_yes


def _never_made() -> str:
    raise AssertionError("the question was made")


def test_not_on_a_terminal_nothing_is_asked_or_read_and_the_refusal_says_to_pass_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", _Pipe())
    person = _Person(monkeypatch, says_yes=True)

    with pytest.raises(UsageError) as refused:
        confirmed("erasure cannot be undone", _never_made)

    assert str(refused.value) == "erasure cannot be undone: pass --yes to confirm it when not on a terminal"
    assert person.asked == []


def test_on_a_terminal_the_question_is_asked_and_a_no_aborts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal())
    agreeing = _Person(monkeypatch, says_yes=True)
    confirmed("a switch replaces the live model", lambda: "Switch?")
    assert agreeing.asked == ["Switch?"]

    declining = _Person(monkeypatch, says_yes=False)
    with pytest.raises(typer.Abort):
        confirmed("a switch replaces the live model", lambda: "Switch?")
    assert declining.asked == ["Switch?"]


def test_on_a_terminal_nothing_to_ask_about_goes_on_unasked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal())
    person = _Person(monkeypatch, says_yes=False)
    confirmed("erasure cannot be undone", lambda: None)  # a learner erased already
    assert person.asked == []


ITEMS = [
    {"at": "2026-12-03T09:00:00Z", "uln": "1000000043", "reason": "SAR [bold]1[/bold]"},
    {"at": "2026-12-02T09:00:00Z", "uln": "5449721047", "reason": "asked"},
]


def _listed(items: list[dict[str, Any]], *, as_json: bool) -> None:
    print_listing(
        items,
        as_json=as_json,
        columns=("at", "ULN", "reason"),
        row=lambda item: (item["at"], item["uln"], Text(item["reason"])),
        none="no items",
    )


def test_a_listing_is_a_table_a_row_an_item_with_its_text_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    _listed(ITEMS, as_json=False)
    assert capsys.readouterr().out == (
        "┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ at                   ┃ ULN        ┃ reason             ┃\n"
        "┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ 2026-12-03T09:00:00Z │ 1000000043 │ SAR [bold]1[/bold] │\n"
        "│ 2026-12-02T09:00:00Z │ 5449721047 │ asked              │\n"
        "└──────────────────────┴────────────┴────────────────────┘\n"
    )


def test_an_empty_listing_says_so_and_json_is_the_items_as_answered(capsys: pytest.CaptureFixture[str]) -> None:
    _listed([], as_json=False)
    assert capsys.readouterr().out == "no items\n"

    _listed([], as_json=True)
    assert capsys.readouterr().out == "[]\n"
    _listed(ITEMS[1:], as_json=True)
    assert capsys.readouterr().out == (
        '[\n  {\n    "at": "2026-12-02T09:00:00Z",\n    "uln": "5449721047",\n    "reason": "asked"\n  }\n]\n'
    )
