"""Keyset pages: a list continues after the last row its previous page showed, not after N rows.

A list ordered by (a time, an id) hands out with each full page the position of its last row as an
opaque token (`next`); the next request passes it back (`after`) and reads only the rows beyond it.
Unlike an offset, the position stays right while rows are added at the list's head, and a page reads
about its own rows however deep in the list it is (decision 0118).

The token names a place in the caller's own list, never a row to fetch: every filter that limits what
the caller may see still applies, so a token made up by hand shows nothing it could not list anyway.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

Row = TypeVar("Row")


class InvalidPageToken(ValueError):
    """An `after` that no page of this list handed out."""


@dataclass(frozen=True)
class PagePosition:
    """The last row of a page, as the list orders its rows: its time and its id."""

    at: datetime
    id: uuid.UUID

    def token(self) -> str:
        return base64.urlsafe_b64encode(f"{self.at.isoformat()}|{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def of_token(cls, token: str) -> PagePosition:
        refused = InvalidPageToken(
            "query.after: not a page position this list handed out: pass back its `next` as it is"
        )
        try:
            at, row_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("|")
            position = cls(datetime.fromisoformat(at), uuid.UUID(row_id))
            if position.at.tzinfo is None:
                raise ValueError("a time without its offset")
            # an instant whose UTC form is outside years 1 to 9999 is no row's time, and cannot be sent
            position.at.astimezone(UTC)
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as error:
            raise refused from error
        return position


def beyond(
    position: PagePosition, *, at: str, row_id: str, newest_first: bool, first: int = 1
) -> tuple[list[str], list[object]]:
    """The conditions (for `where_given`'s `also`) that keep only the rows after `position` in a list
    ordered by `at` (descending when `newest_first`) then `row_id` ascending, and their arguments,
    numbered from `$first`. The first condition bounds the time alone, so an index in the list's
    order starts its scan at the position."""
    earlier_or_later = "<" if newest_first else ">"
    conditions = [
        f"{at} {earlier_or_later}= ${first}",
        f"({at} {earlier_or_later} ${first} OR {row_id} > ${first + 1})",
    ]
    return conditions, [position.at, position.id]


def split_page(
    found: Sequence[Row], limit: int, position_of: Callable[[Row], PagePosition]
) -> tuple[list[Row], PagePosition | None]:
    """The first `limit` of `found` (read one beyond a page, to tell whether another follows), and where
    the next page starts: after the last row shown, or None when this page is the list's last."""
    if len(found) <= limit:
        return list(found), None
    return list(found[:limit]), position_of(found[limit - 1])
