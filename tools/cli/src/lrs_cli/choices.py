"""A value one of a fixed set names (an enum), parsed so that any other value is a usage error said plainly:
"--state must be one of raised, acknowledged, resolved, not 'bogus'". Typer's own message for an enum is
pydantic's ("Invalid value for '--state': Value error, 'bogus' is not one of …")."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

import typer

Choice = TypeVar("Choice", bound=StrEnum)


class NotAChoice(typer.BadParameter):
    """Said as it is, after Typer's usage line, without "Invalid value for '--state':" before it."""

    def format_message(self) -> str:
        return self.message


def one_of(choices: type[Choice], named: str) -> Callable[[str | Choice], Choice]:
    """A parser for an option or argument (`parser=`) whose value is one of `choices`; `named` is how the usage
    error names it (`--state`, `the step`). Typer's help still lists the choices."""

    def parse(value: str | Choice) -> Choice:
        try:
            return choices(value)
        except ValueError:
            names = ", ".join(choice.value for choice in choices)
            raise NotAChoice(f"{named} must be one of {names}, not {str(value)!r}") from None

    return parse
