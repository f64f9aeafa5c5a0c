"""`--all` on a list read a page at a time (decision 0118): every page from `--after` on (or from the start), as
`lrs batch list --all` reads its batches, so that a script gets the whole list on stdout, not a page and the next
position on stderr."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from lrs_cli.client import CommandError

EveryOption = Annotated[
    bool,
    typer.Option(
        "--all", help="Every one, page after page, whatever --limit says (with --after: from that position on)."
    ),
]


def every_page(
    read: Callable[[str | None], dict[str, Any]], items: str, after: str | None = None, *, summed: Sequence[str] = ()
) -> dict[str, Any]:
    """The pages `read(position)` gives from `after` on, as one page: the `items` of them all, the `summed` counts
    added up, and no `next`. A service that names a position it gave already would be read for ever: said instead."""
    page = read(after)
    whole = {**page, items: list(page[items])}
    seen = {after}
    while position := page.get("next"):
        if position in seen:
            raise CommandError(f"the list named the position {position} twice: it was not read to its end")
        seen.add(position)
        page = read(position)
        whole[items] += page[items]
        for count in summed:
            whole[count] += page[count]
    whole["next"] = None
    if "more" in whole:  # the first page's "there is more" said of a list now read whole
        whole["more"] = False
    return whole
