"""HTTP's side of keyset pages (`lrs_platform.paging`): the `after` query parameter of a paged list."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from lrs_platform.paging import InvalidPageToken, PagePosition
from lrs_platform.problems import ProblemError


def page_after(
    after: Annotated[
        str | None,
        Query(max_length=200, description="the `next` of the page before; absent or empty: the first page"),
    ] = None,
) -> PagePosition | None:
    """The position a list goes on from; 422 for one that no page handed out."""
    if not after:
        return None
    try:
        return PagePosition.of_token(after)
    except InvalidPageToken as error:
        raise ProblemError(422, "Invalid page position", str(error)) from error


PageAfter = Annotated[PagePosition | None, Depends(page_after)]
