"""What the CLI prints: Rich for people (colour only on a terminal), JSON for scripts, progress on stderr."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from lrs_cli.client import Connection, UsageError
from lrs_contracts.environments import Environment

UNLIMITED_WIDTH = 10_000  # piped output is never wrapped: a line is one record


def stdout() -> Console:
    """A console on the current sys.stdout; Rich leaves out colour when it is not a terminal."""
    terminal = sys.stdout.isatty()
    return Console(
        file=sys.stdout,
        highlight=False,
        emoji=False,  # ":warning:" in a name or a code stays as written
        soft_wrap=not terminal,
        width=None if terminal else UNLIMITED_WIDTH,
    )


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, emoji=False, soft_wrap=True)


def tell_more(next_position: str | None) -> None:
    """After a page of a list, how to read the next one (on stderr: stdout stays the page, table or JSON)."""
    if next_position:
        stderr().print(f"more: the same command with --after {next_position}")


_environment: ContextVar[Environment] = ContextVar("lrs_environment", default=Environment.LIVE)


def mark_environment(environment: Environment) -> None:
    """Outside live, every JSON object printed (each item of a list) says which environment it came from,
    and people see a SANDPIT banner on stderr, so stdout stays what scripts parse."""
    _environment.set(environment)
    if environment is not Environment.LIVE:
        stderr().print(
            f"{environment.value.upper()}: a rehearsal environment; nothing here reaches a live PLR",
            style="bold black on yellow",
            markup=False,
        )


def _marked(value: Any, environment: Environment) -> Any:
    if isinstance(value, dict):
        return {"environment": environment.value, **value}
    if isinstance(value, list):
        return [_marked(item, environment) if isinstance(item, dict) else item for item in value]
    return value


def print_json(value: Any, *, one_line: bool = False) -> None:
    """`value` as JSON, indented; `one_line`: on one line (JSON Lines, one object for each of several things)."""
    environment = _environment.get()
    marked = value if environment is Environment.LIVE else _marked(value, environment)
    sys.stdout.write(orjson.dumps(marked, option=None if one_line else orjson.OPT_INDENT_2).decode() + "\n")


def print_text(text: str, style: str | None = None) -> None:
    """Plain text (never read as Rich markup: codes and MIS identifiers hold brackets)."""
    stdout().print(text, style=style, markup=False)


def warn(text: str) -> None:
    stderr().print(f"lrs: {text}", style="yellow", markup=False)


REPLAY_COUNTS = (
    ("applied", "applied"),
    ("duplicates", "duplicates"),
    ("skipped", "skipped"),
    ("still_parked", "still parked"),
)


def replay_text(results: list[dict[str, Any]]) -> str:
    """One line per replayed topic (after its consumer, where a service has several): the counts its service
    reports, then the first error that left messages parked."""
    lines = []
    for result in results:
        source = f"{result['consumer']} {result['topic']}" if "consumer" in result else result["topic"]
        counts = ", ".join(f"{label} {result[key]}" for key, label in REPLAY_COUNTS if key in result)
        first_error = f" - first error: {result['error']}" if result.get("error") else ""
        lines.append(f"{source}: {counts}{first_error}")
    return "\n".join(lines)


def table(*columns: str, title: str | None = None) -> Table:
    return Table(*columns, title=title, header_style="bold", title_justify="left")


def print_listing(
    items: Sequence[dict[str, Any]],
    *,
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[RenderableType]],
    none: str,
) -> None:
    """A list a service answered: as JSON, or a table of one `row` an item under `columns` (`none` when empty)."""
    if as_json:
        print_json(items)
        return
    listing = table(*columns)
    for item in items:
        listing.add_row(*row(item))
    stdout().print(listing if items else none)


def confirmed(cannot_undo: str, question: Callable[[], str | None]) -> None:
    """Goes on once the person at the terminal said yes to `question()` (made only then: it may ask a service; None
    when there is nothing to ask about), and aborts on no (exit 1). Not on a terminal nobody can be asked: a usage
    error (exit 2) saying `cannot_undo` and that --yes confirms it (with --yes a command does not call this). A
    standard input closed (`<&-`: sys.stdin is None) is no terminal either."""
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError(f"{cannot_undo}: pass --yes to confirm it when not on a terminal")
    asked = question()
    if asked is not None:
        typer.confirm(asked, abort=True)


Update = Callable[..., None]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of text and tables.")]
# a list read a page at a time (`client.read_page`), and an audit's position to go on from
PageLimit = Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")]
AuditAfter = Annotated[
    str | None, typer.Option(help="Continue the audit: the position the previous page's last line gave.")
]


def connection(ctx: typer.Context) -> Connection:
    """The connection the `lrs` callback built from --key-file or $LRS_API_KEY."""
    found: Connection = ctx.find_root().obj
    return found


@contextmanager
def progress(description: str, total: float | None = None, *, bytes_: bool = False) -> Iterator[Update]:
    """A progress bar on stderr while something is awaited; nothing when stderr is not a terminal.

    Yields `update(completed=..., total=..., description=...)`.
    """
    console = stderr()
    columns: list[ProgressColumn] = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
    ]
    if bytes_:
        columns.append(DownloadColumn())
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)

        def update(**changes: Any) -> None:
            bar.update(task, **changes)

        yield update


def uuid_value(says: str) -> Callable[[str | None], str | None]:
    """A parameter callback for an id that is a UUID: anything else is a usage error (exit status 2) that `says`
    where the id comes from, before any service is asked (which would answer 422, exit status 1)."""

    def checked(value: str | None) -> str | None:
        if value is not None:
            try:
                uuid.UUID(value)
            except ValueError:
                raise typer.BadParameter(says) from None
        return value

    return checked


batch_id_value = uuid_value("a batch id is a UUID, as `lrs batch submit` printed it")


def counted(count: int, noun: str) -> str:
    """`1 record`, `10,000 records`: a count with its noun, singular for one."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def warnings_text(count: int) -> str:
    """`1 warning`, `0 warnings`, `2 warnings`, `1,200 warnings`."""
    return counted(count, "warning")
